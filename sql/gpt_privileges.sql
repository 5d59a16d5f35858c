--
-- An ordinary role cannot choose model files or raise the limits.
--
SET gpt.model = 'tiny-f32.gguf';
SET ROLE gpt_regress_user;
SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user;

SET gpt.model = 'tiny-f16.gguf';
SET gpt.model_dir = '/etc';
SET gpt.max_threads = 64;
SET gpt.max_tokens_limit = 1000000;
SELECT set_config('gpt.model', '/etc/passwd', false);
SELECT set_config('gpt.model_dir', '/', false);
ALTER ROLE gpt_regress_user SET gpt.model = 'tiny-f16.gguf';
-- nothing changed
SELECT current_setting('gpt.model') AS model,
       current_setting('gpt.max_tokens_limit') AS max_tokens_limit;

-- gpt.threads is the role's to choose, capped by gpt.max_threads.
SET gpt.threads = 64;
SELECT (gpt_model_info()->>'threads')::int
       <= current_setting('gpt.max_threads')::int AS threads_capped;
RESET gpt.threads;

-- max_tokens is capped by gpt.max_tokens_limit.
SELECT gpt_generate('x', max_tokens => 1025);

-- The functions work for the role.
SELECT gpt_tokenize('Hello world');
SELECT gpt_generate('The cat', max_tokens => 4) IS NOT NULL AS generates;
SELECT count(*) FROM gpt_next_token_probs('The cat', 3);
SELECT gpt_model_info()->>'model' AS model;

RESET ROLE;
-- A superuser may lower the limit for everyone in the session.
SET gpt.max_tokens_limit = 4;
SET ROLE gpt_regress_user;
SELECT gpt_generate('x', max_tokens => 5);
SELECT gpt_generate('x', max_tokens => 4) IS NOT NULL AS within_limit;
RESET ROLE;
RESET gpt.max_tokens_limit;
DROP ROLE gpt_regress_user;
