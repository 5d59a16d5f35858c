--
-- tests/pg/stress/setup.sql - the calls of the pgbench stress test
-- (tests/pg/stress.sh) and the wrapper that runs one of them.
--
-- stress.calls holds every SQL function with valid and invalid arguments,
-- each with the outcome it must have: 'ok' or the SQLSTATE of its error.
-- Every call returns one text value (set-returning functions aggregated),
-- so results compare with IS NOT DISTINCT FROM.  Calls on the tiny models
-- come first (ids 1 .. stress.ntiny()), then the calls on slow.gguf, whose
-- seconds of work give cancels something to interrupt.
--
CREATE EXTENSION IF NOT EXISTS gpt;
CREATE SCHEMA stress;

CREATE TABLE stress.calls (
    id serial PRIMARY KEY,
    model text NOT NULL,      -- gpt.model for the call
    threads int NOT NULL,     -- gpt.threads: results must not depend on it
    expect text NOT NULL,     -- 'ok' or the SQLSTATE the call must raise
    sql text NOT NULL         -- one row, one text column
);

-- What each call gave in one session, before the stress (stress.sh).
CREATE TABLE stress.reference (
    id int PRIMARY KEY REFERENCES stress.calls,
    outcome text NOT NULL,
    result text
);

-- What each call gave under load, one row per call.
CREATE TABLE stress.results (
    id int NOT NULL REFERENCES stress.calls,
    outcome text NOT NULL,    -- 'ok', or the SQLSTATE caught
    result text,
    message text,
    late_cancels int NOT NULL,  -- cancels that arrived after the call ended
    pid int NOT NULL
);

-- Valid calls, each run on every tiny model.
CREATE TEMP TABLE tiny_valid(sql) AS VALUES
    ($$SELECT gpt_generate('The cat sat on the', max_tokens => 16, temperature => 0)$$),
    ($$SELECT gpt_generate('Once upon a time', max_tokens => 24, seed => 7)$$),
    ($$SELECT gpt_generate('x', max_tokens => 20, temperature => 1.3, top_k => 0,
                           top_p => 0.9, seed => 42, stop => ARRAY['.', ' the'])$$),
    ($$SELECT gpt_generate(NULL::text)$$),
    ($$SELECT gpt_generate(ARRAY['a', 'b c', NULL, 'The dog'], max_tokens => 12,
                           seed => 3)::text$$),
    ($$SELECT string_agg(step || ':' || token_id || ':' || logprob, ' ' ORDER BY step)
      FROM gpt_generate_tokens('Hello', max_tokens => 10, seed => 5)$$),
    ($$SELECT string_agg(rank || ':' || token_id || ':' || prob || ':' || logprob,
                         ' ' ORDER BY rank)
      FROM gpt_next_token_probs('The cat', 5)$$),
    ($$SELECT gpt_tokenize('Hello world, ünïcödé 讲 ' || repeat('ab', 20))::text$$),
    ($$SELECT gpt_detokenize('{15496,995,11,220,164,106,110}')$$),
    ($$SELECT gpt_token_count(repeat('ab cd ', 50))::text$$),
    ($$SELECT (gpt_model_info() - 'load_ms')::text$$),
    ($$SELECT string_agg(pos || ':' || token_id || ':' || logprob, ' ' ORDER BY pos)
      FROM gpt_token_logprobs('The quick brown fox jumps')$$),
    ($$SELECT gpt_score('The quick brown fox jumps over the lazy dog')::text$$),
    ($$SELECT gpt_score('The cat', ' sat on the mat')::text$$),
    ($$SELECT gpt_choose('The cat is', ARRAY[' happy', ' sad', ' a dog'])$$);

-- Invalid arguments, on one tiny model each.
CREATE TEMP TABLE tiny_invalid(expect, sql) AS VALUES
    ('22023', $$SELECT gpt_generate('x', max_tokens => -1)$$),
    ('22023', $$SELECT gpt_generate('x', top_p => 0)$$),
    ('22023', $$SELECT gpt_generate('x', temperature => 'Infinity')$$),
    ('22004', $$SELECT gpt_generate('x', temperature => NULL)$$),
    ('22023', $$SELECT gpt_generate('x', stop => ARRAY[''])$$),
    ('54000', $$SELECT gpt_generate(repeat('word ', 200), max_tokens => 1)$$),
    ('22023', $$SELECT gpt_generate(ARRAY['a', 'b'], top_k => -1)::text$$),
    ('54000', $$SELECT gpt_generate(ARRAY['a', repeat('word ', 200)], max_tokens => 1)::text$$),
    ('22023', $$SELECT count(*)::text FROM gpt_generate_tokens('x', max_tokens => 2000)$$),
    ('22023', $$SELECT count(*)::text FROM gpt_next_token_probs('x', 0)$$),
    ('22023', $$SELECT gpt_detokenize('{-1}')$$),
    ('22004', $$SELECT gpt_detokenize('{15496,NULL}')$$),
    ('54000', $$SELECT gpt_score(repeat('long ', 200))::text$$),
    ('54000', $$SELECT count(*)::text FROM gpt_token_logprobs(repeat('long ', 200))$$),
    ('22023', $$SELECT gpt_choose('x', '{}')$$),
    ('22004', $$SELECT gpt_choose('x', ARRAY['a', NULL])$$);

INSERT INTO stress.calls (model, threads, expect, sql)
SELECT m.model, 1 + (v.n + m.n) % 2, 'ok', v.sql
FROM (SELECT row_number() OVER () AS n, sql FROM tiny_valid) v,
     (VALUES (0, 'tiny-f32.gguf'), (1, 'tiny-f16.gguf'), (2, 'tiny-q8_0.gguf'),
             (3, 'tiny-untied-f32.gguf')) m(n, model)
ORDER BY m.n, v.n;

INSERT INTO stress.calls (model, threads, expect, sql)
SELECT (ARRAY['tiny-f32.gguf', 'tiny-f16.gguf', 'tiny-q8_0.gguf',
              'tiny-untied-f32.gguf'])[1 + n % 4], 1, expect, sql
FROM (SELECT row_number() OVER () AS n, expect, sql FROM tiny_invalid) i;

-- gpt.model naming a file that is not a usable model (run_regress.sh makes
-- them), and the bundled default model.
INSERT INTO stress.calls (model, threads, expect, sql) VALUES
    ('missing.gguf', 1, '58P01', $$SELECT gpt_tokenize('x')::text$$),
    ('adir.gguf', 1, '42809', $$SELECT gpt_generate('x')$$),
    ('fifo.gguf', 1, '42809', $$SELECT gpt_token_count('x')::text$$),
    ('empty.gguf', 1, 'XX001', $$SELECT gpt_score('x')::text$$),
    ('corrupt.gguf', 1, 'XX001', $$SELECT gpt_model_info()::text$$),
    ('../outside/secret.gguf', 1, '42501', $$SELECT gpt_detokenize('{1}')$$),
    ('default.gguf', 1, 'ok', $$SELECT gpt_generate('The', max_tokens => 12, temperature => 0)$$),
    ('default.gguf', 2, 'ok', $$SELECT gpt_score('In the beginning')::text$$);

-- Calls on slow.gguf (a 124M-shaped model): seconds each under load.
INSERT INTO stress.calls (model, threads, expect, sql) VALUES
    ('slow.gguf', 1, 'ok', $$SELECT gpt_generate('Once upon a time', max_tokens => 12, temperature => 0)$$),
    ('slow.gguf', 2, 'ok', $$SELECT gpt_generate(ARRAY['The cat', 'A dog'], max_tokens => 8, seed => 9)::text$$),
    ('slow.gguf', 1, 'ok', $$SELECT gpt_score(repeat('some words ', 60))::text$$),
    ('slow.gguf', 2, 'ok', $$SELECT string_agg(token_id || ':' || prob, ' ' ORDER BY rank)
                             FROM gpt_next_token_probs(repeat('long prompt ', 100), 3)$$),
    ('slow.gguf', 1, 'ok', $$SELECT gpt_choose(repeat('Question ', 30), ARRAY[' yes', ' no'])$$),
    ('slow.gguf', 1, '54000', $$SELECT gpt_generate(repeat('word ', 1100), max_tokens => 1)$$);

CREATE FUNCTION stress.ntiny() RETURNS int LANGUAGE sql STABLE AS
$$SELECT max(id) FROM stress.calls WHERE model <> 'slow.gguf'$$;

-- Runs call p_id once: its outcome and result in (outcome, result, message).
-- Used for the reference run; stress.run adds the cancel protocol.
CREATE FUNCTION stress.exec(p_id int, OUT outcome text, OUT result text,
                            OUT message text)
LANGUAGE plpgsql AS $$
DECLARE
    c stress.calls;
BEGIN
    SELECT * INTO STRICT c FROM stress.calls WHERE id = p_id;
    BEGIN
        PERFORM set_config('gpt.model', c.model, false);
        PERFORM set_config('gpt.threads', c.threads::text, false);
        EXECUTE c.sql INTO result;
        outcome := 'ok';
    EXCEPTION
        WHEN query_canceled THEN
            outcome := '57014';
            message := SQLERRM;
        WHEN OTHERS THEN
            outcome := SQLSTATE;
            message := SQLERRM;
    END;
END
$$;

--
-- stress.run(id): one pgbench transaction.  Runs the call and records what
-- it gave, and never lets a cancel reach pgbench (a client that gets an
-- error is aborted).  That needs a protocol with the canceller
-- (stress.sh), because a cancel can arrive any time after it was sent:
--
--  * A worker is "busy" while application_name is 'stress busy'.  The
--    canceller cancels only busy workers, and only while it holds advisory
--    lock (2, pid) exclusively, from reading the name to sending the signal.
--  * The worker sets 'stress busy' inside block S1, runs the call in block
--    S2 (inside S1), sets the name back, then takes and keeps (2, pid) in
--    share mode and sleeps 1 ms inside S1.  A cancel sent while it was busy
--    was sent before the canceller released the lock, so it arrives by the
--    time the worker has the lock and is caught in S1 at the latest.
--  * If S1 catches a cancel, its rollback also rolls application_name back
--    to what it was outside S1 (not busy), and S1 runs again without the
--    call.  The lock stays held (session level) until the end, so no new
--    cancel is sent meanwhile.
--
CREATE FUNCTION stress.run(p_id int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    me int := pg_backend_pid();
    done boolean := false;     -- the call has run
    left_ boolean := false;    -- S1 finished
    r record;
    late int := 0;
BEGIN
    WHILE NOT left_ LOOP
        BEGIN  -- S1
            IF NOT done THEN
                PERFORM set_config('application_name', 'stress busy', false);
                SELECT * INTO r FROM stress.exec(p_id);  -- S2 is in there
                done := true;
            END IF;
            PERFORM set_config('application_name', 'stress idle', false);
            PERFORM pg_advisory_lock_shared(2, me);
            PERFORM pg_sleep(0.001);
            left_ := true;
        EXCEPTION WHEN query_canceled THEN
            late := late + 1;
        END;
    END LOOP;
    PERFORM pg_advisory_unlock_all();
    INSERT INTO stress.results (id, outcome, result, message, late_cancels, pid)
    VALUES (p_id, r.outcome, r.result, r.message, late, me);
END
$$;
