-- gpt_token_logprobs, gpt_score and gpt_choose with the tiny random test
-- model.  Log-probabilities are natural logarithms, printed to 6 places.
.load ./sqlite_ext/gpt
.headers on
.mode list

.print '--- gpt_token_logprobs: one row per token, the first after <|endoftext|>'
SELECT pos, token_id, json_quote(token) AS token, printf('%.6f', logprob) AS logprob
  FROM gpt_token_logprobs('The cat sat on the mat');
-- The tokens are gpt_tokenize's; every logprob is < 0.
SELECT json_group_array(token_id) = gpt_tokenize('The cat sat on the mat') AS ids_equal,
       max(logprob) < 0 AS all_negative
  FROM gpt_token_logprobs('The cat sat on the mat');
-- The first token's logprob is its probability after <|endoftext|>, as
-- gpt_next_token_probs('') gives it; the second's after the first token.
SELECT printf('%.9f', (SELECT logprob FROM gpt_token_logprobs('The cat') WHERE pos = 0)) =
       printf('%.9f', (SELECT logprob FROM gpt_next_token_probs('', 50257) WHERE token_id = 464)) AS first_after_eot;
-- Partial characters show U+FFFD in token (gpt_tokenize has the ids).
SELECT pos, token_id, json_quote(token) AS token
  FROM gpt_token_logprobs('讲一个');
-- <|endoftext|> in text is ordinary text, as for gpt_tokenize.
SELECT count(*) AS eot_text_tokens FROM gpt_token_logprobs('<|endoftext|>');
-- Empty and NULL text: no rows.
SELECT count(*) AS empty_text FROM gpt_token_logprobs('');
SELECT count(*) AS null_text FROM gpt_token_logprobs(NULL);
SELECT text FROM gpt_token_logprobs('Hi');
-- Named-column syntax and a join.
SELECT count(*) AS named FROM gpt_token_logprobs WHERE text = 'The cat';
SELECT t.v, count(*) AS tokens
  FROM (SELECT 'A' AS v UNION ALL SELECT 'The cat sat') t, gpt_token_logprobs(t.v) l
 GROUP BY t.v ORDER BY t.v;

.print '--- gpt_score(text): the sum of gpt_token_logprobs'
SELECT printf('%.6f', gpt_score('The cat sat on the mat')) AS score;
-- Equal to sum(logprob) (compared to 1e-9: SQLite 3.43+ sums with extra
-- precision, 3.40 in token order as gpt_score does).
SELECT count(*) AS texts,
       sum(abs(gpt_score(v) - (SELECT sum(logprob) FROM gpt_token_logprobs(v))) < 1e-9) AS equal
  FROM (SELECT 'The cat sat on the mat' AS v UNION ALL SELECT 'Hello world'
        UNION ALL SELECT '讲一个“行权”和“A+”的故事' UNION ALL SELECT 'x'
        UNION ALL SELECT printf('%0120d', 0));
-- ... and to gpt_score('', text): both condition on <|endoftext|>.
SELECT abs(gpt_score('The cat sat on the mat') - gpt_score('', 'The cat sat on the mat')) < 1e-6 AS empty_prompt_same;
-- Perplexity: exp(-score / tokens).
SELECT printf('%.4f', exp(-gpt_score('The cat sat on the mat') / gpt_token_count('The cat sat on the mat'))) AS perplexity;
SELECT gpt_score('') AS empty_text, gpt_score(NULL) IS NULL AS null_text;

.print '--- gpt_score(prompt, continuation)'
SELECT printf('%.6f', gpt_score('The cat', ' sat')) AS sat,
       printf('%.6f', gpt_score('The cat', ' sat on the mat')) AS sat_on_the_mat;
-- One token: the logprob gpt_next_token_probs gives it after the prompt.
SELECT printf('%.9f', gpt_score('The cat', ' sat')) =
       printf('%.9f', (SELECT logprob FROM gpt_next_token_probs('The cat', 50257) WHERE token_id = 3332)) AS one_token;
-- The same prompt twice in a row (its KV cache reused) gives the same.
SELECT gpt_score('The cat', ' ran') = gpt_score('The cat', ' ran') AS reused_same,
       gpt_score('The cat', ' ran') = (SELECT gpt_score('The cat', ' ran')) AS repeat_same;
SELECT gpt_score('The cat', '') AS empty_continuation,
       gpt_score(NULL, 'x') IS NULL AS null_prompt, gpt_score('x', NULL) IS NULL AS null_continuation;

.print '--- gpt_choose: the choice with the highest gpt_score(prompt, choice)'
SELECT value AS choice, printf('%.6f', gpt_score('The cat', value)) AS score
  FROM json_each('[" sat", " ran", " is", " Dist", " representation"]');
SELECT json_quote(gpt_choose('The cat', '[" sat", " ran", " is", " Dist", " representation"]')) AS chosen;
-- It is the argmax, for several prompts and choice lists (ties: first).
WITH p(v) AS (VALUES ('The cat'), (''), ('Is it good? Answer:'), ('讲一个')),
     c(v) AS (VALUES ('[" yes", " no"]'), ('["positive", "negative", "neutral"]'),
                     ('[" a"]'), ('[" 故事", " story", " Dist Dist"]')),
     ranked AS (SELECT p.v AS p, c.v AS c, e.value AS choice,
                       row_number() OVER (PARTITION BY p.v, c.v
                                          ORDER BY gpt_score(p.v, e.value) DESC, e.key) AS r
                  FROM p, c, json_each(c.v) e)
SELECT count(*) AS cases, sum(gpt_choose(p, c) = choice) AS argmax
  FROM ranked WHERE r = 1;
SELECT gpt_choose('x', '[" same", " same"]') AS duplicates;
SELECT gpt_choose('The cat', '["\u0020sat", " ran"]') AS escapes;
SELECT gpt_choose(NULL, '["a"]') IS NULL AS null_prompt, gpt_choose('x', NULL) IS NULL AS null_choices;
-- Zero-shot classification of a table.
CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO docs(body) VALUES ('I loved it'), ('Terrible service'), ('It was fine');
SELECT id, gpt_choose('Review: ' || body || '
Sentiment:', '[" positive", " negative", " neutral"]') AS label
  FROM docs ORDER BY id;
