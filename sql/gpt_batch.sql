--
-- gpt_generate(text[]) (many prompts decoded together) and
-- gpt_generate_tokens (one row per generated token).
--
SET gpt.model = 'tiny-f32.gguf';
-- One thread: the tiny model is too small to gain from more, and results
-- do not depend on it.
SET gpt.threads = 1;

-- Prompts of every kind, with NULLs among them.
CREATE TEMP TABLE bp(id int, p text);
INSERT INTO bp VALUES
    (1, 'The cat is lying on the'), (2, NULL), (3, ''),
    (4, '<|endoftext|>'), (5, '讲一个“行权”和“A+”的故事'), (6, 'A'),
    (7, NULL), (8, 'Once upon a time there was a'), (9, 'x y z'),
    (10, E'tab\there\nnewline');
-- ... and more than 16 (the core decodes up to 16 at once; the others
-- join as sequences finish).
INSERT INTO bp SELECT i, 'Prompt number ' || i || repeat(' and more', i % 5)
FROM generate_series(11, 24) i;

-- ======== gpt_generate(text[])

-- A batch equals one call per prompt, in the same order, for several
-- option sets (each set: the number of prompts and of mismatches).
CREATE TEMP TABLE opts(o int, max_tokens int, temperature float8, top_k int,
                       top_p float8, seed bigint, stop text[]);
INSERT INTO opts VALUES
    (1, 10, 0.8, 40, 0.95, 0, NULL),          -- default sampling
    (2, 8, 0, 40, 0.95, 0, NULL),             -- greedy
    (3, 10, 1.3, 0, 1, 11, NULL),             -- no filter, another seed
    (4, 10, 0.8, 5, 0.5, -7, ARRAY['e', 'an']),  -- stop strings
    (5, 0, 0.8, 40, 0.95, 0, NULL),           -- nothing to generate
    (6, 3, 0.8, 40, 0.95, 1, NULL);
SELECT o.o, count(*) AS prompts,
       count(*) FILTER (WHERE u.g IS DISTINCT FROM
                        gpt_generate(u.p, o.max_tokens, o.temperature, o.top_k,
                                     o.top_p, o.seed, o.stop)) AS mismatches,
       count(*) FILTER (WHERE u.g IS NULL) AS nulls
FROM opts o
CROSS JOIN LATERAL (
    SELECT gpt_generate(array_agg(p ORDER BY id), o.max_tokens, o.temperature,
                        o.top_k, o.top_p, o.seed, o.stop) AS a,
           array_agg(p ORDER BY id) AS ps
    FROM bp) x
CROSS JOIN LATERAL unnest(x.ps, x.a) AS u(p, g)
GROUP BY o.o ORDER BY o.o;

-- The same by name, and the order of the results follows the input's.
SELECT gpt_generate(prompts => ARRAY['The cat', 'A dog'], max_tokens => 6,
                    seed => 3)
     = ARRAY[gpt_generate('The cat', max_tokens => 6, seed => 3),
             gpt_generate('A dog', max_tokens => 6, seed => 3)] AS in_order,
       gpt_generate(ARRAY['A dog', 'The cat'], max_tokens => 6, seed => 3)
     = ARRAY[gpt_generate('A dog', max_tokens => 6, seed => 3),
             gpt_generate('The cat', max_tokens => 6, seed => 3)] AS reversed;
-- The defaults are gpt_generate's.
SELECT gpt_generate(ARRAY['The cat', 'A'])
     = ARRAY[gpt_generate('The cat'), gpt_generate('A')] AS same_defaults;
-- Each result is independent of its neighbours (a prompt alone, repeated,
-- or among others gives the same text).
SELECT gpt_generate(ARRAY['The cat'], max_tokens => 8)
     = (gpt_generate(ARRAY['The cat', 'The cat', 'x'], max_tokens => 8))[1:1]
       AS independent,
       array_length(array_positions(
           gpt_generate(array_fill('The cat'::text, ARRAY[20]), max_tokens => 8),
           gpt_generate('The cat', max_tokens => 8)), 1) AS all_20_equal;

-- NULL elements give NULL, NULL array gives NULL, empty array gives empty.
SELECT gpt_generate(ARRAY[NULL, 'The cat', NULL], max_tokens => 2)
       IS NOT DISTINCT FROM
       ARRAY[NULL, gpt_generate('The cat', max_tokens => 2), NULL]
       AS nulls_in_place;
SELECT gpt_generate(ARRAY[NULL, NULL]::text[]) AS all_null;
SELECT gpt_generate(NULL::text[]) IS NULL AS null_array;
SELECT gpt_generate('{}'::text[]) AS empty,
       gpt_generate('{}'::text[], max_tokens => 3, stop => ARRAY['x']) AS empty_opts,
       cardinality(gpt_generate(ARRAY[]::text[])) AS n;
-- The shape is kept: dimensions and lower bounds.
SELECT array_dims(gpt_generate('{{a,b,c},{d,NULL,f}}'::text[], max_tokens => 1))
       AS dims_2d,
       array_dims(gpt_generate('[0:1]={a,b}'::text[], max_tokens => 1))
       AS lower_bound_0,
       (gpt_generate('{{a,b,c},{d,NULL,f}}'::text[], max_tokens => 1))[2][2]
       IS NULL AS null_2_2;
-- An unknown literal is a single prompt (the text form); an array
-- literal needs a cast or ARRAY[...].
SELECT pg_typeof(gpt_generate('The cat', max_tokens => 1)) AS literal,
       pg_typeof(gpt_generate(ARRAY['The cat'], max_tokens => 1)) AS array;

-- Bad input: the same checks and errors as gpt_generate.
SELECT q, gpt_test_error(q) AS result FROM (VALUES
    ($$SELECT gpt_generate(ARRAY['x'], max_tokens => -1)$$),
    ($$SELECT gpt_generate(ARRAY['x'], max_tokens => 1025)$$),
    ($$SELECT gpt_generate(ARRAY['x'], max_tokens => NULL)$$),
    ($$SELECT gpt_generate(ARRAY['x'], temperature => -0.5)$$),
    ($$SELECT gpt_generate(ARRAY['x'], temperature => 'infinity')$$),
    ($$SELECT gpt_generate(ARRAY['x'], top_k => -1)$$),
    ($$SELECT gpt_generate(ARRAY['x'], top_p => 0)$$),
    ($$SELECT gpt_generate(ARRAY['x'], seed => NULL)$$),
    ($$SELECT gpt_generate(ARRAY['x'], stop => ARRAY[''])$$),
    ($$SELECT gpt_generate(ARRAY['x'], stop => ARRAY[NULL])$$),
    ($$SELECT gpt_generate(ARRAY['x'], stop => array_fill('a'::text, ARRAY[17]))$$),
    ($$SELECT gpt_generate(ARRAY['x'], stop => '{{a},{b}}')$$),
    -- options are checked even when there is nothing to generate
    ($$SELECT gpt_generate('{}'::text[], top_p => 2)$$),
    -- the tiny model's context is 128 tokens
    ($$SELECT gpt_generate(ARRAY['x', repeat('long ', 200)], max_tokens => 4)$$),
    ($$SELECT gpt_generate(ARRAY['x'], max_tokens => 200)$$)
) v(q);
-- After an error the next batch works.
SELECT gpt_generate(ARRAY['The cat'], max_tokens => 4)
     = ARRAY[gpt_generate('The cat', max_tokens => 4)] AS works_after_error;

-- ======== gpt_generate_tokens

-- One row per token, step from 0.
SELECT step, token_id IS NOT NULL AS has_id, logprob <= 0 AS logprob_ok
FROM gpt_generate_tokens('The cat is lying on the', max_tokens => 5, seed => 1)
ORDER BY step;
-- The rows concatenate to gpt_generate's text, for every prompt and
-- option set of the batch test (stop strings, Chinese, <|endoftext|>,
-- empty prompt, max_tokens 0).
SELECT o.o, count(*) AS prompts,
       count(*) FILTER (WHERE
           (SELECT coalesce(string_agg(t.token, '' ORDER BY t.step), '')
            FROM gpt_generate_tokens(bp.p, o.max_tokens, o.temperature,
                                     o.top_k, o.top_p, o.seed, o.stop) t)
           IS DISTINCT FROM
           gpt_generate(bp.p, o.max_tokens, o.temperature, o.top_k, o.top_p,
                        o.seed, o.stop)) AS mismatches
FROM opts o CROSS JOIN bp
WHERE bp.p IS NOT NULL AND bp.id <= 12
GROUP BY o.o ORDER BY o.o;
-- The first token is the greedy choice and its logprob the top-1 logprob.
SELECT t.token_id = p.token_id AS same_token,
       abs(t.logprob - p.logprob) < 1e-12 AS same_logprob
FROM gpt_generate_tokens('The cat', max_tokens => 1, temperature => 0) t,
     gpt_next_token_probs('The cat', 1) p;
-- Text held back at the end comes in a last row without token_id and
-- logprob: here the tail could still begin the stop string (the end of
-- the text followed by '~~~').
SELECT right(gpt_generate('The cat', max_tokens => 4, temperature => 0), 2)
       || '~~~' AS tailstop \gset
SELECT count(*) FILTER (WHERE token_id IS NULL AND logprob IS NULL)
       AS tail_rows,
       max(step) FILTER (WHERE token_id IS NULL) = max(step) AS tail_is_last,
       bool_or(token_id IS NULL AND token <> '') AS tail_has_text,
       count(*) AS rows
FROM gpt_generate_tokens('The cat', max_tokens => 4, temperature => 0,
                         stop => ARRAY[:'tailstop']);
SELECT string_agg(token, '' ORDER BY step)
     = gpt_generate('The cat', max_tokens => 4, temperature => 0,
                    stop => ARRAY[:'tailstop']) AS tail_included,
       string_agg(token, '' ORDER BY step)
     = gpt_generate('The cat', max_tokens => 4, temperature => 0)
       AS whole_text
FROM gpt_generate_tokens('The cat', max_tokens => 4, temperature => 0,
                         stop => ARRAY[:'tailstop']);
-- Wherever max_tokens cuts (inside a character too: U+FFFD), the rows
-- give the text.
SELECT string_agg(token, '' ORDER BY step)
     = gpt_generate('讲一个“行权”', max_tokens => n, seed => 2)
       AS cut_character
FROM generate_series(1, 6) n,
     LATERAL gpt_generate_tokens('讲一个“行权”', max_tokens => n, seed => 2)
GROUP BY n ORDER BY n;
-- A NULL prompt gives no rows; max_tokens 0 gives no rows.
SELECT count(*) AS null_prompt FROM gpt_generate_tokens(NULL);
SELECT count(*) AS zero_tokens FROM gpt_generate_tokens('x', max_tokens => 0);
-- Bad input: gpt_generate's errors.
SELECT q, gpt_test_error(q) AS result FROM (VALUES
    ($$SELECT * FROM gpt_generate_tokens('x', max_tokens => -1)$$),
    ($$SELECT * FROM gpt_generate_tokens('x', max_tokens => 1025)$$),
    ($$SELECT * FROM gpt_generate_tokens('x', top_k => NULL)$$),
    ($$SELECT * FROM gpt_generate_tokens('x', top_p => 1.5)$$),
    ($$SELECT * FROM gpt_generate_tokens('x', stop => ARRAY[''])$$),
    ($$SELECT * FROM gpt_generate_tokens(repeat('long ', 200))$$)
) v(q);

-- In the select list it runs under ProjectSet, which asks for one row at
-- a time: a cursor gets each token as it is decoded.
EXPLAIN (COSTS OFF) SELECT gpt_generate_tokens('The cat');

-- Every stream has a session of its own: two streams in one select list,
-- and a stream with other gpt calls on each row, give the texts they give
-- alone.
SELECT string_agg((a).token, '' ORDER BY (a).step)
       = gpt_generate('The cat', max_tokens => 6, seed => 5) AS stream_a,
       string_agg((b).token, '' ORDER BY (b).step)
       = gpt_generate('A dog', max_tokens => 6, seed => 6) AS stream_b
FROM (SELECT gpt_generate_tokens('The cat', max_tokens => 6, seed => 5) a,
             gpt_generate_tokens('A dog', max_tokens => 6, seed => 6) b) s;
SELECT string_agg((t).token, '' ORDER BY (t).step)
       = gpt_generate('The cat', max_tokens => 6, seed => 5) AS stream_intact,
       bool_and(g IS NOT NULL AND sc <= 0) AS others_ran
FROM (SELECT t, gpt_generate((t).token || 'x', max_tokens => 2) AS g,
             gpt_score('x', (t).token || 'x') AS sc
      FROM (SELECT gpt_generate_tokens('The cat', max_tokens => 6, seed => 5) t
            OFFSET 0) s1) s2;

-- A stream left early (LIMIT, a cursor closed after two rows, an error in
-- the middle) does not disturb the next one.
CREATE TEMP TABLE whole AS
SELECT * FROM gpt_generate_tokens('Once upon a time', max_tokens => 12, seed => 9);
SELECT (t).step, (t).token_id
FROM (SELECT gpt_generate_tokens('Once upon a time', max_tokens => 12, seed => 9) t
      LIMIT 2) s
EXCEPT SELECT step, token_id FROM whole;
BEGIN;
DECLARE c CURSOR FOR
    SELECT (t).step FROM (SELECT gpt_generate_tokens('Once upon a time',
                          max_tokens => 12, seed => 9) t) s;
FETCH 2 FROM c;
CLOSE c;
COMMIT;
SELECT (t).step, 10 / ((t).step - 3) AS boom
FROM (SELECT gpt_generate_tokens('Once upon a time', max_tokens => 12, seed => 9) t) s;
SELECT count(*) AS rows, bool_and(w.token_id IS NOT DISTINCT FROM t.token_id
                                  AND w.token = t.token
                                  AND w.logprob IS NOT DISTINCT FROM t.logprob)
       AS same_as_before
FROM whole w
FULL JOIN gpt_generate_tokens('Once upon a time', max_tokens => 12, seed => 9) t
  USING (step);

-- ======== cancel in the middle of a batch or a stream (slow.gguf: a
-- 124M-shaped model, so that one call runs for seconds)
SET gpt.model = 'slow.gguf';
RESET gpt.threads;
SET gpt.max_tokens_limit = 100000;
SELECT gpt_generate(ARRAY['Once upon a time', 'The cat'], max_tokens => 3,
                    temperature => 0) AS before \gset
SELECT clock_timestamp() AS t0 \gset
SET statement_timeout = '300ms';
SELECT gpt_generate(array_fill('Once upon a time'::text, ARRAY[16]),
                    max_tokens => 1000, temperature => 0);
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1.5 seconds'
       AS stopped_quickly;
SELECT gpt_generate(ARRAY['Once upon a time', 'The cat'], max_tokens => 3,
                    temperature => 0) = :'before' AS same_after_cancel;

-- A stream read through a cursor: the first rows come long before the
-- whole generation (1000 tokens) could end, and a statement timeout in the
-- middle of FETCH ALL stops it.
BEGIN;
DECLARE s CURSOR FOR
    SELECT gpt_generate_tokens('Once upon a time', max_tokens => 1000,
                               temperature => 0);
SET LOCAL statement_timeout = '5s';
MOVE 3 IN s;
SET LOCAL statement_timeout = '300ms';
SELECT clock_timestamp() AS t0 \gset
FETCH ALL FROM s;
ROLLBACK;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1.5 seconds'
       AS stopped_quickly;
SELECT string_agg(token, '' ORDER BY step)
     = gpt_generate('Once upon a time', max_tokens => 3, temperature => 0)
       AS stream_works_after_cancel
FROM gpt_generate_tokens('Once upon a time', max_tokens => 3, temperature => 0);
RESET gpt.max_tokens_limit;
