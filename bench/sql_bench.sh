#!/bin/sh
# bench/sql_bench.sh - the database part of `make bench` (bench/run.py runs
# it; `make bench-sql` runs it alone): bench/sql_bench.py on a throwaway
# PostgreSQL cluster from tests/pg/run_regress.sh.  Needs the CLI,
# sqlite_ext/gpt.so, the installed extension (make install-pg; bench/bench.mk
# does it), sqlite3, psql and pgbench (Debian postgresql-client, sqlite3).
# Writes build/bench/sql.json (or --out).  Arguments go to
# bench/sql_bench.py, e.g.
#     sh bench/sql_bench.sh --runs 3 --pgbench-seconds 20 --clients 1,2,4,8
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
for t in sqlite3 psql pgbench; do
    command -v "$t" >/dev/null || { echo "bench-sql: $t is missing" >&2; exit 1; }
done
if [ ! -f build/models/gpt2-124m-q8_0.gguf ]; then
    "$PY" tests/gen_models.py --out build/models --big --only gpt2-124m-q8_0.gguf --quiet
fi
# the prompts are cut from the tokenizer corpus
if [ ! -f build/corpus.txt ]; then
    sh "${SHARED_DIR:-../shared}/data/tokenizer/make_corpus.sh" build/corpus.txt >&2
fi
# the postmaster opens the benchmark's model at startup (gpt.preload), as a
# server configured for it would; the attach part also times a backend that
# opens it itself
export GPT_PG_PRELOAD=gpt2-124m-q8_0.gguf
exec tests/pg/run_regress.sh "$PY" "$PWD/bench/sql_bench.py" \
    --cmd "make bench-sql${*:+ BENCH_SQL_ARGS='$*'}" "$@"
