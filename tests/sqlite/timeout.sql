-- env: GPT_TIMEOUT_MS=1
-- GPT_TIMEOUT_MS bounds every call of a connection (for hosts that never
-- call sqlite3_interrupt).  A 120-token prompt plus 8 tokens takes far
-- more than 1 ms; the session stays usable afterwards.
.load ./sqlite_ext/gpt
SELECT gpt_generate(printf('%0120d', 0), '{"max_tokens": 8}');
-- Calls that do not run the model are not timed.
SELECT gpt_token_count(printf('%0120d', 0));
SELECT gpt_generate('x', '{"max_tokens": 0}') = '';
