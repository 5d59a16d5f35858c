#!/bin/bash
# tools/demo.sh - `make demo`: the quick start, end to end.
#
# Installs missing Debian packages, builds, installs the PostgreSQL extension
# with the bundled model, then asks both databases for a continuation of
# "The cat is lying on the" and for its next-token probabilities:
#   1. SQLite: the real sqlite3 shell loads ./sqlite_ext/gpt;
#   2. PostgreSQL: a throwaway cluster in a temporary directory (Unix socket
#      only, run by a non-root user), removed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PG_CONFIG=${PG_CONFIG:-pg_config}
PROMPT='The cat is lying on the'

sh tools/install-deps.sh
make -s all
make -s install-pg >/dev/null

echo
echo "=== SQLite (sqlite3 -cmd '.load ./sqlite_ext/gpt') ==="
sqlite3 -batch -cmd '.load ./sqlite_ext/gpt' -cmd '.mode box' :memory: <<SQL
SELECT '$PROMPT' AS prompt, gpt_generate('$PROMPT', '{"max_tokens": 24}') AS continuation;
SELECT rank, token, round(prob, 4) AS prob FROM gpt_next_token_probs('$PROMPT', 5);
SQL

echo
echo "=== PostgreSQL (throwaway cluster) ==="
BINDIR=$("$PG_CONFIG" --bindir)
if [ "$(id -u)" = 0 ]; then
    RUN_USER=${GPT_PG_USER:-gpttest}
    id "$RUN_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/sh "$RUN_USER"
    as_server() { runuser -u "$RUN_USER" -- "$@"; }
else
    RUN_USER=$(id -un)
    as_server() { "$@"; }
fi
TMP=$(mktemp -d /tmp/gpt-demo.XXXXXX)
chmod 755 "$TMP"
chown "$RUN_USER" "$TMP"
cleanup() {
    as_server "$BINDIR/pg_ctl" -D "$TMP/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
PORT=$(( 20000 + RANDOM % 30000 ))
as_server "$BINDIR/initdb" -D "$TMP/data" -U "$RUN_USER" -A trust -E UTF8 --locale=C >"$TMP/initdb.log" 2>&1 ||
    { cat "$TMP/initdb.log"; exit 1; }
printf "listen_addresses = ''\nunix_socket_directories = '%s'\nport = %d\n" "$TMP" "$PORT" >>"$TMP/data/postgresql.conf"
as_server "$BINDIR/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w start >/dev/null ||
    { cat "$TMP/server.log"; exit 1; }
"$BINDIR/psql" -X -h "$TMP" -p "$PORT" -U "$RUN_USER" -d postgres -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION gpt;
SELECT '$PROMPT' AS prompt, gpt_generate('$PROMPT', max_tokens => 24) AS continuation;
SELECT rank, token, round(prob::numeric, 4) AS prob FROM gpt_next_token_probs('$PROMPT', 5);
SQL
