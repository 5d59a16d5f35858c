-- env: GPT_MODEL=/nonexistent/default.gguf
-- A connection whose default model (GPT_MODEL) is missing: loading the
-- module works, every function that needs the model says why it cannot,
-- and gpt_load() then makes everything work.
.load ./sqlite_ext/gpt
SELECT gpt_generate('x');
SELECT gpt_tokenize('x');
SELECT gpt_detokenize('[1]');
SELECT gpt_token_count('x');
SELECT gpt_model_info();
SELECT * FROM gpt_next_token_probs('x');
-- NULL arguments do not need the model.
SELECT gpt_generate(NULL) IS NULL, gpt_tokenize(NULL) IS NULL;
SELECT json_extract(gpt_load(@models || '/tiny-f32.gguf'), '$.weight_type');
SELECT gpt_tokenize('Hello world');
