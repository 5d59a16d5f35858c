-- gpt_load: switching models in one connection, F32 / F16 / Q8_0 test
-- models, a failed load keeping the previous model, and gpt_model_info.
.load ./sqlite_ext/gpt
.headers on
.mode list

-- The default model comes from GPT_MODEL (tiny-f32).
SELECT json_extract(gpt_model_info(), '$.weight_type') AS default_model;
SELECT json_quote(gpt_generate('The cat', '{"max_tokens": 8, "temperature": 0}')) AS f32_greedy;

-- gpt_load returns the new model's info.
SELECT json_extract(i, '$.architecture') AS architecture,
       json_extract(i, '$.path') LIKE '%/tiny-f16.gguf' AS path,
       json_extract(i, '$.weight_type') AS weight_type,
       json_extract(i, '$.tensor_types') AS tensor_types,
       json_extract(i, '$.parameters') AS parameters,
       json_extract(i, '$.file_size') > 0 AS has_size
  FROM (SELECT gpt_load(@models || '/tiny-f16.gguf') AS i);
SELECT json_quote(gpt_generate('The cat', '{"max_tokens": 8, "temperature": 0}')) AS f16_greedy;
SELECT rank, token_id, printf('%.4f', prob) AS prob FROM gpt_next_token_probs('The cat', 3);

SELECT json_extract(gpt_load(@models || '/tiny-q8_0.gguf'), '$.tensor_types') AS q8_tensor_types;
SELECT json_extract(gpt_model_info(), '$.weight_type') AS weight_type;
SELECT json_quote(gpt_generate('The cat', '{"max_tokens": 8, "temperature": 0}')) AS q8_greedy;
SELECT rank, token_id, printf('%.4f', prob) AS prob FROM gpt_next_token_probs('The cat', 3);

-- A failed load keeps the previous model (Q8_0).
SELECT gpt_load(@tmp || '/truncated.gguf');
SELECT gpt_load(@models || '/no-such-model.gguf');
SELECT json_extract(gpt_model_info(), '$.weight_type') AS still_q8_0;

-- Back to F32: the same text as at the start.
SELECT json_extract(gpt_load(@models || '/tiny-f32.gguf'), '$.weight_type') AS weight_type;
SELECT json_quote(gpt_generate('The cat', '{"max_tokens": 8, "temperature": 0}')) AS f32_greedy_again;
-- Loading the same file twice is fine (and shares one mapping).
SELECT json_extract(gpt_load(@models || '/tiny-f32.gguf'), '$.weight_type') AS weight_type;
-- The tokenizer is the same in all three.
SELECT gpt_tokenize('讲一个“行权”和“A+”的故事') AS ids;
