--
-- gpt_generate: arguments, determinism, stop strings, bad input.
-- The text itself comes from a random-weight test model, so the tests check
-- properties (same seed same text, ...) rather than the words.
--
SET gpt.model = 'tiny-f32.gguf';

-- The same call gives the same text (fixed default seed).
SELECT gpt_generate('The cat is lying on the')
     = gpt_generate('The cat is lying on the') AS same_default;
SELECT length(gpt_generate('The cat is lying on the')) > 0 AS not_empty;
-- The same seed gives the same text, another seed another sample.
SELECT gpt_generate('The cat', seed => 1) = gpt_generate('The cat', seed => 1)
       AS same_seed,
       gpt_generate('The cat', seed => 1) <> gpt_generate('The cat', seed => 2)
       AS other_seed;
-- Negative seeds are valid (the same 64 bits).
SELECT gpt_generate('The cat', seed => -1) = gpt_generate('The cat', seed => -1)
       AS negative_seed;
-- Greedy (temperature 0) ignores the seed and the filters.
SELECT gpt_generate('The cat', temperature => 0, seed => 1)
     = gpt_generate('The cat', temperature => 0, seed => 2, top_k => 5,
                    top_p => 0.5) AS greedy;
-- top_k => 1 is greedy too.
SELECT gpt_generate('The cat', max_tokens => 8, top_k => 1, seed => 3)
     = gpt_generate('The cat', max_tokens => 8, temperature => 0) AS top_k_1;
-- Greedy's first token is the most probable next token.
SELECT gpt_tokenize(gpt_generate('The cat', max_tokens => 1, temperature => 0))
     = ARRAY[(SELECT token_id FROM gpt_next_token_probs('The cat', 1))]
       AS greedy_is_top_1;
-- Every argument by name and by position.
SELECT gpt_generate(prompt => 'The cat', max_tokens => 8, temperature => 0.5,
                    top_k => 10, top_p => 0.9, seed => 42,
                    stop => ARRAY['zzz'])
     = gpt_generate('The cat', 8, 0.5, 10, 0.9, 42, ARRAY['zzz']) AS positional;
-- Options change the sample.
SELECT count(DISTINCT g) > 1 AS options_matter
FROM (VALUES (gpt_generate('The cat', max_tokens => 16, temperature => 1.5)),
             (gpt_generate('The cat', max_tokens => 16, temperature => 0)),
             (gpt_generate('The cat', max_tokens => 16, top_k => 2))) v(g);

-- max_tokens => 0 generates nothing; an empty prompt starts from
-- <|endoftext|>.
SELECT gpt_generate('The cat', max_tokens => 0) = '' AS zero_tokens;
SELECT gpt_generate('', max_tokens => 8) IS NOT NULL AS empty_prompt;
-- More tokens extend fewer (greedy).
SELECT starts_with(gpt_generate('The cat', max_tokens => 12, temperature => 0),
                   gpt_generate('The cat', max_tokens => 4, temperature => 0))
       AS longer_extends_shorter;

-- The Chinese prompt.
SELECT gpt_generate('讲一个“行权”和“A+”的故事', max_tokens => 16)
     = gpt_generate('讲一个“行权”和“A+”的故事', max_tokens => 16)
       AS chinese_deterministic;
SELECT gpt_generate('讲一个“行权”和“A+”的故事', max_tokens => 16) IS NOT NULL
       AS chinese;

-- Stop strings: the text ends before the first stop string.
SELECT position('e' IN gpt_generate('The cat', max_tokens => 32, temperature => 0,
                                    stop => ARRAY['e'])) = 0 AS stopped_before_e;
SELECT starts_with(gpt_generate('The cat', max_tokens => 32, temperature => 0),
                   gpt_generate('The cat', max_tokens => 32, temperature => 0,
                                stop => ARRAY['e', ' ']))
       AS stop_is_prefix;
-- An empty stop array and a NULL stop mean no stop string.
SELECT gpt_generate('The cat', stop => '{}') = gpt_generate('The cat')
       AS empty_stop,
       gpt_generate('The cat', stop => NULL) = gpt_generate('The cat')
       AS null_stop;
SELECT gpt_generate('The cat', stop => array_fill('zz'::text, ARRAY[16]))
     = gpt_generate('The cat') AS sixteen_stops;

-- gpt.threads does not change results.
SET gpt.threads = 1;
CREATE TEMP TABLE gen1 AS
SELECT s, gpt_generate('The cat', max_tokens => 24, seed => s) AS g
FROM generate_series(1, 3) s;
SET gpt.threads = 2;
SELECT bool_and(g = gpt_generate('The cat', max_tokens => 24, seed => s))
       AS threads_1_equals_2
FROM gen1;
RESET gpt.threads;

-- NULLs: a NULL prompt gives NULL; a NULL option is an error (leave the
-- argument out to get its default).
SELECT gpt_generate(NULL) IS NULL AS null_prompt;
SELECT gpt_generate(NULL, max_tokens => -1) IS NULL AS null_prompt_first;
SELECT gpt_generate('x', max_tokens => NULL);
SELECT gpt_test_error(q)
FROM (VALUES
  ('SELECT gpt_generate(''x'', temperature => NULL)'),
  ('SELECT gpt_generate(''x'', top_k => NULL)'),
  ('SELECT gpt_generate(''x'', top_p => NULL)'),
  ('SELECT gpt_generate(''x'', seed => NULL)'),
  ('SELECT gpt_generate(''x'', stop => ARRAY[''a'', NULL])')) v(q);

-- Bad values.
SELECT gpt_generate('x', max_tokens => -1);
SELECT gpt_generate('x', max_tokens => 2000000000);
SELECT gpt_generate('x', temperature => -0.1);
SELECT gpt_generate('x', top_k => -1);
SELECT gpt_generate('x', top_p => 0);
SELECT gpt_generate('x', top_p => 1.5);
SELECT gpt_test_error(q)
FROM (VALUES
  ('SELECT gpt_generate(''x'', temperature => ''NaN'')'),
  ('SELECT gpt_generate(''x'', temperature => ''Infinity'')'),
  ('SELECT gpt_generate(''x'', top_p => ''NaN'')'),
  ('SELECT gpt_generate(''x'', top_p => -0.5)'),
  ('SELECT gpt_generate(''x'', stop => ARRAY[''''])'),
  ('SELECT gpt_generate(''x'', stop => array_fill(''a''::text, ARRAY[17]))'),
  ('SELECT gpt_generate(''x'', stop => ''{{a},{b}}'')'),
  ('SELECT gpt_generate(''x'', max_tokens => 1025)'),
  ('SELECT gpt_generate(''x'', max_tokens => 1024)')) v(q);

-- The tiny model's context is 128 tokens: prompt + max_tokens must fit.
SELECT gpt_generate(repeat('word ', 200), max_tokens => 1);
SELECT gpt_generate('x', max_tokens => 200);
SELECT gpt_generate(repeat('word ', 110), max_tokens => 8) IS NOT NULL AS fits;
