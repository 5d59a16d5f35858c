--
-- gpt_model_info, model switching and the model file rules (least
-- privilege).  The test cluster's gpt.model_dir holds the test models and
-- some bad files (tests/pg/run_regress.sh).
--
-- gpt.model (default.gguf here) was opened by the postmaster at startup
-- (shared_preload_libraries, gpt.preload): this new backend inherited it.
SELECT gpt_model_info()->>'preloaded' AS preloaded;

SET gpt.model = 'tiny-f32.gguf';

SELECT info->>'model' AS model, info->>'name' AS name,
       info->>'architecture' AS architecture,
       (info->>'parameters')::bigint AS parameters,
       (info->>'context_length')::int AS context_length,
       (info->>'embedding_length')::int AS n_embd,
       (info->>'feed_forward_length')::int AS n_ff,
       (info->>'layers')::int AS layers, (info->>'heads')::int AS heads,
       (info->>'vocab_size')::int AS vocab_size,
       info->>'eos_id' AS eos_id, info->>'tied_output' AS tied,
       info->>'weight_type' AS weight_type,
       info->'tensor_types' AS tensor_types
FROM gpt_model_info() info;
SELECT info->>'path' LIKE '%/tiny-f32.gguf' AS path,
       (info->>'file_size')::bigint > 0 AS file_size,
       (info->>'bytes_mapped')::bigint = (info->>'file_size')::bigint
           AS whole_file_mapped,
       (info->>'threads')::int >= 1 AS threads_ok,
       (info->>'load_ms')::float8 >= 0 AS load_ms,
       info->>'preloaded' AS preloaded
FROM gpt_model_info() info;
SELECT array_agg(k ORDER BY k) AS keys FROM jsonb_object_keys(gpt_model_info()) k;

-- gpt.threads is reported capped by gpt.max_threads.
SET gpt.threads = 3;
SET gpt.max_threads = 2;
SELECT gpt_model_info()->>'threads' AS threads;
SET gpt.threads = 1;
SELECT gpt_model_info()->>'threads' AS threads;
RESET gpt.threads;
RESET gpt.max_threads;

-- Changing gpt.model switches the model on the next call.
SET gpt.model = 'tiny-f16.gguf';
SELECT gpt_model_info()->>'weight_type' AS f16;
SET gpt.model = 'tiny-q8_0.gguf';
SELECT gpt_model_info()->>'weight_type' AS q8_0;
SELECT gpt_generate('The cat', max_tokens => 8) IS NOT NULL AS q8_0_generates;
SET gpt.model = 'tiny-untied-f32.gguf';
SELECT gpt_model_info()->>'tied_output' AS tied;
SELECT gpt_tokenize('Hello world') AS same_tokenizer;
-- Different weights, different probabilities.
SET gpt.model = 'tiny-f32.gguf';
CREATE TEMP TABLE p32 AS SELECT * FROM gpt_next_token_probs('The cat', 5);
SET gpt.model = 'tiny-untied-f32.gguf';
SELECT (SELECT array_agg(prob ORDER BY rank) FROM p32)
    <> (SELECT array_agg(prob ORDER BY rank)
        FROM gpt_next_token_probs('The cat', 5)) AS switched;
-- A symbolic link that stays inside gpt.model_dir is fine.
SET gpt.model = 'link.gguf';
SELECT gpt_model_info()->>'path' LIKE '%/tiny-f32.gguf' AS link_resolved;
-- So is an absolute path inside it.
SELECT set_config('gpt.model',
                  current_setting('gpt.model_dir') || '/tiny-f16.gguf', false)
       IS NOT NULL AS set;
SELECT gpt_model_info()->>'weight_type' AS absolute_inside;

-- Files that are refused.  After each error the session still works.
SET gpt.model = 'missing.gguf';
SELECT gpt_tokenize('x');
SET gpt.model = '../outside/secret.gguf';
SELECT gpt_tokenize('x');
SET gpt.model = '/etc/passwd';
SELECT gpt_tokenize('x');
SET gpt.model = '/etc/no-such-file.gguf';
SELECT gpt_tokenize('x');
SET gpt.model = 'escape.gguf';
SELECT gpt_tokenize('x');
SET gpt.model = 'adir.gguf';
SELECT gpt_tokenize('x');
SET gpt.model = 'fifo.gguf';
SELECT gpt_tokenize('x');
SET gpt.model = '';
SELECT gpt_tokenize('x');
-- Files that are not valid models (the detail comes from the loader).
\set VERBOSITY terse
SET gpt.model = 'corrupt.gguf';
SELECT gpt_tokenize('x');
SET gpt.model = 'empty.gguf';
SELECT gpt_tokenize('x');
SET gpt.model = 'truncated.gguf';
SELECT gpt_tokenize('x');
\set VERBOSITY default
SELECT gpt_test_error('SELECT gpt_generate(''x'')') AS corrupt_generate;
SELECT gpt_test_error('SELECT gpt_model_info()') AS corrupt_info;
-- The SQLSTATE of each refused file.
CREATE FUNCTION pg_temp.model_error(m text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('gpt.model', m, false);
    PERFORM gpt_token_count('x');
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
SELECT m AS model, pg_temp.model_error(m) AS sqlstate
FROM (VALUES ('tiny-f32.gguf'), ('missing.gguf'), ('../outside/secret.gguf'),
             ('/etc/passwd'), ('escape.gguf'), ('adir.gguf'), ('fifo.gguf'),
             (''), ('corrupt.gguf'), ('empty.gguf'), ('truncated.gguf'),
             ('sub/../tiny-f32.gguf'), ('./tiny-f32.gguf')) v(m);
-- Every function refuses the same way.
SET gpt.model = '../tiny-f32.gguf';
SELECT gpt_test_error(q)
FROM (VALUES ('SELECT gpt_generate(''x'')'),
             ('SELECT * FROM gpt_next_token_probs(''x'')'),
             ('SELECT gpt_tokenize(''x'')'),
             ('SELECT gpt_detokenize(''{1}'')'),
             ('SELECT gpt_token_count(''x'')'),
             ('SELECT gpt_model_info()')) v(q);
SET gpt.model = 'tiny-f32.gguf';
SELECT gpt_tokenize('Hello world') AS works_again;

-- gpt.model_dir must be absolute and exist.
SET gpt.model_dir = '/nonexistent/gpt-models';
SELECT gpt_tokenize('x');
RESET gpt.model_dir;
SELECT gpt_tokenize('Hello world') AS works_again;
