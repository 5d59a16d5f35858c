--
-- tests/pg/stress/canceller.sql - random pg_cancel_backend calls on the
-- pgbench backends for :seconds seconds (psql -v seconds=N), following
-- the protocol described at stress.run in setup.sql: only a busy worker
-- ('stress busy'), only while holding advisory lock (2, pid), and not the
-- same backend twice within half a second.  Records how many it sent.
--
CREATE TABLE stress.canceller (sent int, skipped int);
SELECT set_config('stress.seconds', :'seconds', false);
DO $$
DECLARE
    stop_at timestamptz := clock_timestamp()
        + make_interval(secs => current_setting('stress.seconds')::float8);
    target int;
    sent int := 0;
    skipped int := 0;
    recent int[] := '{}';
    recent_at timestamptz[] := '{}';
    i int;
BEGIN
    WHILE clock_timestamp() < stop_at LOOP
        PERFORM pg_sleep(0.1 + random() * 0.3);  -- about 4 cancels a second
        -- forget cancels older than half a second
        FOR i IN REVERSE coalesce(array_length(recent, 1), 0) .. 1 LOOP
            IF recent_at[i] < clock_timestamp() - interval '0.5 s' THEN
                recent := recent[1:i - 1] || recent[i + 1:];
                recent_at := recent_at[1:i - 1] || recent_at[i + 1:];
            END IF;
        END LOOP;
        PERFORM pg_stat_clear_snapshot();
        SELECT pid INTO target FROM pg_stat_activity
        WHERE application_name = 'stress busy' AND pid <> ALL (recent)
        ORDER BY random() LIMIT 1;
        CONTINUE WHEN target IS NULL;
        IF NOT pg_try_advisory_lock(2, target) THEN
            skipped := skipped + 1;   -- it is leaving its call right now
            CONTINUE;
        END IF;
        PERFORM pg_stat_clear_snapshot();
        IF EXISTS (SELECT FROM pg_stat_activity
                   WHERE pid = target AND application_name = 'stress busy') THEN
            PERFORM pg_cancel_backend(target);
            sent := sent + 1;
            recent := recent || target;
            recent_at := recent_at || clock_timestamp();
        ELSE
            skipped := skipped + 1;
        END IF;
        PERFORM pg_advisory_unlock(2, target);
    END LOOP;
    INSERT INTO stress.canceller VALUES (sent, skipped);
END
$$;
