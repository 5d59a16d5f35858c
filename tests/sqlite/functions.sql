-- Every SQL function of the module on its happy path, with the tiny random
-- test model (GPT_MODEL=build/models/tiny-f32.gguf, set by run.sh).  Texts
-- are shown through json_quote() so that spaces, newlines and U+FFFD are
-- visible.
.load ./sqlite_ext/gpt
.headers on
.mode list

.print '--- gpt_tokenize / gpt_detokenize / gpt_token_count'
-- GPT-2 ids: "Hello" 15496, " world" 995.
SELECT gpt_tokenize('Hello world') AS ids;
SELECT gpt_tokenize('') AS empty_ids;
SELECT gpt_tokenize(NULL) IS NULL AS null_is_null;
-- <|endoftext|> in text is ordinary text (encode_ordinary), not id 50256.
SELECT gpt_tokenize('<|endoftext|>') AS eot_as_text;
SELECT gpt_detokenize('[50256]') AS eot_id;
SELECT gpt_tokenize('讲一个“行权”和“A+”的故事') AS chinese_ids;
SELECT gpt_detokenize(gpt_tokenize('讲一个“行权”和“A+”的故事')) AS chinese_round_trip;
SELECT gpt_token_count('讲一个“行权”和“A+”的故事') AS chinese_count,
       json_array_length(gpt_tokenize('讲一个“行权”和“A+”的故事')) AS same_count;
SELECT gpt_token_count('Hello world') AS n, gpt_token_count('') AS n_empty,
       gpt_token_count(NULL) IS NULL AS null_is_null;
-- NUL bytes are text too: a blob with a NUL in the middle.
SELECT gpt_token_count(CAST(x'610062' AS TEXT)) AS with_nul;
-- One token of a multi-byte character alone is not valid UTF-8: U+FFFD.
SELECT json_quote(gpt_detokenize('[164]')) AS partial_char;
SELECT gpt_detokenize('[]') = '' AS empty, gpt_detokenize(NULL) IS NULL AS null_is_null;
SELECT gpt_detokenize(' [ 15496 , 995 ] ') AS spaced;
-- JSON1 sees the ids as a JSON array, not a string.
SELECT json_array(gpt_tokenize('Hi')) AS nested;

.print '--- gpt_generate'
-- Defaults (max_tokens 64, temperature 0.8, top_k 40, top_p 0.95, seed 0)
SELECT gpt_token_count(gpt_generate('The cat is lying on the')) AS default_max_tokens,
       json_quote(substr(gpt_generate('The cat is lying on the'), 1, 45)) AS default_options_start;
-- ... are the same as writing them out, or as {} and as NULL options.
SELECT gpt_generate('The cat is lying on the') =
       gpt_generate('The cat is lying on the',
         '{"max_tokens": 64, "temperature": 0.8, "top_k": 40, "top_p": 0.95, "seed": 0, "stop": null}')
       AS explicit_defaults,
       gpt_generate('The cat is lying on the') = gpt_generate('The cat is lying on the', '{}') AS empty_object,
       gpt_generate('The cat is lying on the') = gpt_generate('The cat is lying on the', NULL) AS null_options;
SELECT gpt_token_count(gpt_generate('The cat is lying on the', '{"max_tokens": 5}')) AS five_tokens;
SELECT json_quote(gpt_generate('The cat is lying on the', '{"max_tokens": 10, "seed": 1}')) AS seed_1;
SELECT json_quote(gpt_generate('The cat is lying on the', '{"max_tokens": 10, "seed": 2}')) AS seed_2;
SELECT gpt_generate('The cat', '{"max_tokens": 10, "seed": 1}') =
       gpt_generate('The cat', '{"max_tokens": 10, "seed": 1}') AS same_seed_same_text,
       gpt_generate('The cat', '{"max_tokens": 10, "seed": 1}') <>
       gpt_generate('The cat', '{"max_tokens": 10, "seed": 2}') AS other_seed_other_text;
-- Greedy: temperature 0 ignores the seed.
SELECT json_quote(gpt_generate('The cat is lying on the', '{"max_tokens": 10, "temperature": 0}')) AS greedy;
SELECT gpt_generate('The cat', '{"max_tokens": 10, "temperature": 0, "seed": 1}') =
       gpt_generate('The cat', '{"max_tokens": 10, "temperature": 0, "seed": 2}') AS greedy_ignores_seed;
-- top_k 1 is greedy too.
SELECT gpt_generate('The cat', '{"max_tokens": 10, "temperature": 0}') =
       gpt_generate('The cat', '{"max_tokens": 10, "top_k": 1, "seed": 5}') AS top_k_1_is_greedy;
SELECT json_quote(gpt_generate('The cat', '{"max_tokens": 10, "top_k": 0, "top_p": 1, "temperature": 1.5, "seed": 3}')) AS no_filters;
SELECT gpt_generate('The cat', '{"max_tokens": 0}') = '' AS max_tokens_0;
-- seed is a uint64: -1 is 2^64-1 (PostgreSQL's bigint -1 gives the same).
SELECT json_quote(gpt_generate('The cat', '{"max_tokens": 3, "seed": -1}')) AS seed_minus_1,
       gpt_generate('The cat', '{"max_tokens": 3, "seed": -1}') =
       gpt_generate('The cat', '{"max_tokens": 3, "seed": 18446744073709551615}') AS seed_is_uint64;
-- Empty prompt: generation starts after <|endoftext|>.
SELECT json_quote(gpt_generate('', '{"max_tokens": 8}')) AS empty_prompt;
SELECT gpt_generate(NULL) IS NULL AS null_prompt, gpt_generate(NULL, 'not even JSON') IS NULL AS null_prompt_2;
SELECT json_quote(gpt_generate('<|endoftext|>', '{"max_tokens": 8}')) AS eot_prompt;
SELECT json_quote(gpt_generate('讲一个“行权”和“A+”的故事', '{"max_tokens": 12}')) AS chinese;
-- Stop strings: the text ends before the first one (not included).
SELECT json_quote(gpt_generate('The cat', '{"max_tokens": 20, "seed": 4}')) AS no_stop;
SELECT json_quote(gpt_generate('The cat', '{"max_tokens": 20, "seed": 4, "stop": "rupt"}')) AS stop_string;
SELECT json_quote(gpt_generate('The cat', '{"max_tokens": 20, "seed": 4, "stop": ["zzz", "GMT"]}')) AS stop_array;
SELECT json_quote(gpt_generate('The cat', '{"max_tokens": 20, "seed": 4, "stop": ["GMT", "Ps Ps"]}')) AS stop_across_tokens;
SELECT json_quote(gpt_generate('The cat', '{"max_tokens": 20, "seed": 4, "stop": " Ps"}')) AS stop_at_start;
SELECT json_quote(gpt_generate('The cat', '{"max_tokens": 20, "seed": 4, "stop": []}')) AS empty_stop_array;
-- Options can be built with JSON1.
SELECT gpt_generate('The cat', json_object('max_tokens', 20, 'seed', 4)) =
       gpt_generate('The cat', '{"max_tokens": 20, "seed": 4}') AS json_object_options;
-- A prompt that fills the context but for max_tokens.
SELECT gpt_token_count(gpt_generate(printf('%0120d', 0), '{"max_tokens": 2, "seed": 1}')) <= 2 AS fits;
-- (test_python.py checks that every result is valid UTF-8: Python's
-- sqlite3 refuses to decode anything else.)

.print '--- gpt_next_token_probs'
SELECT rank, token_id, json_quote(token) AS token, hex(bytes) AS bytes,
       printf('%.6f', prob) AS prob, printf('%.6f', logprob) AS logprob
  FROM gpt_next_token_probs('The cat is lying on the', 5);
-- k defaults to 10; the hidden columns give the arguments back.
SELECT count(*) AS n, min(rank) AS first, max(rank) AS last, prompt, k
  FROM gpt_next_token_probs('The cat is lying on the');
SELECT count(*) AS n FROM gpt_next_token_probs('Hi', 10) WHERE rank <= 3;
-- prob = exp(logprob), ordered, and the same as the default k's first rows.
SELECT count(*) AS consistent FROM gpt_next_token_probs('The cat is lying on the', 20) a
  WHERE abs(exp(a.logprob) - a.prob) < 1e-12
    AND a.prob <= coalesce((SELECT prob FROM gpt_next_token_probs('The cat is lying on the', 20) b
                            WHERE b.rank = a.rank - 1), 1);
-- The whole vocabulary sums to 1; k larger than the vocabulary gives it all.
SELECT count(*) AS vocab, printf('%.9f', sum(prob)) AS total
  FROM gpt_next_token_probs('The cat', 1000000);
-- Named-column syntax, a join, NULL arguments (no rows).
SELECT rank, token_id FROM gpt_next_token_probs WHERE prompt = 'The cat' AND k = 2;
SELECT p.v AS prompt, t.rank, t.token_id
  FROM (SELECT 'A' AS v UNION ALL SELECT 'B') p, gpt_next_token_probs(p.v, 2) t
 ORDER BY p.v, t.rank;
SELECT count(*) AS null_prompt FROM gpt_next_token_probs(NULL, 3);
SELECT count(*) AS null_k FROM gpt_next_token_probs('x', NULL);
SELECT count(*) AS text_k FROM gpt_next_token_probs('x', '3');
-- Empty prompt: after <|endoftext|>.
SELECT rank, token_id FROM gpt_next_token_probs('', 3);
-- token is valid UTF-8 (U+FFFD for a partial character); bytes is raw.
SELECT count(*) AS partial_tokens,
       sum(token = '�' OR instr(token, '�') > 0) AS shown_as_fffd
  FROM gpt_next_token_probs('讲', 50257) WHERE CAST(bytes AS TEXT) <> token;
-- The most probable next token is what greedy generation picks first.
SELECT (SELECT token_id FROM gpt_next_token_probs('The cat', 1)) =
       json_extract(gpt_tokenize(gpt_generate('The cat', '{"max_tokens": 1, "temperature": 0}')), '$[0]')
       AS top1_is_greedy;

.print '--- gpt_model_info'
SELECT json_extract(gpt_model_info(), '$.path') LIKE '%/tiny-f32.gguf' AS path,
       json_extract(gpt_model_info(), '$.architecture') AS architecture,
       json_extract(gpt_model_info(), '$.parameters') AS parameters,
       json_extract(gpt_model_info(), '$.context_length') AS context_length,
       json_extract(gpt_model_info(), '$.vocab_size') AS vocab_size,
       json_extract(gpt_model_info(), '$.weight_type') AS weight_type,
       json_extract(gpt_model_info(), '$.tensor_types') AS tensor_types,
       json_extract(gpt_model_info(), '$.threads') AS threads,
       json_extract(gpt_model_info(), '$.file_size') = json_extract(gpt_model_info(), '$.bytes_mapped') AS all_mapped;
SELECT group_concat(key, ',') AS info_keys FROM json_each(gpt_model_info());
