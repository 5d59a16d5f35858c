#!/bin/bash
# tests/cross/run.sh - the same inputs give byte-identical results in the
# CLI (build/gpt), the SQLite module (sqlite_ext/gpt.so in the sqlite3
# shell) and the PostgreSQL extension (psql against a throwaway cluster).
#
# For every model, prompt and option set it compares, as bytes (hex):
#   gen      gpt generate           gpt_generate(p, opts)     gpt_generate(p, ...)
#   stream   gpt generate --stream  group_concat over          string_agg over
#                                   gpt_generate_tokens        gpt_generate_tokens
#   batch    gpt generate (each)    gpt_generate_each(json)   gpt_generate(text[])
# and for every model and prompt the token ids of
#   tok      gpt tokenize           gpt_tokenize              gpt_tokenize
#   probs    gpt probs --k 10       gpt_next_token_probs      gpt_next_token_probs
#   logprobs gpt logprobs           gpt_token_logprobs        gpt_token_logprobs
# Each comparison of the three is one check; the last line is
# "cross: N passed, M failed" and the exit status is 1 when M > 0.
#
# Run from anywhere (make test-cross builds everything first).  It starts
# itself again inside tests/pg/run_regress.sh, which provides the cluster
# (PG* variables) and its model directory (GPT_PG_MODEL_DIR), into which
# the models under test are copied so that all three read the same file.
# Environment: PG_CONFIG, PYTHON (as for run_regress.sh), CROSS_VERBOSE=1
# prints every check, CROSS_KEEP=1 keeps each host's output (of the last
# model) in /tmp/gpt-cross.*.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${GPT_PG_MODEL_DIR:-}" ]; then
    exec bash "$ROOT/tests/pg/run_regress.sh" bash "$ROOT/tests/cross/run.sh" "$@"
fi
cd "$ROOT"

CLI=./build/gpt
SQLITE_EXT=./sqlite_ext/gpt
for f in "$CLI" "$SQLITE_EXT.so"; do
    [ -e "$f" ] || { echo "cross: $f is missing (make cli sqlite)" >&2; exit 1; }
done

W=$(mktemp -d /tmp/gpt-cross.XXXXXX)
if [ "${CROSS_KEEP:-0}" = 1 ]; then
    echo "cross: keeping $W" >&2
else
    trap 'rm -rf "$W"' EXIT
fi

# ---- inputs
PROMPTS=(
    'The cat is lying on the'
    '讲一个“行权”和“A+”的故事'
    '<|endoftext|>'
    ''
    $'Line one\n\t"quoted" it\'s \\ back'
)
NP=${#PROMPTS[@]}
for i in "${!PROMPTS[@]}"; do
    printf '%s' "${PROMPTS[$i]}" >"$W/p$i"
done

# Option sets: name, CLI flags, SQLite JSON, PostgreSQL named arguments.
OPT_NAMES=(defaults greedy sampled stops)
OPT_CLI=(
    ''
    '--max-tokens 20 --temperature 0'
    '--max-tokens 24 --temperature 1.2 --top-k 0 --top-p 0.9 --seed 42'
    '--max-tokens 30 --seed 7 --stop the --stop .'
)
OPT_SQLITE=(
    '{}'
    '{"max_tokens": 20, "temperature": 0}'
    '{"max_tokens": 24, "temperature": 1.2, "top_k": 0, "top_p": 0.9, "seed": 42}'
    '{"max_tokens": 30, "seed": 7, "stop": ["the", "."]}'
)
OPT_PG=(
    ''
    ', max_tokens => 20, temperature => 0'
    ', max_tokens => 24, temperature => 1.2, top_k => 0, top_p => 0.9, seed => 42'
    ', max_tokens => 30, seed => 7, stop => ARRAY[$$the$$, $$.$$]'
)

# Models: name and file.  The tiny models cover F32 and Q8_0 kernels, the
# default model a trained one.
MODELS=()
for f in ${CROSS_MODELS:-build/models/tiny-f32.gguf build/models/tiny-q8_0.gguf models/default.gguf}; do
    [ -f "$f" ] && MODELS+=("$f")
done

hex() { od -An -tx1 -v | tr -d ' \n' | tr a-f A-F; }

# ---- one host at a time; each writes "key<TAB>value" lines

run_cli() { # model -> stdout
    local m=$1 i o out
    for i in $(seq 0 $((NP - 1))); do
        local p=${PROMPTS[$i]}
        for o in "${!OPT_NAMES[@]}"; do
            # shellcheck disable=SC2086 # the flags are words
            out=$("$CLI" generate --model "$m" --threads 1 ${OPT_CLI[$o]} "$p" | hex)
            printf 'gen/%s/%d\t%s\n' "${OPT_NAMES[$o]}" "$i" "${out%0A}"
            printf 'batch/%s/%d\t%s\n' "${OPT_NAMES[$o]}" "$i" "${out%0A}"
            # shellcheck disable=SC2086
            out=$("$CLI" generate --stream --model "$m" --threads 1 ${OPT_CLI[$o]} "$p" | hex)
            printf 'stream/%s/%d\t%s\n' "${OPT_NAMES[$o]}" "$i" "${out%0A}"
        done
        printf 'tok/%d\t%s\n' "$i" "$("$CLI" tokenize --model "$m" "$p" | tr -d '[] \n')"
        printf 'probs/%d\t%s\n' "$i" \
            "$("$CLI" probs --model "$m" --threads 1 --k 10 "$p" | cut -f2 | paste -sd,)"
        printf 'logprobs/%d\t%s\n' "$i" \
            "$("$CLI" logprobs --model "$m" --threads 1 "$p" | grep -o '\[[0-9]*,' | tr -d '[,' | paste -sd,)"
    done
}

run_sqlite() { # model -> stdout
    local m=$1 i o sql="" all=""
    P() { printf "CAST(readfile('%s/p%d') AS TEXT)" "$W" "$1"; }
    for i in $(seq 0 $((NP - 1))); do
        all+="${all:+, }$(P "$i")"
    done
    for o in "${!OPT_NAMES[@]}"; do
        local n=${OPT_NAMES[$o]} js=${OPT_SQLITE[$o]}
        for i in $(seq 0 $((NP - 1))); do
            sql+="SELECT 'gen/$n/$i', hex(gpt_generate($(P "$i"), '$js'));"$'\n'
            sql+="SELECT 'stream/$n/$i', hex(coalesce((SELECT group_concat(token, '') FROM (SELECT token FROM gpt_generate_tokens($(P "$i"), '$js') ORDER BY step)), ''));"$'\n'
        done
        sql+="SELECT 'batch/$n/' || idx, hex(completion) FROM gpt_generate_each(json_array($all), '$js') ORDER BY idx;"$'\n'
    done
    for i in $(seq 0 $((NP - 1))); do
        sql+="SELECT 'tok/$i', replace(replace(replace(gpt_tokenize($(P "$i")), '[', ''), ']', ''), ' ', '');"$'\n'
        sql+="SELECT 'probs/$i', (SELECT group_concat(token_id, ',') FROM (SELECT token_id FROM gpt_next_token_probs($(P "$i"), 10) ORDER BY rank));"$'\n'
        sql+="SELECT 'logprobs/$i', coalesce((SELECT group_concat(token_id, ',') FROM (SELECT token_id FROM gpt_token_logprobs($(P "$i")) ORDER BY pos)), '');"$'\n'
    done
    printf '%s' "$sql" >"$W/sqlite.sql"
    GPT_MODEL="$m" GPT_THREADS=1 sqlite3 -batch -separator $'\t' \
        -cmd ".load $SQLITE_EXT" :memory: <"$W/sqlite.sql"
}

run_pg() { # file name inside gpt.model_dir -> stdout
    local name=$1 i o sql="" all="" vars=()
    for i in $(seq 0 $((NP - 1))); do
        vars+=(-v "p$i=${PROMPTS[$i]}")
        all+="${all:+, }:'p$i'"
    done
    sql+="SET gpt.model = '$name';"$'\n'"SET gpt.threads = 1;"$'\n'
    for o in "${!OPT_NAMES[@]}"; do
        local n=${OPT_NAMES[$o]} a=${OPT_PG[$o]}
        for i in $(seq 0 $((NP - 1))); do
            sql+="SELECT 'gen/$n/$i', upper(encode(convert_to(gpt_generate(:'p$i'$a), 'UTF8'), 'hex'));"$'\n'
            sql+="SELECT 'stream/$n/$i', upper(encode(convert_to(coalesce(string_agg(token, '' ORDER BY step), ''), 'UTF8'), 'hex')) FROM gpt_generate_tokens(:'p$i'$a);"$'\n'
        done
        sql+="SELECT 'batch/$n/' || (i - 1), upper(encode(convert_to(g, 'UTF8'), 'hex')) FROM unnest(gpt_generate(ARRAY[$all]$a)) WITH ORDINALITY u(g, i) ORDER BY i;"$'\n'
    done
    for i in $(seq 0 $((NP - 1))); do
        sql+="SELECT 'tok/$i', array_to_string(gpt_tokenize(:'p$i'), ',');"$'\n'
        sql+="SELECT 'probs/$i', string_agg(token_id::text, ',' ORDER BY rank) FROM gpt_next_token_probs(:'p$i', 10);"$'\n'
        sql+="SELECT 'logprobs/$i', coalesce(string_agg(token_id::text, ',' ORDER BY pos), '') FROM gpt_token_logprobs(:'p$i');"$'\n'
    done
    printf '%s' "$sql" >"$W/pg.sql"
    psql -X -q -At -F $'\t' "${vars[@]}" -f "$W/pg.sql"
}

# The value of key in a host's output, or <missing>.
value() {
    awk -F'\t' -v k="$2" '$1 == k { print $2; f = 1; exit }
                          END { if (!f) print "<missing>" }' "$1"
}

# Every check, whatever each host printed.
KEYS=()
for o in "${OPT_NAMES[@]}"; do
    for i in $(seq 0 $((NP - 1))); do
        KEYS+=("gen/$o/$i" "stream/$o/$i" "batch/$o/$i")
    done
done
for i in $(seq 0 $((NP - 1))); do
    KEYS+=("tok/$i" "probs/$i" "logprobs/$i")
done

psql -X -q -c 'CREATE EXTENSION IF NOT EXISTS gpt' >/dev/null || exit 1

passed=0
failed=0
for m in "${MODELS[@]}"; do
    base=$(basename "$m" .gguf)
    name="cross-$base.gguf"
    # A copy inside gpt.model_dir: the server reads exactly this file, and
    # the CLI and SQLite read it too.
    cp "$m" "$GPT_PG_MODEL_DIR/$name"
    chmod a+r "$GPT_PG_MODEL_DIR/$name"
    mf="$GPT_PG_MODEL_DIR/$name"

    run_cli "$mf" >"$W/cli.tsv" 2>"$W/cli.err" || true
    run_sqlite "$mf" >"$W/sqlite.tsv" 2>"$W/sqlite.err" || true
    run_pg "$name" >"$W/pg.tsv" 2>"$W/pg.err" || true
    for h in cli sqlite pg; do
        if [ -s "$W/$h.err" ]; then
            echo "cross: $base: $h reported errors:" >&2
            head -n 5 "$W/$h.err" >&2
        fi
    done

    for key in "${KEYS[@]}"; do
        want=$(value "$W/cli.tsv" "$key")
        got_s=$(value "$W/sqlite.tsv" "$key")
        got_p=$(value "$W/pg.tsv" "$key")
        if [ "$want" != "<missing>" ] && [ "$want" == "$got_s" ] &&
           [ "$want" == "$got_p" ]; then
            passed=$((passed + 1))
            [ "${CROSS_VERBOSE:-0}" = 1 ] && echo "ok   $base $key"
        else
            failed=$((failed + 1))
            echo "FAIL $base $key"
            echo "     cli:    ${want:0:120}"
            echo "     sqlite: ${got_s:0:120}"
            echo "     pg:     ${got_p:0:120}"
        fi
    done
done

echo "cross: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
