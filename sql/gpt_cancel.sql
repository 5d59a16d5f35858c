--
-- statement_timeout stops a long generation within a fraction of a second
-- and the backend keeps working.  The long generation uses slow.gguf, a
-- 124M-shaped model with a 1024-token context (random weights), so that it
-- does not depend on the default model's size.
--
SET gpt.model = 'slow.gguf';
SET gpt.max_tokens_limit = 100000;
-- load the model first so that only generation is timed
SELECT gpt_generate('Once upon a time', max_tokens => 4, temperature => 0)
       AS before \gset
SELECT gpt_token_count('x') AS warm;

SELECT clock_timestamp() AS t0 \gset
SET statement_timeout = '300ms';
SELECT gpt_generate('Once upon a time', max_tokens => 1000, temperature => 0);
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1.5 seconds'
       AS stopped_quickly;
-- the backend works and gives the same text as before the cancel
SELECT gpt_generate('Once upon a time', max_tokens => 4, temperature => 0)
     = :'before' AS same_after_cancel;

-- Cancelling during a long prompt (prefill) too.
SELECT clock_timestamp() AS t0 \gset
SET statement_timeout = '100ms';
SELECT gpt_generate(repeat('long prompt ', 300), max_tokens => 100);
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '1.5 seconds'
       AS stopped_quickly;

-- Many short calls in one statement (tiny model) are cancelled as well.
SET gpt.model = 'tiny-f32.gguf';
SET statement_timeout = '300ms';
SELECT count(gpt_generate('x', max_tokens => 64, seed => s))
FROM generate_series(1, 1000000) s;
RESET statement_timeout;
SELECT gpt_generate('The cat', max_tokens => 4) IS NOT NULL AS works;
RESET gpt.max_tokens_limit;
