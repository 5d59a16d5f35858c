#!/bin/sh
# tests/sqlite/run.sh - every SQLite module test (called by `make test-sqlite`
# from the repository root, after the module and the test programs are built).
#
#  1. test_options: the JSON options parser, alone.
#  2. tests/sqlite/*.sql through the real sqlite3 shell, each output diffed
#     against tests/sqlite/NAME.expected (the expected files are the spec:
#     review every line).  A first line "-- env: VAR=value ..." sets
#     variables for that file.  The shell gets the parameters @models (test
#     models) and @tmp (a scratch directory holding broken model files);
#     the scratch path and the repository path are replaced by $TMP and
#     $ROOT in the output before diffing (the env line may name both
#     too).
#  3. Ctrl-C: SIGINT to a shell running a long generation (one by one, in
#     a batch, streamed, or scoring choices) stops it quickly; the default
#     model is found next to an installed module.
#  4. test_threads: several connections in several threads, one model.
#  5. Debian's Python loads the module through its sqlite3 module, and its
#     results are compared byte for byte with the CLI's (build/gpt).
#
# Environment: GPT_TEST_MODELS (default build/models), PYTHON
# (/usr/bin/python3), SQLITE3 (sqlite3), SQLITE_THREADS_TEST and
# SQLITE_OPTIONS_TEST (the built test programs), SANITIZE=1 (the module was
# built with ASan/UBSan: preload the runtime into programs that were not),
# UPDATE=1 (write the actual outputs as the new expected files - then review
# them with git diff).
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$(pwd)
MODELS=${GPT_TEST_MODELS:-build/models}
PYTHON=${PYTHON:-/usr/bin/python3}
SQLITE3=${SQLITE3:-sqlite3}
BUILD_DIR=build
[ "${SANITIZE:-}" = 1 ] && BUILD_DIR=build-san
THREADS_TEST=${SQLITE_THREADS_TEST:-$BUILD_DIR/sqlite/test_threads}
OPTIONS_TEST=${SQLITE_OPTIONS_TEST:-$BUILD_DIR/sqlite/test_options}
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

if [ ! -f "$MODELS/tiny-f32.gguf" ] && [ -f tests/gen_models.py ]; then
    "$PYTHON" tests/gen_models.py --out "$MODELS" >/dev/null || exit 2
fi
# timeout.sql needs calls that run for far longer than its 1 ms limit on
# any machine: a 124M-shaped model (random weights), as the PostgreSQL
# cancel tests use.
if [ ! -f "$MODELS/gpt2-124m-q8_0.gguf" ] && [ -f tests/gen_models.py ]; then
    "$PYTHON" tests/gen_models.py --out "$MODELS" --big \
        --only gpt2-124m-q8_0.gguf --quiet || exit 2
fi
for m in tiny-f32 tiny-f16 tiny-q8_0 gpt2-124m-q8_0; do
    if [ ! -f "$MODELS/$m.gguf" ]; then
        echo "sqlite: missing test model $MODELS/$m.gguf" >&2
        exit 2
    fi
done

# Programs not built with the sanitizers (sqlite3, python3) need the ASan
# runtime loaded first to load a sanitized module.
# Leak checking stays on for our own test programs; in the hosts it would
# report the host's own exit-time allocations.
PRELOAD=
if [ "${SANITIZE:-}" = 1 ]; then
    PRELOAD="LD_PRELOAD=$(${CC:-cc} -print-file-name=libasan.so)"
    PRELOAD="$PRELOAD ASAN_OPTIONS=detect_leaks=0"
fi
run_host() { # a program that is not sanitized itself
    env $PRELOAD "$@"
}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
# Broken model files for the error tests.
: > "$TMP/empty.gguf"
printf 'hello, I am not a model' > "$TMP/text.gguf"
head -c 1000 "$MODELS/tiny-f32.gguf" > "$TMP/truncated.gguf"
mkdir "$TMP/dir.gguf"
# Results must not depend on the thread count; one thread keeps the test
# quick on a busy machine (test_threads compares 1 and 2).
export GPT_THREADS=1
export GPT_MODEL="$MODELS/tiny-f32.gguf"

# 1. the options parser
if [ -x "$OPTIONS_TEST" ]; then
    if "$OPTIONS_TEST" > "$TMP/out" 2>&1; then
        ok "test_options ($(tail -1 "$TMP/out"))"
    else
        cat "$TMP/out"
        bad test_options
    fi
fi

# 2. shell scripts
for sql in tests/sqlite/*.sql; do
    name=$(basename "$sql" .sql)
    expected=tests/sqlite/$name.expected
    envs=$(sed -n '1s/^-- env: //p' "$sql" |
           sed -e "s#@tmp#$TMP#g" -e "s#@models#$MODELS#g")
    # -batch: no prompts; no -bail, so every error of a file is checked.
    # stdbuf: line-buffer stdout so results and errors keep their order.
    run_host env $envs stdbuf -oL "$SQLITE3" -batch -init /dev/null \
        -cmd ".parameter set @models '$MODELS'" \
        -cmd ".parameter set @tmp '$TMP'" \
        :memory: < "$sql" 2>&1 |
        sed -e "s#$TMP#\$TMP#g" -e "s#$ROOT#\$ROOT#g" > "$TMP/$name.out"
    if [ "${UPDATE:-}" = 1 ]; then
        cp "$TMP/$name.out" "$expected"
    fi
    if diff -u "$expected" "$TMP/$name.out" > "$TMP/$name.diff" 2>&1; then
        ok "$sql"
    else
        cat "$TMP/$name.diff"
        bad "$sql"
    fi
done

# 3. Ctrl-C: the shell's SIGINT handler calls sqlite3_interrupt(); the
# module must notice it inside a call into the core (each query runs for
# minutes otherwise): gpt_generate over many rows, one gpt_generate_each
# batch of 5000 prompts (its message must name it: the whole statement is
# one call), streams and gpt_choose over many rows (where SQLite itself may
# also see the interrupt between rows).
sigint_test() { # NAME SQL [MESSAGE]
    printf '%s\n' ".load ./sqlite_ext/gpt" "$2" > "$TMP/long.sql"
    # env execs the shell, so $! is the shell itself (a function or subshell
    # here would get the signal instead, and ignore it).
    env $PRELOAD "$SQLITE3" -batch -init /dev/null \
        :memory: < "$TMP/long.sql" > "$TMP/sigint.out" 2>&1 &
    pid=$!
    sleep 1
    start=$(date +%s%N)
    kill -INT $pid
    wait $pid
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    if grep -q "${3:-interrupted}" "$TMP/sigint.out" && [ $ms -lt 1000 ]; then
        ok "Ctrl-C stops $1 (${ms} ms: $(grep interrupted "$TMP/sigint.out"))"
    else
        cat "$TMP/sigint.out"
        bad "Ctrl-C stops $1 (${ms} ms)"
    fi
}
MANY="WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < 1000000)"
sigint_test gpt_generate \
    "$MANY SELECT count(gpt_generate(printf('%0120d', 0), json_object('seed', v, 'max_tokens', 8))) FROM s;"
sigint_test gpt_generate_each \
    "SELECT count(*) FROM gpt_generate_each((WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < 5000) SELECT json_group_array(printf('%0120d', v)) FROM s), '{\"max_tokens\": 8}');" \
    "gpt_generate_each: interrupted"
sigint_test gpt_generate_tokens \
    "$MANY SELECT count(*) FROM s, gpt_generate_tokens(printf('%0120d', v), '{\"max_tokens\": 100}');"
sigint_test gpt_choose \
    "$MANY SELECT count(gpt_choose(printf('%0100d', v), '[\" yes\", \" no\", \" maybe\"]')) FROM s;"

# 3b. The default model next to the module, and `.load gpt` by name through
# the library path, as after `make install` (a copy in a scratch prefix).
mkdir -p "$TMP/prefix/lib" "$TMP/prefix/models"
cp sqlite_ext/gpt.so "$TMP/prefix/lib/gpt.so"
cp "$MODELS/tiny-q8_0.gguf" "$TMP/prefix/models/default.gguf"
got=$(cd "$TMP" && env -u GPT_MODEL LD_LIBRARY_PATH="$TMP/prefix/lib" \
      $PRELOAD "$SQLITE3" -batch -init /dev/null :memory: ".load gpt" \
      "SELECT json_extract(gpt_model_info(), '\$.path') || ' ' || gpt_tokenize('Hi');" 2>&1)
if [ "$got" = "$TMP/prefix/models/default.gguf [17250]" ]; then
    ok "default model found next to the module; .load gpt by name"
else
    echo "$got"
    bad "default model found next to the module; .load gpt by name"
fi

# 4. threads
if [ -x "$THREADS_TEST" ]; then
    if "$THREADS_TEST" ./sqlite_ext/gpt.so "$MODELS/tiny-f32.gguf" \
        > "$TMP/threads.out" 2>&1; then
        ok "test_threads ($(tail -1 "$TMP/threads.out"))"
    else
        cat "$TMP/threads.out"
        bad test_threads
    fi
else
    bad "test_threads (not built: $THREADS_TEST)"
fi

# 5. Python
if run_host "$PYTHON" tests/sqlite/test_python.py ./sqlite_ext/gpt \
    "${GPT_CLI:-$BUILD_DIR/gpt}" > "$TMP/python.out" 2>&1; then
    ok "test_python.py ($(tail -1 "$TMP/python.out"))"
else
    cat "$TMP/python.out"
    bad test_python.py
fi

echo "sqlite: $pass passed, $fail failed"
[ $fail -eq 0 ]
