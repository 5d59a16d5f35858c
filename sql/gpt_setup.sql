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
ORDER BY p.proname;

-- Named arguments and their defaults.
SELECT pg_get_function_arguments('gpt_generate'::regproc);
SELECT pg_get_function_arguments('gpt_next_token_probs'::regproc);
SELECT pg_get_function_result('gpt_next_token_probs'::regproc);

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
