#!/bin/bash
# tests/pg/stress/faults.sh - model files changed under running backends.
#
# Run against a throwaway cluster: tests/pg/run_regress.sh bash
# tests/pg/stress/faults.sh (make test-pg-stress does).  Each case works on
# copies in gpt.model_dir ($GPT_PG_MODEL_DIR) and checks what the issue
# asks: a model replaced by rename while a call reads it (the call finishes
# on the old mapping and gives the old model's result; the backend's next
# call, a new session and a changed gpt.model see the new file); a model
# removed (a backend that has it keeps working on its mapping, a new load
# gets "does not exist"); gpt.model naming a directory, a fifo, an empty
# file, also when one of them is renamed over a model a backend uses (a
# clear error, never a hang: every answer is awaited with a timeout);
# truncation in place while no call runs (the next call reopens the file
# and reports it).  The last case shows the one unsafe change: truncating
# the file while a call reads it kills that backend with SIGBUS, and
# PostgreSQL restarts every backend (the README says so; if this ever stops
# happening, the README must change).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
MD=${GPT_PG_MODEL_DIR:?run me through tests/pg/run_regress.sh}
LOG=${GPT_PG_LOG:?}
WORK=$(mktemp -d /tmp/gpt-faults.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
. "$HERE/session.sh"

FAILS=0
CHECKS=0
say() { echo "faults: $*"; }
# check WHAT GOT WANT
check() {
    CHECKS=$((CHECKS + 1))
    if [ "$2" == "$3" ]; then
        say "ok   $1"
    else
        say "FAIL $1"
        say "       got:  $2"
        say "       want: $3"
        FAILS=$((FAILS + 1))
    fi
}
# check_prefix WHAT GOT WANT_PREFIX
check_prefix() {
    case $2 in
        "$3"*) check "$1" "$3" "$3" ;;
        *) check "$1" "$2" "$3..." ;;
    esac
}
one() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
# put SRC NAME: a private copy of a test model in gpt.model_dir, readable
# by the server user (never a hard link: some cases truncate it).
put() {
    cp "$MD/$1" "$MD/$2.tmp"
    chmod a+r "$MD/$2.tmp"
    mv -f "$MD/$2.tmp" "$MD/$2"
}

GEN="SELECT gpt_generate('The cat sat on the', max_tokens => 8, temperature => 0)"
LONG="SELECT gpt_generate('Once upon a time', max_tokens => 160, temperature => 0)"
TIED="SELECT gpt_model_info()->>'tied_output'"

one 'CREATE EXTENSION IF NOT EXISTS gpt' >/dev/null
REF_F32=$(one "SET gpt.model = 'tiny-f32.gguf'; $GEN")
REF_UNTIED=$(one "SET gpt.model = 'tiny-untied-f32.gguf'; $GEN")
if [ "$REF_F32" == "$REF_UNTIED" ]; then
    say "FAIL: tiny-f32 and tiny-untied-f32 give the same text; the cases below could not tell them apart"
    exit 1
fi
REF_SLOW=$(one "SET gpt.model = 'slow.gguf'; SET gpt.threads = 1; $LONG")

# ---- 1. replaced by rename while a call reads it
put slow.gguf live.gguf
sq_open A
sq_open C
sq A "SET gpt.model = 'live.gguf'; SET gpt.threads = 1; SELECT gpt_token_count('x')" >/dev/null
sq C "SET gpt.model = 'live.gguf'; SELECT gpt_token_count('x')" >/dev/null   # idle holder
A_PID=$(sq A 'SELECT pg_backend_pid()')
sq_send A "$LONG"
sleep 0.5
STATE=$(one "SELECT state FROM pg_stat_activity WHERE pid = $A_PID")
check "1. the long call is running when the file is replaced" "$STATE" active
put tiny-untied-f32.gguf live.gguf          # copy, then rename over it
check "1. the running call finishes on the old mapping with the old result" \
    "$(sq_recv A)" "$REF_SLOW"
check "1. the same backend's next call opens the new file" "$(sq A "$TIED")" false
check "1. ... and gives the new model's result" "$(sq A "$GEN")" "$REF_UNTIED"
check "1. an idle backend that held the old file sees the new one" \
    "$(sq C "$GEN")" "$REF_UNTIED"
check "1. a new session sees the new file" \
    "$(one "SET gpt.model = 'live.gguf'; $GEN")" "$REF_UNTIED"
put tiny-f32.gguf live.gguf
check "1. changing gpt.model away and back sees the newest file" \
    "$(sq A "SET gpt.model = 'tiny-f16.gguf'; SELECT gpt_token_count('x'); SET gpt.model = 'live.gguf'; $GEN" | tail -1)" \
    "$REF_F32"

# ---- 2. removed while a backend has it
put tiny-f32.gguf gone.gguf
sq A "SET gpt.model = 'gone.gguf'" >/dev/null
check "2. before removal" "$(sq A "$GEN")" "$REF_F32"
rm "$MD/gone.gguf"
check "2. a backend that has it keeps working on its mapping" "$(sq A "$GEN")" "$REF_F32"
check "2. ... gpt_model_info too" "$(sq A "$TIED")" true
check "2. a new session gets a clear error" \
    "$(one "SET gpt.model = 'gone.gguf'; $GEN" 2>&1 | head -1)" \
    'ERROR:  model file "gone.gguf" does not exist'
check "2. after switching away, coming back gets the error" \
    "$(sq A "SET gpt.model = 'tiny-f16.gguf'; SELECT gpt_token_count('x') > 0; SET gpt.model = 'gone.gguf'; $GEN")" \
    'ERROR:  58P01: model file "gone.gguf" does not exist'

# ---- 3. a directory, a fifo, an empty file in place of the model a backend uses
put tiny-f32.gguf bad.gguf
sq A "SET gpt.model = 'bad.gguf'" >/dev/null
check "3. before" "$(sq A "$GEN")" "$REF_F32"
rm "$MD/bad.gguf"; mkdir "$MD/bad.gguf"
check "3. a directory" "$(sq A "$GEN")" 'ERROR:  42809: model file "bad.gguf" is not a regular file'
rmdir "$MD/bad.gguf"
mkfifo "$MD/bad.tmp"; chmod a+r "$MD/bad.tmp"; mv "$MD/bad.tmp" "$MD/bad.gguf"
check "3. a fifo renamed over it (no hang)" "$(sq A "$GEN")" \
    'ERROR:  42809: model file "bad.gguf" is not a regular file'
check "3. a fifo, new session (no hang)" \
    "$(timeout 30 psql -X -q -A -t -c "SET gpt.model = 'bad.gguf'; $GEN" 2>&1 | head -1)" \
    'ERROR:  model file "bad.gguf" is not a regular file'
: >"$MD/bad.tmp"; chmod a+r "$MD/bad.tmp"; mv "$MD/bad.tmp" "$MD/bad.gguf"
check "3. an empty file renamed over it" "$(sq A "$GEN")" \
    'ERROR:  XX001: model file "bad.gguf" is not a valid GPT-2 GGUF file'
check "3. ... the detail names the problem" \
    "$(one "SET gpt.model = 'bad.gguf'; $GEN" 2>&1 | grep DETAIL | sed 's|/.*/bad.gguf|$MD/bad.gguf|')" \
    'DETAIL:  $MD/bad.gguf: model file is empty'
put tiny-untied-f32.gguf bad.gguf
check "3. a good file renamed back: works again" "$(sq A "$GEN")" "$REF_UNTIED"

# ---- 4. truncated in place while no call runs
put tiny-f32.gguf trunc.gguf
sq A "SET gpt.model = 'trunc.gguf'" >/dev/null
check "4. before" "$(sq A "$GEN")" "$REF_F32"
truncate -s 4096 "$MD/trunc.gguf"
check_prefix "4. truncated while idle: the next call reopens and reports it" \
    "$(sq A "$GEN")" 'ERROR:  XX001: model file "trunc.gguf" is not a valid GPT-2 GGUF file'
check "4. ... the detail names the problem" \
    "$(one "SET gpt.model = 'trunc.gguf'; $GEN" 2>&1 | grep DETAIL | sed 's|/.*/trunc.gguf|$MD/trunc.gguf|')" \
    'DETAIL:  $MD/trunc.gguf: array tokenizer.ggml.tokens claims 50257 strings, more than the file can hold'
cat "$MD/tiny-f32.gguf" >"$MD/trunc.gguf"   # rewritten in place, still idle
check "4. rewritten in place while idle: the next call reopens it" "$(sq A "$GEN")" "$REF_F32"
check "4. the backend is the same one throughout" "$(sq A 'SELECT pg_backend_pid()')" "$A_PID"
sq_close A
sq_close C

if grep -q 'terminated by signal' "$LOG"; then
    say "FAIL: a backend crashed before the SIGBUS case:"
    grep 'terminated by signal' "$LOG"
    FAILS=$((FAILS + 1))
fi

# ---- 5. truncated in place while a call reads it: SIGBUS (the unsafe way)
put slow.gguf victim.gguf
sq_open V
sq V "SET gpt.model = 'victim.gguf'; SET gpt.threads = 1; SELECT gpt_token_count('x')" >/dev/null
sq_send V "$LONG"
sleep 0.5
truncate -s 4096 "$MD/victim.gguf"
V_OUT=$(sq_recv V || true)
sq_close V
check_prefix "5. truncated under a running call: the backend is killed" "$V_OUT" \
    "server closed the connection unexpectedly"
check "5. ... by SIGBUS, and the server restarts every backend" \
    "$(grep -c 'terminated by signal 7: Bus error' "$LOG")" 1
for _ in $(seq 60); do
    pg_isready -q && one 'SELECT 1' >/dev/null 2>&1 && break
    sleep 1
done
check "5. after the restart the truncated file gets a clear error" \
    "$(one "SET gpt.model = 'victim.gguf'; $GEN" 2>&1 | grep -v '^HINT' | sed 's|/.*/victim.gguf|$MD/victim.gguf|')" \
    'ERROR:  model file "victim.gguf" is not a valid GPT-2 GGUF file
DETAIL:  $MD/victim.gguf: array tokenizer.ggml.tokens claims 50257 strings, more than the file can hold'
rm -f "$MD"/live.gguf "$MD"/bad.gguf "$MD"/trunc.gguf "$MD"/victim.gguf

if [ "$FAILS" != 0 ]; then
    say "FAILED: $FAILS of $CHECKS checks"
    exit 1
fi
say "all $CHECKS checks passed"
