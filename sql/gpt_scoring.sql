--
-- gpt_token_logprobs, gpt_score, gpt_choose.
--
SET gpt.model = 'tiny-f32.gguf';
SET gpt.threads = 1;

-- ======== gpt_token_logprobs

-- One row per token of the text, pos from 0, the ids of gpt_tokenize,
-- log-probabilities <= 0, tokens that concatenate to the text.
SELECT pos, token_id, token, logprob < 0 AS negative
FROM gpt_token_logprobs('The cat sat on the mat.') ORDER BY pos;
SELECT array_agg(token_id ORDER BY pos) = gpt_tokenize(t) AS ids,
       string_agg(token, '' ORDER BY pos) = t AS tokens,
       count(*) = gpt_token_count(t) AS n
FROM (VALUES ('The cat sat on the mat.'), ('<|endoftext|>'),
             (E'tab\there\nnewline')) v(t),
     LATERAL gpt_token_logprobs(t)
GROUP BY t ORDER BY t;
-- A token that is part of a character shows U+FFFD; the ids are still
-- the text's.
SELECT count(*) > 0 AS has_partial_tokens,
       bool_and(token_id IS NOT NULL) AS ids
FROM gpt_token_logprobs('讲一个“行权”和“A+”的故事') WHERE token LIKE '%�%';
-- The first token is conditioned on <|endoftext|>: its logprob is the one
-- gpt_next_token_probs gives after the empty text.
SELECT abs(l.logprob - p.logprob) < 1e-9 AS first_after_endoftext
FROM gpt_token_logprobs('The cat') l
JOIN gpt_next_token_probs('', 50257) p USING (token_id)
WHERE l.pos = 0;
-- Empty text: no rows.  NULL: no rows (STRICT).
SELECT count(*) AS empty FROM gpt_token_logprobs('');
SELECT count(*) AS null_text FROM gpt_token_logprobs(NULL);

-- ======== gpt_score

-- gpt_score(text) is the sum of the text's token log-probabilities (in pos
-- order, exactly), and the log-probability after the empty prompt.
SELECT t, gpt_score(t) = (SELECT sum(logprob) FROM gpt_token_logprobs(t))
       AS sum_of_logprobs,
       abs(gpt_score(t) - gpt_score('', t)) < 1e-9 AS after_empty_prompt
FROM (VALUES ('The cat sat on the mat.'), ('<|endoftext|>'),
             ('讲一个“行权”和“A+”的故事'), ('x')) v(t)
ORDER BY t;
-- Perplexity, as documented: exp(-score / tokens) is at least 1.
SELECT exp(-gpt_score(t) / gpt_token_count(t)) >= 1 AS perplexity
FROM (VALUES ('The cat sat on the mat.')) v(t);
-- A one-token continuation scores its next-token log-probability.
SELECT abs(gpt_score('The cat', ' sat') - p.logprob) < 1e-9 AS one_token
FROM gpt_next_token_probs('The cat', 50257) p
WHERE p.token_id = (gpt_tokenize(' sat'))[1];
-- The continuation is tokenized on its own: ' sat' keeps its space.
SELECT gpt_score('The cat', ' sat') <> gpt_score('The cat', 'sat') AS own_tokens;
-- Empty text and empty continuation score 0; NULL gives NULL.
SELECT gpt_score('') AS empty_text, gpt_score('The cat', '') AS empty_cont,
       gpt_score(NULL) IS NULL AS null_text,
       gpt_score(NULL, 'x') IS NULL AND gpt_score('x', NULL) IS NULL AS null_args;
-- Scores do not depend on the order of calls (the prompt's KV cache is
-- reused between calls with the same prompt).
CREATE TEMP TABLE sc1 AS
SELECT p, c, gpt_score(p, c) AS s
FROM (VALUES ('The cat'), ('A dog')) ps(p),
     (VALUES (' sat'), (' ran away'), ('!'), (' 讲')) cs(c)
ORDER BY p, c;
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE s <> gpt_score(p, c)) AS differ_reversed
FROM (SELECT * FROM sc1 ORDER BY c DESC, p DESC) r;
-- gpt.threads does not change scores.
SET gpt.threads = 2;
SELECT count(*) FILTER (WHERE s <> gpt_score(p, c)) AS differ_2_threads FROM sc1;
SET gpt.threads = 1;

-- ======== gpt_choose

-- The choice with the highest gpt_score(prompt, choice), the first of
-- equals, compared with the same argmax in SQL.
CREATE TEMP TABLE cases(id int, prompt text, choices text[]);
INSERT INTO cases VALUES
    (1, 'The cat sat on the', ARRAY[' mat', ' dog', ' moon']),
    (2, 'Review: great film. Sentiment:', ARRAY[' positive', ' negative']),
    (3, '', ARRAY['a', 'b', 'c', 'd']),
    (4, '讲一个故事', ARRAY['好', '坏']),
    (5, 'x', ARRAY['only']),
    (6, 'The cat', ARRAY[' sat', ' sat', ' ran']),
    (7, 'The cat', ARRAY[' ran', ' sat', ' sat']);
SELECT c.id, gpt_choose(c.prompt, c.choices) = a.best AS is_argmax
FROM cases c
CROSS JOIN LATERAL (
    SELECT x AS best FROM unnest(c.choices) WITH ORDINALITY u(x, i)
    ORDER BY gpt_score(c.prompt, x) DESC, i LIMIT 1) a
ORDER BY c.id;
-- A NULL prompt or array gives NULL (STRICT).
SELECT gpt_choose(NULL, ARRAY['a']) IS NULL AS null_prompt,
       gpt_choose('x', NULL) IS NULL AS null_choices;
-- Zero-shot classification over a table.
SELECT c.id, gpt_choose(c.prompt, ARRAY[' yes', ' no']) IN (' yes', ' no')
       AS labelled
FROM cases c ORDER BY c.id;

-- ======== bad input
SELECT q, gpt_test_error(q) AS result FROM (VALUES
    ($$SELECT gpt_choose('x', '{}')$$),
    ($$SELECT gpt_choose('x', ARRAY['a', NULL])$$),
    ($$SELECT gpt_choose('x', ARRAY['a', ''])$$),
    ($$SELECT gpt_choose('x', '[0:1]={a,""}')$$),
    ($$SELECT gpt_choose('x', '{{a},{b}}')$$),
    -- the tiny model's context is 128 tokens
    ($$SELECT gpt_score(repeat('long ', 200))$$),
    ($$SELECT gpt_score(repeat('long ', 200), 'x')$$),
    ($$SELECT gpt_score('x', repeat('long ', 200))$$),
    ($$SELECT count(*) FROM gpt_token_logprobs(repeat('long ', 200))$$),
    ($$SELECT gpt_choose('x', ARRAY['a', repeat('long ', 200)])$$)
) v(q);
-- After errors the functions still work.
SELECT gpt_score('The cat sat') = (SELECT sum(logprob)
                                   FROM gpt_token_logprobs('The cat sat'))
       AS works_after_error;

-- ======== cancel (slow.gguf: a 124M-shaped model)
SET gpt.model = 'slow.gguf';
RESET gpt.threads;
SELECT gpt_choose('The cat', ARRAY[' sat', ' ran']) AS before \gset
SELECT clock_timestamp() AS t0 \gset
-- its ~900-token prefill alone takes about 0.5 s on 2 threads here, 5x the
-- limit (300 tokens against 300 ms came out either way on a fast run)
SET statement_timeout = '100ms';
SELECT gpt_choose(repeat('long prompt ', 450), ARRAY[' a', ' b', ' c']);
SELECT sum(gpt_score(repeat('words ', 400) || i))
FROM generate_series(1, 1000) i;
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '3 seconds'
       AS stopped_quickly;
SELECT gpt_choose('The cat', ARRAY[' sat', ' ran']) = :'before'
       AS same_after_cancel;
