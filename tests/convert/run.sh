#!/bin/sh
# tests/convert/run.sh - tests of gpt-convert (make test-convert).
#
#   BUILD=build PYTHON=/usr/bin/python3 sh tests/convert/run.sh
#   make SANITIZE=1 test-convert      # the same under ASan + UBSan
#
# Converts the random-weight Hugging Face checkpoint written by
# tests/gen_models.py --hf (the weights of build/models/tiny-*.gguf) and checks:
#   - F32/F16/Q8_0 outputs equal the generator's own GGUFs (tensors and
#     metadata; in fact byte for byte), Q8_0/F16 bytes equal tools/gguf.py's
#     encoders, the untied checkpoint gives output.weight;
#   - the F32 output's logits (build/gpt logits) match tests/reference.py
#     run on the HF tensors within 1e-4 relative;
#   - "transformer." names, a tied lm_head copy, F16/BF16 checkpoints;
#   - requantizing tiny-f32.gguf equals tiny-q8_0.gguf / tiny-f16.gguf, also
#     in place (OUT = IN);
#   - broken inputs fail with exit code 1 and the expected message, leave no
#     OUT.tmp and do not touch an existing OUT; randomly damaged safetensors
#     headers never crash;
#   - models/gpt2.sh fails clearly without network;
#   - optional, CONVERT_BIG=1: the 124M-shaped checkpoint (gen_models --big)
#     converts to gpt2-124m-*.gguf byte for byte;
#   - optional: llama.cpp (node-llama-cpp in LLAMA_NODE_DIR, default
#     $BUILD/npm) loads the converted file and gives the same greedy output.
# Last line: "convert: N passed, M failed".

set -u
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
CONV=$BUILD/gpt-convert
GPT=$BUILD/gpt
CHECK="$PYTHON tests/convert/check.py"
MODELS=${MODELS:-$BUILD/models}
N_MUTATE=${N_MUTATE:-40}

# Sanitizer reports must not look like our exit code 1.
ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-exitcode=87:halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS

T=$(mktemp -d "${TMPDIR:-/tmp}/gpt-convert-test.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
pass=0
failed=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() {
    failed=$((failed + 1))
    echo "FAIL $1"
    if [ -n "${2:-}" ] && [ -f "$2" ]; then sed 's/^/     /' "$2" | tail -n 20; fi
}
# sanitizer output in a log is a failure whatever the exit code
clean() { ! grep -qE 'Sanitizer|runtime error:' "$1"; }

for f in "$CONV" "$GPT"; do
    if [ ! -x "$f" ]; then
        echo "missing $f: run make convert cli first"
        echo "convert: 0 passed, 1 failed"
        exit 1
    fi
done

# ------------------------------------------------------------ unit tests
if [ -x "$BUILD/test_convert_units" ]; then
    if "$BUILD/test_convert_units" >"$T/units.log" 2>&1 && clean "$T/units.log"; then
        ok "unit tests (JSON, fp16 vs F16C, Q8_0, GGUF writer): $(tail -n 1 "$T/units.log")"
    else
        bad "unit tests" "$T/units.log"
    fi
else
    echo "skip unit tests: $BUILD/test_convert_units not built (make test-convert builds it)"
fi

# ---------------------------------------------------------------- inputs
if [ ! -f "$MODELS/tiny-f32.gguf" ] || [ ! -f "$MODELS/tiny-untied-f32.gguf" ] ||
   [ ! -f "$MODELS/tiny-f16.gguf" ] || [ ! -f "$MODELS/tiny-q8_0.gguf" ]; then
    $PYTHON tests/gen_models.py --out "$MODELS" --quiet || exit 1
fi
HF=$T/hf
$PYTHON tests/gen_models.py --hf "$HF" --quiet || exit 1
$PYTHON tests/gen_models.py --hf "$T/hf-untied" --hf-untied --quiet || exit 1

# conv NAME ARGS...: runs gpt-convert, log in $T/NAME.log; 0 if it exited 0
conv() {
    name=$1
    shift
    "$CONV" "$@" -q >"$T/$name.log" 2>&1
    rc=$?
    echo "exit $rc" >>"$T/$name.log"
    [ $rc -eq 0 ] && clean "$T/$name.log"
}

# --------------------------------------------------- HF -> GGUF, good cases
for t in f32 f16 q8_0; do
    if conv "hf-$t" "$HF" "$T/tiny-$t.gguf" --type $t --name gpt-test-tiny &&
       [ -f "$T/tiny-$t.gguf" ] && [ ! -e "$T/tiny-$t.gguf.tmp" ]; then
        ok "convert hf-tiny to $t"
    else
        bad "convert hf-tiny to $t" "$T/hf-$t.log"
    fi
    if $CHECK same-tensors "$T/tiny-$t.gguf" "$MODELS/tiny-$t.gguf" >"$T/same-$t.log" 2>&1; then
        ok "$t output: tensors and metadata equal tiny-$t.gguf's"
    else
        bad "$t output: tensors and metadata equal tiny-$t.gguf's" "$T/same-$t.log"
    fi
    if cmp -s "$T/tiny-$t.gguf" "$MODELS/tiny-$t.gguf"; then
        ok "$t output is byte-identical to tiny-$t.gguf (gen_models.py)"
    else
        bad "$t output is byte-identical to tiny-$t.gguf (gen_models.py)"
    fi
    if $CHECK encoded "$T/tiny-$t.gguf" "$HF" $t >"$T/enc-$t.log" 2>&1; then
        ok "$t output: bytes equal tools/gguf.py's encoding of the HF weights"
    else
        bad "$t output: bytes equal tools/gguf.py's encoding of the HF weights" "$T/enc-$t.log"
    fi
done

# logits of the converted F32 model against the numpy reference on HF tensors
IDS=464,3797,318
if "$GPT" logits --model "$T/tiny-f32.gguf" "$IDS" >"$T/logits.bin" 2>"$T/logits.err" &&
   $PYTHON tests/reference.py --hf "$HF" --ids $IDS --logits-out "$T/ref.bin" >/dev/null 2>&1 &&
   $CHECK logits "$T/logits.bin" "$T/ref.bin" 1e-4 >"$T/logits.log" 2>&1; then
    ok "f32 logits match reference.py --hf ($(head -n 1 "$T/logits.log"))"
else
    cat "$T/logits.err" >>"$T/logits.log" 2>/dev/null
    bad "f32 logits match reference.py --hf" "$T/logits.log"
fi
# the quantized files load and stay close (Q8_0: ~1e-2 of the logit range)
for t in f16:2e-3 q8_0:5e-2; do
    ty=${t%%:*}
    tol=${t#*:}
    if "$GPT" logits --model "$T/tiny-$ty.gguf" "$IDS" >"$T/logits-$ty.bin" 2>/dev/null &&
       $CHECK logits "$T/logits-$ty.bin" "$T/ref.bin" "$tol" >"$T/logits-$ty.log" 2>&1; then
        ok "$ty logits close to the reference ($(head -n 1 "$T/logits-$ty.log"))"
    else
        bad "$ty logits close to the reference" "$T/logits-$ty.log"
    fi
done

# untied checkpoint: lm_head.weight becomes output.weight
if conv untied "$T/hf-untied" "$T/untied.gguf" --type f32 --name gpt-test-tiny-untied &&
   $CHECK same-tensors "$T/untied.gguf" "$MODELS/tiny-untied-f32.gguf" >>"$T/untied.log" 2>&1; then
    ok "untied checkpoint: output.weight, equals tiny-untied-f32.gguf"
else
    bad "untied checkpoint: output.weight, equals tiny-untied-f32.gguf" "$T/untied.log"
fi

# checkpoints stored differently
$CHECK make-variants "$HF" "$T/var" || exit 1
if conv prefixed "$T/var/prefixed" "$T/prefixed.gguf" --type q8_0 &&
   $CHECK same-tensors "$T/prefixed.gguf" "$T/tiny-q8_0.gguf" >>"$T/prefixed.log" 2>&1; then
    ok "\"transformer.\" names, tied lm_head copy, no mask buffers"
else
    bad "\"transformer.\" names, tied lm_head copy, no mask buffers" "$T/prefixed.log"
fi
for v in f16 bf16; do
    for t in f16 q8_0; do
        if conv "var-$v-$t" "$T/var/$v" "$T/var-$v-$t.gguf" --type $t &&
           $CHECK encoded "$T/var-$v-$t.gguf" "$T/var/$v" $t >>"$T/var-$v-$t.log" 2>&1; then
            ok "$v checkpoint to $t"
        else
            bad "$v checkpoint to $t" "$T/var-$v-$t.log"
        fi
    done
done

# --------------------------------------------------------------- requantize
for t in q8_0 f16; do
    if conv "req-$t" "$MODELS/tiny-f32.gguf" "$T/req-$t.gguf" --type $t &&
       $CHECK same-tensors "$T/req-$t.gguf" "$MODELS/tiny-$t.gguf" >>"$T/req-$t.log" 2>&1 &&
       cmp -s "$T/req-$t.gguf" "$MODELS/tiny-$t.gguf"; then
        ok "requantize tiny-f32.gguf to $t: equals tiny-$t.gguf (byte for byte)"
    else
        bad "requantize tiny-f32.gguf to $t: equals tiny-$t.gguf (byte for byte)" "$T/req-$t.log"
    fi
done
cp "$MODELS/tiny-f32.gguf" "$T/inplace.gguf"
if conv inplace "$T/inplace.gguf" "$T/inplace.gguf" --type q8_0 &&
   cmp -s "$T/inplace.gguf" "$MODELS/tiny-q8_0.gguf"; then
    ok "requantize in place (OUT = IN)"
else
    bad "requantize in place (OUT = IN)" "$T/inplace.log"
fi

# ------------------------------------------------------------- bad inputs
$CHECK make-bad "$HF" "$T/bad" || exit 1
head -c 100000 "$MODELS/tiny-f32.gguf" >"$T/bad/truncated.gguf"
printf 'not a gguf file at all' >"$T/bad/text.gguf"

# expect NAME EXPECTED-TEXT ARGS...: exit 1, the text on stderr, no sanitizer
# report, no OUT.tmp left, and an existing OUT untouched
expect() {
    name=$1
    want=$2
    shift 2
    out=$T/bad-out.gguf
    echo "old contents" >"$out"
    "$CONV" "$@" "$out" -q >"$T/bad-$name.log" 2>&1
    rc=$?
    if [ $rc -eq 1 ] && grep -qF -- "$want" "$T/bad-$name.log" &&
       clean "$T/bad-$name.log" && [ ! -e "$out.tmp" ] &&
       [ "$(cat "$out")" = "old contents" ]; then
        ok "error: $name: $(head -n 1 "$T/bad-$name.log" | cut -c1-150)"
    else
        echo "exit $rc; expected exit 1 and: $want" >>"$T/bad-$name.log"
        bad "error: $name" "$T/bad-$name.log"
    fi
}
B=$T/bad
expect no_folder "no such file or folder" "$T/nonexistent" --type f32
expect no_config "config.json: cannot open" "$B/no_config" --type f32
expect no_safetensors "model.safetensors: cannot open" "$B/no_safetensors" --type f32
expect no_vocab "vocab.json: cannot open" "$B/no_vocab" --type f32
expect no_merges "merges.txt: cannot open" "$B/no_merges" --type f32
expect bert 'model_type "bert" is not supported' "$B/bert" --type f32
expect bad_json "config.json: invalid JSON at line 1 column" "$B/bad_json" --type f32
expect wrong_embd "has shape [50257, 64], but config.json implies [50257, 32]" "$B/wrong_embd" --type f32
expect wrong_layers "tensor h.2.ln_1.weight is missing" "$B/wrong_layers" --type f32
expect no_n_head '"n_head" is missing' "$B/no_n_head" --type f32
expect vocab_gap 'has id that is not an integer from 0 to 50256' "$B/vocab_gap" --type f32
expect vocab_bad_utf8 "vocab.json: invalid JSON at line 1 column 11: invalid UTF-8" "$B/vocab_bad_utf8" --type f32
expect merges_bad "merges.txt line 3: expected two tokens separated by one space" "$B/merges_bad" --type f32
expect st_truncated "lie outside the" "$B/st_truncated" --type f32
expect st_tiny "too short for the 8-byte header length" "$B/st_tiny" --type f32
expect st_header_len "runs past the end of the" "$B/st_header_len" --type f32
expect st_offsets_lie 'header entry "ln_f.bias": data_offsets' "$B/st_offsets_lie" --type f32
expect st_offsets_span "but shape and dtype F32 need 256" "$B/st_offsets_span" --type f32
expect st_bad_json "model.safetensors: header: invalid JSON at line 1" "$B/st_bad_json" --type f32
expect st_missing_tensor "tensor h.1.ln_2.bias is missing" "$B/st_missing_tensor" --type f32
expect st_extra_tensor "unexpected tensor h.7.mlp.c_fc.weight" "$B/st_extra_tensor" --type f32
expect st_dtype "has dtype I32" "$B/st_dtype" --type f32
expect st_shape "has shape [192, 64], but config.json implies [64, 192]" "$B/st_shape" --type f32
expect st_nan "model.safetensors: tensor h.0.attn.c_proj.weight holds NaN or infinite values" "$B/st_nan" --type q8_0
expect gguf_truncated "truncated.gguf:" "$B/truncated.gguf" --type q8_0
expect gguf_text "text.gguf:" "$B/text.gguf" --type q8_0
expect gguf_q8 "is already Q8_0" "$MODELS/tiny-q8_0.gguf" --type f16

# usage errors: exit 2
"$CONV" >/dev/null 2>&1
rc1=$?
"$CONV" "$HF" "$T/x.gguf" --type q4_0 >/dev/null 2>&1
rc2=$?
"$CONV" "$MODELS/tiny-f32.gguf" "$T/x.gguf" >/dev/null 2>&1
rc3=$?
if [ $rc1 -eq 2 ] && [ $rc2 -eq 2 ] && [ $rc3 -eq 2 ]; then
    ok "usage errors exit 2 (no arguments, --type q4_0, requantize without --type)"
else
    bad "usage errors exit 2 (got $rc1 $rc2 $rc3)"
fi

# damaged safetensors headers: exit 0 or 1, never a crash
$CHECK mutate "$HF" "$T/mut" "$N_MUTATE" 20261128 || exit 1
crashes=0
n0=0
n1=0
for d in "$T"/mut/m*; do
    "$CONV" "$d" "$T/mut.gguf" --type q8_0 -q >"$T/mut.log" 2>&1
    rc=$?
    if { [ $rc -ne 0 ] && [ $rc -ne 1 ]; } || ! clean "$T/mut.log"; then
        crashes=$((crashes + 1))
        echo "     $d: exit $rc"
        sed 's/^/     /' "$T/mut.log" | head -n 20
    fi
    [ $rc -eq 0 ] && n0=$((n0 + 1))
    [ $rc -eq 1 ] && n1=$((n1 + 1))
done
if [ $crashes -eq 0 ]; then
    ok "$N_MUTATE damaged safetensors headers: $n1 rejected, $n0 converted, no crash"
else
    bad "damaged safetensors headers: $crashes crashed"
fi
# found by fuzz_convert: an epsilon that is 0 as a float (GGUF's type) was
# written, and the runtime then refused the file
expect eps_float_zero '"layer_norm_epsilon" 1e-80 is 0 as a 32-bit float' "$B/eps_float_zero" --type f32

# ------------------------------------- 124M-shaped checkpoint, optional
# CONVERT_BIG=1: the real GPT-2 shapes (768 wide, 12 layers, 500 MB) must
# give gen_models.py --big's gpt2-124m-*.gguf byte for byte.
if [ "${CONVERT_BIG:-0}" = 1 ]; then
    if [ ! -f "$MODELS/gpt2-124m-q8_0.gguf" ]; then
        $PYTHON tests/gen_models.py --out "$MODELS" --big --quiet \
            --only gpt2-124m-f32.gguf,gpt2-124m-f16.gguf,gpt2-124m-q8_0.gguf || exit 1
    fi
    $PYTHON tests/gen_models.py --hf "$T/hf-big" --big --quiet || exit 1
    for t in f32 f16 q8_0; do
        if conv "big-$t" "$T/hf-big" "$T/big.gguf" --type $t --name gpt-test-124m-random &&
           cmp -s "$T/big.gguf" "$MODELS/gpt2-124m-$t.gguf"; then
            ok "124M-shaped checkpoint to $t: equals gpt2-124m-$t.gguf byte for byte"
        else
            bad "124M-shaped checkpoint to $t: equals gpt2-124m-$t.gguf" "$T/big-$t.log"
        fi
        rm -f "$T/big.gguf"
    done
    rm -rf "$T/hf-big"
fi

# ----------------------------------------------------------- make gpt2
# Without network the script must stop with a clear message.
if [ "${GPT2_OFFLINE_TEST:-1}" = 1 ]; then
    GPT2_HF_DIR=$T/gpt2-hf GPT2_OUT_DIR=$T/gpt2-out GPT2_CONNECT_TIMEOUT=5 \
        BUILD=$BUILD sh models/gpt2.sh >"$T/gpt2.log" 2>&1
    rc=$?
    if grep -qE "cannot reach huggingface.co|curl is not installed" "$T/gpt2.log"; then
        if [ $rc -ne 0 ]; then
            ok "make gpt2 offline: $(grep -E 'cannot reach|curl is not' "$T/gpt2.log" | head -n 1 | cut -c1-120)"
        else
            bad "make gpt2 offline: exit 0" "$T/gpt2.log"
        fi
    elif [ $rc -eq 0 ]; then
        ok "make gpt2: the network was reachable and the conversion worked"
    else
        bad "make gpt2 offline: no clear message" "$T/gpt2.log"
    fi
fi

# The download, verification and conversion path of models/gpt2.sh against
# a local server laid out like the hub (HF_ENDPOINT), with the tiny model.
$CHECK fake-hub "$HF" "$T/hub" openai-community/gpt2 || exit 1
$CHECK fake-hub "$HF" "$T/badhub" openai-community/gpt2 corrupt || exit 1
hub() { # hub ROOT NAME: runs gpt2.sh against a server for ROOT
    rm -f "$T/port"
    $CHECK serve "$1" "$T/port" &
    srv=$!
    i=0
    while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    HF_ENDPOINT=http://127.0.0.1:$(cat "$T/port" 2>/dev/null) GPT2_HF_DIR=$T/$2-hf \
        GPT2_OUT_DIR=$T/$2-out GPT2_TYPES=q8_0 BUILD=$BUILD \
        sh models/gpt2.sh >"$T/$2.log" 2>&1
    rc=$?
    kill $srv 2>/dev/null
    wait $srv 2>/dev/null
    return $rc
}
if command -v curl >/dev/null 2>&1; then
    if hub "$T/hub" fakehub && grep -q "ok model.safetensors" "$T/fakehub.log" &&
       $CHECK same-tensors "$T/fakehub-out/gpt2-q8_0.gguf" "$T/tiny-q8_0.gguf" >>"$T/fakehub.log" 2>&1; then
        ok "make gpt2 against a local fake hub: downloads, checks sha256/git hashes, converts"
    else
        bad "make gpt2 against a local fake hub" "$T/fakehub.log"
    fi
    if ! hub "$T/badhub" badhub && grep -q "do not match the hub" "$T/badhub.log"; then
        ok "make gpt2: a download whose sha256 differs is refused"
    else
        bad "make gpt2: a download whose sha256 differs is refused" "$T/badhub.log"
    fi
else
    echo "skip make gpt2 fake-hub test: no curl"
fi

# ----------------------------------------------------- llama.cpp, optional
NODE_DIR=${LLAMA_NODE_DIR:-$BUILD/npm}
if [ -d "$NODE_DIR/node_modules/node-llama-cpp" ] && command -v node >/dev/null 2>&1; then
    for t in f32 q8_0; do
        $CHECK llama "$T/tiny-$t.gguf" "$HF" "$(cd "$NODE_DIR" && pwd)" >"$T/llama-$t.log" 2>&1
        rc=$?
        if [ $rc -eq 0 ]; then
            ok "llama.cpp loads the converted $t file: $(tail -n 1 "$T/llama-$t.log")"
        elif [ $rc -eq 77 ]; then
            echo "skip llama.cpp check ($t): $(tail -n 1 "$T/llama-$t.log")"
        else
            bad "llama.cpp loads the converted $t file, same greedy output" "$T/llama-$t.log"
        fi
    done
else
    echo "skip llama.cpp check: no node-llama-cpp in $NODE_DIR (set LLAMA_NODE_DIR)"
fi

echo "convert: $pass passed, $failed failed"
[ $failed -eq 0 ]
