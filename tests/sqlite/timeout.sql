-- env: GPT_TIMEOUT_MS=1 GPT_MODEL=@models/gpt2-124m-q8_0.gguf
-- GPT_TIMEOUT_MS bounds every call of a connection (for hosts that never
-- call sqlite3_interrupt).  On a 124M-shaped model, each timed call below
-- runs a forward pass over about 120 tokens, tens of milliseconds on any
-- CPU, against a 1 ms limit.  Each uses its own text, so no call finds its
-- prompt in the KV cache an earlier call left (gpt_score with a prompt
-- reuses the cache for the same prompt).  The session stays usable.
.load ./sqlite_ext/gpt
SELECT gpt_generate(printf('%0120d', 0), '{"max_tokens": 8}');
-- Calls that do not run the model are not timed.
SELECT gpt_token_count(printf('%0120d', 0));
SELECT gpt_generate('x', '{"max_tokens": 0}') = '';
-- The same for the batch, streaming and scoring functions; a stream is
-- timed from its first row, not per token.
SELECT * FROM gpt_generate_each(json_array('a', replace(hex(zeroblob(120)), '00', ' b')), '{"max_tokens": 4}');
SELECT * FROM gpt_generate_tokens(replace(hex(zeroblob(120)), '00', ' c'), '{"max_tokens": 4}');
SELECT * FROM gpt_token_logprobs(replace(hex(zeroblob(120)), '00', ' d'));
SELECT gpt_score(replace(hex(zeroblob(120)), '00', ' e'));
SELECT gpt_score(replace(hex(zeroblob(100)), '00', ' f'), replace(hex(zeroblob(20)), '00', ' g'));
SELECT gpt_choose(replace(hex(zeroblob(120)), '00', ' h'), '[" yes", " no"]');
-- The connection still works (max_tokens 0 runs no forward pass).
SELECT count(*) FROM gpt_generate_each('["a", null]', '{"max_tokens": 0}');
SELECT count(*) FROM gpt_generate_tokens('a', '{"max_tokens": 0}');
SELECT gpt_score('x', '');
