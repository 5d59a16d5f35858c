#!/bin/bash
# tests/pg/stress.sh - PostgreSQL under load, cancels and model file faults
# (make test-pg-stress; the extension must be installed: make install-pg).
#
# Three parts, each on its own throwaway cluster (tests/pg/run_regress.sh):
#
#  1. pgbench: $STRESS_CLIENTS (8) clients for $STRESS_SECONDS (60) seconds
#     run every SQL function with valid and invalid arguments on the tiny
#     models, slow.gguf and bad model files (tests/pg/stress/setup.sql),
#     while tests/pg/stress/canceller.sql calls pg_cancel_backend on them at
#     random.  Checks: the postmaster never restarted (same
#     pg_postmaster_start_time, no crash lines in the server log), pgbench
#     aborted no client, every successful result equals the single-client
#     result of the same call (computed first, in one session), and every
#     error is the call's own SQLSTATE or a cancel (57014).
#  2. build/pg_cancel_test: 200 cancels at random moments of prefill,
#     decode and batch calls; each call returns within 200 ms, the backend
#     answers the next query, its VmRSS grows by less than 1 MB.
#  3. tests/pg/stress/faults.sh: model files renamed, removed, replaced by
#     bad files and truncated under running backends.
#
# Usage: tests/pg/stress.sh [pgbench|cancel|faults]...  (default: all three)
# Environment: STRESS_SECONDS, STRESS_CLIENTS, CANCELS (200), BUILD (build),
# PG_CONFIG, and run_regress.sh's.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
S="$ROOT/tests/pg/stress"
BUILD=${BUILD:-build}
export STRESS_SECONDS=${STRESS_SECONDS:-60} STRESS_CLIENTS=${STRESS_CLIENTS:-8}
CANCELS=${CANCELS:-200}
PARTS=${*:-pgbench cancel faults}
summary=()
status=0

# ---- 1. pgbench (runs inside the cluster: run_regress.sh stress.sh --inner-pgbench)
inner_pgbench() {
    local out start0 start1 crash bad pgrc
    out=$(mktemp -d /tmp/gpt-stress.XXXXXX)
    trap 'rm -rf "$out"' RETURN
    psql -X -q -v ON_ERROR_STOP=1 -f "$S/setup.sql" >/dev/null
    echo "stress: single-client reference of $(psql -X -A -t -c 'SELECT count(*) FROM stress.calls') calls"
    psql -X -q -v ON_ERROR_STOP=1 -c "INSERT INTO stress.reference
        SELECT id, (e).outcome, (e).result
        FROM (SELECT id, stress.exec(id) AS e FROM stress.calls ORDER BY model, id) s"
    bad=$(psql -X -A -t -F ' | ' -c "SELECT c.id, c.model, c.expect, f.outcome, c.sql
        FROM stress.calls c JOIN stress.reference f USING (id)
        WHERE f.outcome <> c.expect")
    if [ -n "$bad" ]; then
        echo "stress: FAIL: calls whose single-client outcome is not the expected one:"
        echo "$bad"
        return 1
    fi
    start0=$(psql -X -A -t -c 'SELECT pg_postmaster_start_time()')
    local ntiny ncalls
    ntiny=$(psql -X -A -t -c 'SELECT stress.ntiny()')
    ncalls=$(psql -X -A -t -c 'SELECT max(id) FROM stress.calls')

    psql -X -q -v ON_ERROR_STOP=1 -v seconds="$STRESS_SECONDS" \
        -f "$S/canceller.sql" >"$out/canceller.log" 2>&1 &
    local cpid=$!
    pgrc=0
    pgbench -n -c "$STRESS_CLIENTS" -j 2 -T "$STRESS_SECONDS" \
        -D ntiny="$ntiny" -D ncalls="$ncalls" \
        -f "$S/tiny.pgbench@9" -f "$S/slow.pgbench@1" >"$out/pgbench.log" 2>&1 || pgrc=$?
    wait "$cpid" || { echo "stress: FAIL: the canceller failed:"; cat "$out/canceller.log"; return 1; }

    local fails=0
    if [ "$pgrc" != 0 ] || grep -qi 'aborted\|error' "$out/pgbench.log"; then
        echo "stress: FAIL: pgbench exited with $pgrc:"
        cat "$out/pgbench.log"
        fails=1
    fi
    start1=$(psql -X -A -t -c 'SELECT pg_postmaster_start_time()')
    if [ "$start0" != "$start1" ]; then
        echo "stress: FAIL: the postmaster restarted ($start0 -> $start1)"
        fails=1
    fi
    crash=$(grep -E 'terminated by signal|server process .* (was terminated|exited with)|PANIC|terminating any other active' "$GPT_PG_LOG" || true)
    if [ -n "$crash" ]; then
        echo "stress: FAIL: crash lines in the server log:"
        echo "$crash"
        fails=1
    fi
    psql -X -q -v ON_ERROR_STOP=1 -f "$S/check.sql" >"$out/check.txt"
    if [ -s "$out/check.txt" ]; then
        echo "stress: FAIL: (id | model | sql | ...)"
        head -c 20000 "$out/check.txt"
        fails=1
    fi
    local sums tps sent
    sums=$(psql -X -A -t -F ' ' -c "SELECT count(*), count(*) FILTER (WHERE outcome = 'ok'),
        count(*) FILTER (WHERE outcome NOT IN ('ok', '57014')),
        count(*) FILTER (WHERE outcome = '57014'), coalesce(sum(late_cancels), 0),
        count(DISTINCT id), count(*) FILTER (WHERE id > stress.ntiny()),
        count(*) FILTER (WHERE id > stress.ntiny() AND outcome = 'ok')
        FROM stress.results")
    sent=$(psql -X -A -t -c 'SELECT sent FROM stress.canceller')
    tps=$(grep -o 'tps = [0-9.]*' "$out/pgbench.log" | head -1 || true)
    read -r n ok experr canc late distinct nslow okslow <<<"$sums"
    # The run must have exercised what it claims to.
    if [ "$n" -lt 100 ] || [ "$canc" -lt 20 ] || [ "$ok" -lt 50 ]; then
        echo "stress: FAIL: too little happened to be a test ($n calls, $canc cancelled, $ok ok)"
        fails=1
    fi
    echo "stress: pgbench $STRESS_CLIENTS clients ${STRESS_SECONDS}s: $n calls ($distinct distinct; $nslow on slow.gguf, $okslow of them ok), $ok ok = single-client result, $experr expected errors, $canc cancelled ($sent pg_cancel_backend sent, $late arrived after the call), ${tps:-tps ?}; postmaster start time unchanged: $([ "$start0" == "$start1" ] && echo yes || echo NO)"
    [ "$fails" == 0 ]
}

if [ "${1:-}" == --inner-pgbench ]; then
    inner_pgbench
    exit $?
fi

run_part() {
    local name=$1 t0 t1 rc=0 log
    shift
    log=$(mktemp /tmp/gpt-stress-part.XXXXXX)
    t0=$(date +%s)
    "$@" 2>&1 | tee "$log" || rc=$?
    t1=$(date +%s)
    summary+=("$name: $([ $rc == 0 ] && echo passed || echo FAILED) in $((t1 - t0))s - $(grep -E '^(stress|cancel_test|faults): (pgbench|[0-9]+ cancels|backend|VmRSS|all|FAILED)' "$log" | sed 's/^[a-z_]*: //' | paste -sd ';' -)")
    rm -f "$log"
    [ $rc == 0 ] || status=1
}

RR="$ROOT/tests/pg/run_regress.sh"
for p in $PARTS; do
    case $p in
        pgbench) run_part pgbench "$RR" bash "$0" --inner-pgbench ;;
        cancel)
            [ -x "$ROOT/$BUILD/pg_cancel_test" ] ||
                { echo "stress: $BUILD/pg_cancel_test is missing (make test-pg-stress builds it)"; exit 1; }
            run_part cancel "$RR" bash -c \
                'psql -X -q -c "CREATE EXTENSION gpt" && "$0" --cancels "$1"' \
                "$ROOT/$BUILD/pg_cancel_test" "$CANCELS" ;;
        faults) run_part faults "$RR" bash "$S/faults.sh" ;;
        *) echo "stress: unknown part $p (pgbench, cancel, faults)"; exit 2 ;;
    esac
done
echo "======== tests/pg/stress.sh"
for l in "${summary[@]}"; do echo "  $l"; done
exit $status
