--
-- gpt_setup: the extension, its function labels and its settings.
--
CREATE EXTENSION gpt;

-- Every function, with its volatility (s = stable, v = volatile), STRICT,
-- parallel label (s = safe) and whether it returns a set.
SELECT p.oid::regprocedure AS function, p.provolatile AS volatile,
       p.proisstrict AS strict, p.proparallel AS parallel,
       p.proretset AS retset, p.prorettype::regtype AS returns
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass
                   AND d.refobjid = e.oid
WHERE e.extname = 'gpt'
ORDER BY p.oid::regprocedure::text;

-- Named arguments and their defaults.
SELECT pg_get_function_arguments(
    'gpt_generate(text,int,float8,int,float8,bigint,text[])'::regprocedure);
SELECT pg_get_function_arguments('gpt_next_token_probs'::regproc);
SELECT pg_get_function_result('gpt_next_token_probs'::regproc);
-- The batch and streaming forms take gpt_generate's options, with the same
-- names and defaults.
SELECT p.oid::regprocedure AS function,
       regexp_replace(pg_get_function_arguments(p.oid), '^[^,]*, ', '')
     = regexp_replace(pg_get_function_arguments(
           'gpt_generate(text,int,float8,int,float8,bigint,text[])'::regprocedure),
           '^[^,]*, ', '') AS same_options_as_gpt_generate
FROM pg_proc p
WHERE p.oid IN ('gpt_generate(text[],int,float8,int,float8,bigint,text[])'::regprocedure,
                'gpt_generate_tokens'::regproc)
ORDER BY 1::text;
SELECT pg_get_function_arguments(
    'gpt_generate(text[],int,float8,int,float8,bigint,text[])'::regprocedure);
SELECT pg_get_function_result('gpt_generate_tokens'::regproc);
SELECT pg_get_function_result('gpt_token_logprobs'::regproc);
SELECT p.oid::regprocedure AS function, pg_get_function_arguments(p.oid)
FROM pg_proc p WHERE p.proname IN ('gpt_score', 'gpt_choose')
ORDER BY 1::text;

-- Settings: defaults and who may change them (superuser = superuser only).
SELECT name, boot_val, context, vartype, min_val, max_val
FROM pg_settings
WHERE name LIKE 'gpt.%' AND name <> 'gpt.model_dir'
ORDER BY name;
SELECT context FROM pg_settings WHERE name = 'gpt.model_dir';
-- The boot value of gpt.model_dir is $sharedir/gpt of the installation.
SELECT boot_val LIKE '%/gpt' FROM pg_settings WHERE name = 'gpt.model_dir';

-- The "gpt" prefix is reserved: a misspelled setting is an error.
SET gpt.modle = 'tiny-f32.gguf';
SET gpt.model_dir = 'relative/dir';

-- The default model works with no other step.
SELECT gpt_model_info()->>'model' AS model;
SELECT length(gpt_generate('The cat is lying on the')) >= 0 AS generated;

-- Runs a statement and returns its SQLSTATE and message (or 'ok'); used
-- by the bad-input tables of the other files.
CREATE FUNCTION gpt_test_error(q text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- An ordinary role for the privilege tests.
CREATE ROLE gpt_regress_user;
