-- env: GPT_TIMEOUT_MS=1
-- GPT_TIMEOUT_MS bounds every call of a connection (for hosts that never
-- call sqlite3_interrupt).  A 120-token prompt plus 8 tokens takes far
-- more than 1 ms; the session stays usable afterwards.
.load ./sqlite_ext/gpt
SELECT gpt_generate(printf('%0120d', 0), '{"max_tokens": 8}');
-- Calls that do not run the model are not timed.
SELECT gpt_token_count(printf('%0120d', 0));
SELECT gpt_generate('x', '{"max_tokens": 0}') = '';
-- The same for the batch, streaming and scoring functions (on 120
-- tokens); a stream is timed from its first row, not per token.
SELECT * FROM gpt_generate_each(json_array('a', replace(hex(zeroblob(120)), '00', ' x')), '{"max_tokens": 4}');
SELECT * FROM gpt_generate_tokens(replace(hex(zeroblob(120)), '00', ' x'), '{"max_tokens": 4}');
SELECT * FROM gpt_token_logprobs(replace(hex(zeroblob(120)), '00', ' x'));
SELECT gpt_score(replace(hex(zeroblob(120)), '00', ' x'));
SELECT gpt_score(replace(hex(zeroblob(100)), '00', ' x'), replace(hex(zeroblob(20)), '00', ' y'));
SELECT gpt_choose(replace(hex(zeroblob(120)), '00', ' x'), '[" yes", " no"]');
-- The connection still works (max_tokens 0 runs no forward pass).
SELECT count(*) FROM gpt_generate_each('["a", null]', '{"max_tokens": 0}');
SELECT count(*) FROM gpt_generate_tokens('a', '{"max_tokens": 0}');
SELECT gpt_score('x', '');
