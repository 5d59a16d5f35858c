--
-- tests/pg/stress/check.sql - what the stress run recorded, against the
-- single-client reference.  Prints the failures, nothing when there are
-- none (stress.sh prints the counts).
\pset tuples_only on
\pset format unaligned
\pset fieldsep ' | '

-- a successful call that gave another result than in one session
SELECT 'DIFFERENT RESULT' AS failure, r.id, c.model, c.sql,
       r.result AS under_load, f.result AS single_client
FROM stress.results r JOIN stress.calls c USING (id)
     JOIN stress.reference f USING (id)
WHERE r.outcome = 'ok' AND (f.outcome <> 'ok' OR r.result IS DISTINCT FROM f.result);

-- an error other than the call's own or a cancel
SELECT 'UNEXPECTED ERROR' AS failure, r.id, c.model, c.sql, c.expect,
       r.outcome, r.message
FROM stress.results r JOIN stress.calls c USING (id)
WHERE r.outcome NOT IN ('ok', c.expect, '57014')
   OR (r.outcome = 'ok' AND c.expect <> 'ok')
   OR (r.outcome = '57014' AND r.message <> 'canceling statement due to user request');
