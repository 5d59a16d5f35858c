#!/bin/bash
# tests/pg/run_regress.sh - pg_regress for the gpt extension on a throwaway
# PostgreSQL cluster.
#
# Creates a cluster with initdb in a temporary directory, starts it on a
# Unix socket inside that directory (no TCP), runs `make -C pg_ext
# installcheck` and `installcheck-latin1` against it, prints the diffs on
# failure, then stops the server and removes the directory -- also when a
# test fails or the script is interrupted.  It never touches another server.
#
# initdb and postgres refuse to run as root: as root the server runs as the
# user $GPT_PG_USER (default gpttest, created when missing); pg_regress (the
# client) runs as the caller.  The extension must already be installed
# (make install-pg).  Test models: build/models/tiny-*.gguf (generated when
# missing), the default model, and slow.gguf = build/models/
# gpt2-124m-q8_0.gguf (124M-shaped random weights with a 1024-token
# context, generated when missing) for the cancel tests, which need calls
# that run for seconds whatever the default model is.  They are linked or
# copied into the cluster's own model directory, which gpt.model_dir
# points at.
#
# With arguments, runs them as a command against the same kind of cluster
# instead of the suites (PGHOST/PGPORT/PGUSER/PGDATABASE=postgres are set,
# GPT_PG_LOG is the server log, GPT_PG_MODEL_DIR is gpt.model_dir: a
# command may add model files there, readable by the server user), e.g.
# for stress tests and benchmarks:
#     tests/pg/run_regress.sh psql -c 'CREATE EXTENSION gpt'
#
# Environment: PG_CONFIG (default pg_config), GPT_PG_USER, PYTHON,
# GPT_PG_PRELOAD (a file of build/models the postmaster opens as gpt.model
# instead of default.gguf), KEEP_TMP=1 keeps the directory for debugging
# (the server is stopped).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}
PYTHON=${PYTHON:-/usr/bin/python3}
BINDIR=$("$PG_CONFIG" --bindir)
SHAREDIR=$("$PG_CONFIG" --sharedir)

log() { echo "run_regress: $*" >&2; }

# ---- who runs the server
if [ "$(id -u)" = 0 ]; then
    RUN_USER=${GPT_PG_USER:-gpttest}
    if ! id "$RUN_USER" >/dev/null 2>&1; then
        log "creating user $RUN_USER"
        useradd --system --no-create-home --shell /bin/sh "$RUN_USER"
    fi
    as_server() { runuser -u "$RUN_USER" -- "$@"; }
else
    RUN_USER=$(id -un)
    as_server() { "$@"; }
fi

# ---- test models
MODELS_SRC="$ROOT/build/models"
if ! ls "$MODELS_SRC"/tiny-*.gguf >/dev/null 2>&1; then
    log "generating test models in $MODELS_SRC"
    "$PYTHON" "$ROOT/tests/gen_models.py" --out "$MODELS_SRC"
fi

SLOW_SRC="$MODELS_SRC/gpt2-124m-q8_0.gguf"
if [ ! -f "$SLOW_SRC" ]; then
    log "generating $SLOW_SRC (for the cancel tests)"
    "$PYTHON" "$ROOT/tests/gen_models.py" --out "$MODELS_SRC" --big \
        --only gpt2-124m-q8_0.gguf --quiet
fi

TMP=$(mktemp -d /tmp/gpt-pg.XXXXXX)
DATA="$TMP/data"
STARTED=0
cleanup() {
    local rc=$?
    if [ "$STARTED" = 1 ]; then
        as_server "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            as_server "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
        # The postmaster we started must be gone whatever pg_ctl said.
        if [ -n "${PM_PID:-}" ] && kill -0 "$PM_PID" 2>/dev/null; then
            kill -9 "$PM_PID" 2>/dev/null || true
        fi
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the model directory the cluster may read (gpt.model_dir), with the
# bad files the tests need.  Everything lives inside $TMP.
MD="$TMP/models"
mkdir -p "$MD" "$TMP/outside" "$TMP/out"
cp "$MODELS_SRC"/tiny-*.gguf "$MD/"
DEFAULT_MODEL=""
for f in "$SHAREDIR/gpt/default.gguf" "$ROOT/models/default.gguf"; do
    if [ -f "$f" ]; then DEFAULT_MODEL=$f; break; fi
done
if [ -z "$DEFAULT_MODEL" ] && [ -f "$MODELS_SRC/gpt2-124m-q8_0.gguf" ]; then
    # No bundled model yet: a random-weight model of the same shape will do
    # for the tests (they check properties, not words).
    DEFAULT_MODEL="$MODELS_SRC/gpt2-124m-q8_0.gguf"
fi
if [ -n "$DEFAULT_MODEL" ]; then
    # A hard link when possible: the default model is large.
    ln "$DEFAULT_MODEL" "$MD/default.gguf" 2>/dev/null ||
        cp "$DEFAULT_MODEL" "$MD/default.gguf"
else
    log "warning: no default model (models/default.gguf); gpt_cancel will fail"
fi
# Hard links are not followed out of gpt.model_dir like symbolic links
# would be, so they are allowed.
ln "$SLOW_SRC" "$MD/slow.gguf" 2>/dev/null || cp "$SLOW_SRC" "$MD/slow.gguf"
printf 'this is not a GGUF file, only some text\n' >"$MD/corrupt.gguf"
head -c 24 "$MD/tiny-f32.gguf" >"$MD/truncated.gguf"
: >"$MD/empty.gguf"
mkdir "$MD/adir.gguf"
mkfifo "$MD/fifo.gguf"
cp "$MD/tiny-f32.gguf" "$TMP/outside/secret.gguf"
ln -s "$TMP/outside/secret.gguf" "$MD/escape.gguf"       # leads out: refused
ln -s tiny-f32.gguf "$MD/link.gguf"                       # stays inside: fine
chmod 755 "$TMP"
chmod -R a+rX "$MD" "$TMP/outside"
chown -R "$RUN_USER" "$TMP"

# ---- cluster
PORT=$(( 20000 + RANDOM % 30000 ))
as_server "$BINDIR/initdb" -D "$DATA" -U "$RUN_USER" -A trust -E UTF8 \
    --locale=C >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log"; exit 1; }
cat >>"$DATA/postgresql.conf" <<CONF
# throwaway test cluster (tests/pg/run_regress.sh)
listen_addresses = ''
unix_socket_directories = '$TMP'
port = $PORT
fsync = off
synchronous_commit = off
full_page_writes = off
max_worker_processes = 8
max_parallel_workers = 4
lc_messages = 'C'
shared_preload_libraries = 'gpt'
gpt.model_dir = '$MD'
CONF
STARTED=1
cp "$DATA/postgresql.conf" "$TMP/postgresql.conf.orig"
# Starts the cluster with the configuration above plus the lines given
# after the log file.
start_with() {
    local logfile=$1 line
    shift
    cp "$TMP/postgresql.conf.orig" "$DATA/postgresql.conf"
    for line in "$@"; do echo "$line" >>"$DATA/postgresql.conf"; done
    as_server "$BINDIR/pg_ctl" -D "$DATA" -l "$logfile" -w -t 60 start >/dev/null ||
        { log "FAIL: the server did not start with: $*"; cat "$logfile"; exit 1; }
}
stop_server() {
    as_server "$BINDIR/pg_ctl" -D "$DATA" -w -t 60 stop >/dev/null
}

# The postmaster opens gpt.model at startup (gpt.preload); a model it cannot
# open must not keep the server from starting: a warning, then on as usual.
start_with "$TMP/preload.log" "gpt.model = 'corrupt.gguf'"
stop_server
grep -q 'WARNING:  gpt: could not preload gpt.model: model file "corrupt.gguf" is not a valid GPT-2 GGUF file' "$TMP/preload.log" ||
    { log "FAIL: no preload warning for a corrupt gpt.model"; cat "$TMP/preload.log"; exit 1; }

# Loaded by a backend instead (no shared_preload_libraries, as `make demo`
# and many installations run it): CREATE EXTENSION and a call must work.
start_with "$TMP/nopreload.log" "shared_preload_libraries = ''"
NOPRELOAD=$(PGHOST="$TMP" PGPORT="$PORT" PGUSER="$RUN_USER" psql -X -qAt -d postgres \
    -v ON_ERROR_STOP=1 -c "CREATE EXTENSION gpt" \
    -c "SELECT gpt_token_count('hello world')" -c "DROP EXTENSION gpt" 2>&1) || true
stop_server
if [ "$NOPRELOAD" != 2 ]; then
    log "FAIL: without shared_preload_libraries, the extension does not work:"
    echo "$NOPRELOAD" >&2
    exit 1
fi

# GPT_PG_PRELOAD (bench/sql_bench.sh): a model of build/models for the
# postmaster to open instead of default.gguf.
PRELOAD_CONF=()
if [ -n "${GPT_PG_PRELOAD:-}" ]; then
    ln "$MODELS_SRC/$GPT_PG_PRELOAD" "$MD/$GPT_PG_PRELOAD" 2>/dev/null ||
        cp "$MODELS_SRC/$GPT_PG_PRELOAD" "$MD/$GPT_PG_PRELOAD"
    chmod a+r "$MD/$GPT_PG_PRELOAD"
    PRELOAD_CONF=("gpt.model = '$GPT_PG_PRELOAD'")
fi
start_with "$TMP/server.log" "${PRELOAD_CONF[@]}"
PM_PID=$(head -1 "$DATA/postmaster.pid")
log "server pid $PM_PID on $TMP port $PORT"

# shared_preload_libraries loaded gpt.so into the postmaster: it must not
# have started a thread (a forked backend would not have it).
NTHREADS=$(ls "/proc/$PM_PID/task" | wc -l)
if [ "$NTHREADS" != 1 ]; then
    log "FAIL: the postmaster has $NTHREADS threads after loading gpt"
    exit 1
fi

export PGHOST="$TMP" PGPORT="$PORT" PGUSER="$RUN_USER"
status=0
if [ $# -gt 0 ]; then
    PGDATABASE=postgres GPT_PG_LOG="$TMP/server.log" GPT_PG_MODEL_DIR="$MD" \
        "$@" || status=$?
    exit $status
fi
make -C "$ROOT/pg_ext" --no-print-directory installcheck \
    PG_CONFIG="$PG_CONFIG" REGRESS_OUTDIR="$TMP/out" || status=1
make -C "$ROOT/pg_ext" --no-print-directory installcheck-latin1 \
    PG_CONFIG="$PG_CONFIG" REGRESS_OUTDIR="$TMP/out/latin1" || status=1

if [ "$status" != 0 ]; then
    for d in "$TMP/out/regression.diffs" "$TMP/out/latin1/regression.diffs"; do
        if [ -s "$d" ]; then
            echo "======== $d"
            cat "$d"
        fi
    done
    echo "======== server log (last 50 lines)"
    tail -n 50 "$TMP/server.log"
fi
if grep -q 'terminated by signal' "$TMP/server.log"; then
    log "FAIL: a backend crashed:"
    grep 'terminated by signal' "$TMP/server.log" >&2
    status=1
fi
exit $status
