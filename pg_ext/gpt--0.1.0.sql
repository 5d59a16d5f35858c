/* gpt--0.1.0.sql - the SQL interface of the gpt extension. */

\echo Use "CREATE EXTENSION gpt" to load this file. \quit

-- Labels:
--   gpt_generate is VOLATILE: it samples (the result is fixed by the seed,
--   but it also depends on settings and it is expensive, so it must not be
--   folded or cached).  It is not STRICT because stop may be NULL; a NULL
--   prompt gives NULL, a NULL option is an error.
--   The others depend on the gpt.model setting, so they are STABLE, not
--   IMMUTABLE (an index or a stored generated column must not use them).
--   All are PARALLEL SAFE: each parallel worker opens its own model.

CREATE FUNCTION gpt_generate(
    prompt text,
    max_tokens int DEFAULT 64,
    temperature float8 DEFAULT 0.8,
    top_k int DEFAULT 40,
    top_p float8 DEFAULT 0.95,
    seed bigint DEFAULT 0,
    stop text[] DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'pg_gpt_generate'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL SAFE COST 100000;

COMMENT ON FUNCTION gpt_generate(text, int, float8, int, float8, bigint, text[]) IS
'continuation of prompt sampled by the model named by gpt.model (the continuation only)';

CREATE FUNCTION gpt_next_token_probs(
    prompt text,
    k int DEFAULT 10)
RETURNS TABLE(rank int, token_id int, token text, bytes bytea,
              prob float8, logprob float8)
AS 'MODULE_PATHNAME', 'pg_gpt_next_token_probs'
LANGUAGE C STABLE STRICT PARALLEL SAFE COST 10000 ROWS 10;

COMMENT ON FUNCTION gpt_next_token_probs(text, int) IS
'the k most probable next tokens after prompt, most probable first';

CREATE FUNCTION gpt_tokenize(text)
RETURNS int[]
AS 'MODULE_PATHNAME', 'pg_gpt_tokenize'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION gpt_tokenize(text) IS
'GPT-2 token ids of a text';

CREATE FUNCTION gpt_detokenize(int[])
RETURNS text
AS 'MODULE_PATHNAME', 'pg_gpt_detokenize'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION gpt_detokenize(int[]) IS
'text of GPT-2 token ids (incomplete UTF-8 becomes U+FFFD)';

CREATE FUNCTION gpt_token_count(text)
RETURNS int
AS 'MODULE_PATHNAME', 'pg_gpt_token_count'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION gpt_token_count(text) IS
'number of GPT-2 tokens of a text';

CREATE FUNCTION gpt_model_info()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'pg_gpt_model_info'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION gpt_model_info() IS
'the model named by gpt.model: architecture, sizes, tensor types, threads';

-- Many prompts and streaming (batch.c).  VOLATILE like gpt_generate.

CREATE FUNCTION gpt_generate(
    prompts text[],
    max_tokens int DEFAULT 64,
    temperature float8 DEFAULT 0.8,
    top_k int DEFAULT 40,
    top_p float8 DEFAULT 0.95,
    seed bigint DEFAULT 0,
    stop text[] DEFAULT NULL)
RETURNS text[]
AS 'MODULE_PATHNAME', 'pg_gpt_generate_array'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL SAFE COST 1000000;

COMMENT ON FUNCTION gpt_generate(text[], int, float8, int, float8, bigint, text[]) IS
'continuations of many prompts decoded together, in the same order and shape (each equal to gpt_generate(prompt, ...); NULL gives NULL)';

CREATE FUNCTION gpt_generate_tokens(
    prompt text,
    max_tokens int DEFAULT 64,
    temperature float8 DEFAULT 0.8,
    top_k int DEFAULT 40,
    top_p float8 DEFAULT 0.95,
    seed bigint DEFAULT 0,
    stop text[] DEFAULT NULL)
RETURNS TABLE(step int, token_id int, token text, logprob float8)
AS 'MODULE_PATHNAME', 'pg_gpt_generate_tokens'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL SAFE COST 100000 ROWS 64;

COMMENT ON FUNCTION gpt_generate_tokens(text, int, float8, int, float8, bigint, text[]) IS
'gpt_generate one token per row as it is decoded (call it in the select list to stream); string_agg(token, '''' ORDER BY step) is the text';

-- Scoring (scoring.c).  STABLE: the result depends only on the arguments
-- and gpt.model; STRICT: a NULL argument gives NULL.

CREATE FUNCTION gpt_token_logprobs(text)
RETURNS TABLE(pos int, token_id int, token text, logprob float8)
AS 'MODULE_PATHNAME', 'pg_gpt_token_logprobs'
LANGUAGE C STABLE STRICT PARALLEL SAFE COST 10000 ROWS 20;

COMMENT ON FUNCTION gpt_token_logprobs(text) IS
'log-probability of every token of a text (pos from 0; the first after <|endoftext|>)';

CREATE FUNCTION gpt_score(text)
RETURNS float8
AS 'MODULE_PATHNAME', 'pg_gpt_score_text'
LANGUAGE C STABLE STRICT PARALLEL SAFE COST 10000;

COMMENT ON FUNCTION gpt_score(text) IS
'log-probability of a text after <|endoftext|> (sum of gpt_token_logprobs); perplexity is exp(-gpt_score(t) / gpt_token_count(t))';

CREATE FUNCTION gpt_score(prompt text, continuation text)
RETURNS float8
AS 'MODULE_PATHNAME', 'pg_gpt_score'
LANGUAGE C STABLE STRICT PARALLEL SAFE COST 10000;

COMMENT ON FUNCTION gpt_score(text, text) IS
'log-probability of continuation given prompt (continuation tokenized on its own)';

CREATE FUNCTION gpt_choose(prompt text, choices text[])
RETURNS text
AS 'MODULE_PATHNAME', 'pg_gpt_choose'
LANGUAGE C STABLE STRICT PARALLEL SAFE COST 50000;

COMMENT ON FUNCTION gpt_choose(text, text[]) IS
'the choice with the highest gpt_score(prompt, choice), the first on ties';
