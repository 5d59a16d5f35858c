-- gpt_generate_each (many prompts decoded together) and gpt_generate_tokens
-- (one row per generated token), with the tiny random test model.  The
-- main checks are SQL comparisons with gpt_generate that must print 0 (or
-- 1 for a true equality).  Texts are shown through json_quote().
.load ./sqlite_ext/gpt
.headers on
.mode list

.print '--- gpt_generate_each: rows in array order, idx 0-based as json_each'
SELECT idx, json_quote(prompt) AS prompt, json_quote(completion) AS completion
  FROM gpt_generate_each('["The cat", "A dog", "讲一个", "", "<|endoftext|>"]',
                         '{"max_tokens": 6, "seed": 3}');
-- JSON null elements give NULL prompt and completion, in place.
SELECT idx, prompt IS NULL AS null_prompt, completion IS NULL AS null_completion
  FROM gpt_generate_each('[null, "The cat", null]', '{"max_tokens": 2}');
SELECT count(*) AS all_null_rows, count(completion) AS completions
  FROM gpt_generate_each('[null, null]');
-- Empty and NULL arrays: no rows.
SELECT count(*) AS empty_array FROM gpt_generate_each('[]');
SELECT count(*) AS empty_array_with_options FROM gpt_generate_each(' [ ] ', '{"max_tokens": 3}');
SELECT count(*) AS null_array FROM gpt_generate_each(NULL);
SELECT count(*) AS null_array_bad_options FROM gpt_generate_each(NULL, 'not JSON');
-- No options, NULL options and {} are the defaults (64 tokens, seed 0).
SELECT count(*) AS default_mismatches
  FROM gpt_generate_each('["The cat", "A dog"]') e
 WHERE e.completion IS NOT gpt_generate(e.prompt)
    OR e.completion IS NOT (SELECT completion FROM gpt_generate_each('["The cat", "A dog"]', NULL) f WHERE f.idx = e.idx)
    OR e.completion IS NOT (SELECT completion FROM gpt_generate_each('["The cat", "A dog"]', '{}') f WHERE f.idx = e.idx);

.print '--- gpt_generate_each equals gpt_generate, prompt by prompt'
-- 40 prompts of different lengths: more than the 16 decoded together, so
-- finished sequences leave and later prompts join mid-batch.
CREATE TABLE prompts AS
  WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 39)
  SELECT i, CASE WHEN i % 7 = 3 THEN NULL
                 ELSE substr('The quick brown fox jumps over the lazy dog. 讲一个故事', 1, 1 + i * 3 % 50)
            END AS p
    FROM n;
SELECT count(*) AS prompts, count(p) AS non_null FROM prompts;
-- Sampled, with a stop string; greedy; and with varying lengths (EOS, stop).
SELECT count(*) AS rows,
       sum(e.completion IS NOT gpt_generate(e.prompt, '{"max_tokens": 12, "seed": 7, "stop": "e"}')) AS mismatches
  FROM gpt_generate_each((SELECT json_group_array(p) FROM (SELECT p FROM prompts ORDER BY i)),
                         '{"max_tokens": 12, "seed": 7, "stop": "e"}') e;
SELECT count(*) AS rows,
       sum(e.completion IS NOT gpt_generate(e.prompt, '{"max_tokens": 9, "temperature": 0}')) AS mismatches
  FROM gpt_generate_each((SELECT json_group_array(p) FROM (SELECT p FROM prompts ORDER BY i)),
                         '{"max_tokens": 9, "temperature": 0}') e;
SELECT count(*) AS rows,
       sum(e.completion IS NOT gpt_generate(e.prompt, '{"max_tokens": 20, "temperature": 1.3, "top_k": 0, "top_p": 1, "seed": 11}')) AS mismatches,
       count(DISTINCT length(e.completion)) > 1 AS lengths_vary
  FROM gpt_generate_each((SELECT json_group_array(p) FROM (SELECT p FROM prompts ORDER BY i)),
                         '{"max_tokens": 20, "temperature": 1.3, "top_k": 0, "top_p": 1, "seed": 11}') e;
-- Rows join back to the array and to the table (order preserved).
SELECT count(*) AS joined, sum(e.prompt IS NOT p.p) AS prompt_mismatches
  FROM gpt_generate_each((SELECT json_group_array(p) FROM (SELECT p FROM prompts ORDER BY i)),
                         '{"max_tokens": 1}') e
  JOIN prompts p ON p.i = e.idx;
-- The enrichment pattern: one statement updates every row.
ALTER TABLE prompts ADD COLUMN completion TEXT;
UPDATE prompts SET completion = e.completion
  FROM gpt_generate_each((SELECT json_group_array(p) FROM (SELECT p FROM prompts ORDER BY i)),
                         '{"max_tokens": 5, "seed": 2}') e
 WHERE e.idx = prompts.i;
SELECT count(completion) AS updated,
       sum(completion IS NOT gpt_generate(p, '{"max_tokens": 5, "seed": 2}')) AS mismatches
  FROM prompts;
-- The README's pattern: join on the prompt (the same prompt and options
-- give the same text, so duplicates are generated once).
CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT, summary TEXT);
INSERT INTO docs(body) VALUES ('The soup was cold.'), ('Quick and friendly.'),
                              ('The soup was cold.'), (NULL);
UPDATE docs SET summary = e.completion
  FROM gpt_generate_each((SELECT json_group_array(p) FROM
                            (SELECT DISTINCT 'Summarize: ' || body AS p FROM docs)),
                         '{"max_tokens": 8, "seed": 1}') e
 WHERE e.prompt = 'Summarize: ' || docs.body;
SELECT id, json_quote(summary) AS summary,
       summary IS gpt_generate('Summarize: ' || body, '{"max_tokens": 8, "seed": 1}') AS same
  FROM docs ORDER BY id;
-- Strings with escapes and \u0000 reach the model as the same text.
SELECT idx, json_quote(prompt) AS prompt,
       completion = gpt_generate(prompt, '{"max_tokens": 4}') AS same
  FROM gpt_generate_each('["a\"b\\\n", "\u884c\u6743", "x\u0000y"]', '{"max_tokens": 4}');
SELECT length(prompt) AS len_with_nul, hex(prompt) AS hex
  FROM gpt_generate_each('["x\u0000y"]', '{"max_tokens": 1}');
-- JSON1 builds the array; a join per row of a table also works.
SELECT count(*) AS json1_array
  FROM gpt_generate_each(json_array('The cat', NULL, 'A dog'), json_object('max_tokens', 2));
SELECT t.v AS array, count(e.idx) AS rows
  FROM (SELECT '["a"]' AS v UNION ALL SELECT '["a", "b"]' UNION ALL SELECT '[]') t
  LEFT JOIN gpt_generate_each(t.v, '{"max_tokens": 1}') e
 GROUP BY t.v ORDER BY t.v;
-- The hidden columns give the arguments back.
SELECT prompts, options FROM gpt_generate_each('["a"]', '{"max_tokens": 1}');
SELECT prompts, options IS NULL AS no_options FROM gpt_generate_each('["a"]');

.print '--- gpt_generate_tokens: one row per token'
SELECT step, token_id, json_quote(token) AS token, printf('%.6f', logprob) AS logprob
  FROM gpt_generate_tokens('The cat is lying on the', '{"max_tokens": 10, "seed": 1}');
-- The tokens are gpt_generate's, and they concatenate to its text.
SELECT group_concat(token, '') = gpt_generate('The cat is lying on the', '{"max_tokens": 10, "seed": 1}') AS concat_equal,
       count(*) AS rows
  FROM (SELECT token FROM gpt_generate_tokens('The cat is lying on the', '{"max_tokens": 10, "seed": 1}') ORDER BY step);
SELECT json_group_array(token_id) = gpt_tokenize(gpt_generate('The cat', '{"max_tokens": 7, "temperature": 0}')) AS ids_equal
  FROM gpt_generate_tokens('The cat', '{"max_tokens": 7, "temperature": 0}');
-- logprob is at temperature 1: for greedy decoding it is the top token's.
SELECT printf('%.9f', t.logprob) = printf('%.9f', p.logprob) AS greedy_logprob_is_top1
  FROM gpt_generate_tokens('The cat', '{"max_tokens": 1, "temperature": 0}') t,
       gpt_next_token_probs('The cat', 1) p;
-- Defaults: 64 tokens.
SELECT count(*) AS default_rows, max(step) AS last_step,
       group_concat(token, '') = gpt_generate('The cat') AS concat_equal
  FROM gpt_generate_tokens('The cat');
-- Empty prompt: after <|endoftext|>.
SELECT group_concat(token, '') = gpt_generate('', '{"max_tokens": 8}') AS empty_prompt
  FROM gpt_generate_tokens('', '{"max_tokens": 8}');
-- A Chinese prompt.
SELECT step, token_id, json_quote(token) AS token
  FROM gpt_generate_tokens('讲一个“行权”和“A+”的故事', '{"max_tokens": 12}');
SELECT group_concat(token, '') = gpt_generate('讲一个“行权”和“A+”的故事', '{"max_tokens": 12}') AS chinese_equal
  FROM gpt_generate_tokens('讲一个“行权”和“A+”的故事', '{"max_tokens": 12}');
-- Stop strings: the text ends before the stop string; the token that
-- completed it is the last row.
SELECT step, token_id, json_quote(token) AS token
  FROM gpt_generate_tokens('The cat', '{"max_tokens": 20, "seed": 4, "stop": ["GMT", "Ps Ps"]}');
SELECT group_concat(token, '') = gpt_generate('The cat', '{"max_tokens": 20, "seed": 4, "stop": ["GMT", "Ps Ps"]}') AS stop_equal
  FROM gpt_generate_tokens('The cat', '{"max_tokens": 20, "seed": 4, "stop": ["GMT", "Ps Ps"]}');
-- Text held back for a stop string that never completes comes out when
-- max_tokens ends the generation, in a last row with token_id NULL.
SELECT step, token_id, json_quote(token) AS token, logprob IS NULL AS no_logprob
  FROM gpt_generate_tokens('The cat', '{"max_tokens": 3, "seed": 4, "stop": "zzzzzzzz"}');
SELECT group_concat(token, '') = gpt_generate('The cat', '{"max_tokens": 3, "seed": 4, "stop": "zzzzzzzz"}') AS held_back_equal
  FROM gpt_generate_tokens('The cat', '{"max_tokens": 3, "seed": 4, "stop": "zzzzzzzz"}');
-- An incomplete character at max_tokens becomes U+FFFD in that last row.
SELECT step, token_id, json_quote(token) AS token
  FROM gpt_generate_tokens('讲一个', '{"max_tokens": 4, "seed": 133, "temperature": 2, "top_k": 0, "top_p": 1}');
SELECT group_concat(token, '') = gpt_generate('讲一个', '{"max_tokens": 4, "seed": 133, "temperature": 2, "top_k": 0, "top_p": 1}') AS fffd_equal
  FROM gpt_generate_tokens('讲一个', '{"max_tokens": 4, "seed": 133, "temperature": 2, "top_k": 0, "top_p": 1}');
-- max_tokens 0 and a NULL prompt: no rows.
SELECT count(*) AS max_tokens_0 FROM gpt_generate_tokens('The cat', '{"max_tokens": 0}');
SELECT count(*) AS null_prompt FROM gpt_generate_tokens(NULL, '{"max_tokens": 3}');
SELECT count(*) AS null_prompt_bad_options FROM gpt_generate_tokens(NULL, 'not JSON');
-- group_concat of tokens equals gpt_generate for every prompt of a table
-- (several streams in one statement, each on its own session).
SELECT count(*) AS prompts,
       sum(coalesce((SELECT group_concat(token, '') FROM gpt_generate_tokens(p, '{"max_tokens": 10, "seed": 5, "stop": "e"}')), '')
           IS NOT gpt_generate(p, '{"max_tokens": 10, "seed": 5, "stop": "e"}')) AS mismatches
  FROM prompts WHERE p IS NOT NULL;
-- Two streams at once, and gpt_generate calls between the rows of a
-- stream, do not disturb each other.
SELECT count(*) AS pairs FROM gpt_generate_tokens('A', '{"max_tokens": 4}') a,
                              gpt_generate_tokens('B', '{"max_tokens": 4}') b;
SELECT group_concat(t.token, '') = gpt_generate('The cat', '{"max_tokens": 6, "seed": 9}') AS stream_ok,
       count(DISTINCT t.other) = 1 AS interleaved_ok
  FROM (SELECT token, gpt_generate('other', '{"max_tokens": 3}') AS other
          FROM gpt_generate_tokens('The cat', '{"max_tokens": 6, "seed": 9}')) t;
-- LIMIT stops the stream early; the next one starts afresh.
SELECT group_concat(token, '') AS first_two FROM (SELECT token FROM gpt_generate_tokens('The cat', '{"max_tokens": 10, "seed": 1}') LIMIT 2);
SELECT group_concat(token, '') = gpt_generate('The cat', '{"max_tokens": 10, "seed": 1}') AS after_limit
  FROM gpt_generate_tokens('The cat', '{"max_tokens": 10, "seed": 1}');
SELECT prompt, options FROM gpt_generate_tokens('Hi', '{"max_tokens": 1}');
