#!/bin/sh
# bench/run.sh - `make bench` (bench/bench.mk builds the core, the CLI,
# the SQLite module, the helpers, and installs the PostgreSQL extension
# first).  Prepares what the benchmark needs, measures (bench/run.py ->
# build/bench/results.json), then writes BENCHMARKS.md and docs/bench_*.png
# (bench/report.py).  Arguments go to bench/run.py, e.g.:
#
#   sh bench/run.sh [--quick] [--runs N] [--threads 1,2]
#                   [--formats f32,f16,q8_0] [--prompts 128,512] [--gen 128]
#                   [--only core,batch,context,prefix,sql] [--no-sql]
#                   [--sql-args '--pgbench-seconds 20'] [--no-llama]
#
# (/usr/bin/python3 bench/run.py --help lists them all.)
# Needs: node + npm (Debian nodejs, npm) for llama.cpp and tiktoken, both
# from the npm registry at pinned versions into build/npm; gnuplot-nox for
# the plots; the corpus script in ../shared (SHARED_DIR overrides).
# LLAMA_BUDGET_S (default 240): seconds after which a llama.cpp
# configuration does one run per prompt length only (on a loaded machine
# its multi-threaded decode can fall under 1 token/s).
set -eu
cd "$(dirname "$0")/.."

PY=${PYTHON:-/usr/bin/python3}
SHARED_DIR=${SHARED_DIR:-../shared}
NPM_DIR=build/npm
# pinned: llama.cpp b6845 CPU build, tiktoken 1.0.22
NPM_PKGS="node-llama-cpp@3.14.2 @node-llama-cpp/linux-x64@3.14.2 tiktoken@1.0.22"

apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "bench: apt-get install $*" >&2
        apt-get install -y -q "$@" >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null 2>&1 &&
              apt-get install -y -q "$@" >/dev/null 2>&1; } || true
    fi
}

# the 124M-shaped models and the tiny one
for f in gpt2-124m-f32 gpt2-124m-f16 gpt2-124m-q8_0 tiny-f32; do
    if [ ! -f "build/models/$f.gguf" ]; then
        echo "bench: generating build/models (tests/gen_models.py --big)" >&2
        "$PY" tests/gen_models.py --out build/models --big
        break
    fi
done

# the tokenizer corpus (checked against its sha256 by the script)
if [ ! -f build/corpus.txt ]; then
    sh "$SHARED_DIR/data/tokenizer/make_corpus.sh" build/corpus.txt >&2
fi

# llama.cpp and tiktoken from npm.  --omit=optional keeps the GPU builds
# (hundreds of MB) out; --ignore-scripts skips node-llama-cpp's postinstall,
# which would try to download or build llama.cpp: the prebuilt CPU binaries
# of @node-llama-cpp/linux-x64 are all we use.
LLAMA=""
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
if command -v node >/dev/null && command -v npm >/dev/null; then
    if [ ! -d "$NPM_DIR/node_modules/@node-llama-cpp/linux-x64" ] ||
       [ ! -d "$NPM_DIR/node_modules/tiktoken" ]; then
        mkdir -p "$NPM_DIR"
        echo "bench: npm install $NPM_PKGS" >&2
        (cd "$NPM_DIR" && npm install --no-save --no-audit --no-fund \
            --omit=optional --ignore-scripts $NPM_PKGS >&2) || true
    fi
    if [ -d "$NPM_DIR/node_modules/@node-llama-cpp/linux-x64" ]; then
        LLAMA=yes
    fi
fi
if [ -z "$LLAMA" ]; then
    echo "bench: WARNING: no node/npm or npm install failed; running without llama.cpp and tiktoken" >&2
    set -- "$@" --no-llama
fi

command -v gnuplot >/dev/null || apt_install gnuplot-nox

# measures, then writes the report (bench/report.py)
NPM_DIR=$NPM_DIR exec "$PY" bench/run.py "$@"
