#!/bin/sh
# models/gpt2.sh - `make gpt2`: download OpenAI's GPT-2 (124M) from the
# Hugging Face hub and convert it for gpt.
#
#   make gpt2                  (or: BUILD=build sh models/gpt2.sh)
#
# 1. Downloads config.json, model.safetensors (~550 MB), vocab.json and
#    merges.txt of openai-community/gpt2 with curl into build/gpt2-hf/
#    (files already there and verified are kept: an offline machine can copy
#    them in by hand and run this script).
# 2. Checks each file's size and hash against the hub's own listing
#    (api/models/.../tree: sha256 for the LFS-stored weights, the git blob
#    hash for the small files); no hash is hard-coded here.
# 3. Converts with build/gpt-convert (which validates config.json, the
#    vocabulary, the merges and every tensor's shape and offsets) to
#    models/gpt2-q8_0.gguf (~180 MB) and models/gpt2-f16.gguf (~330 MB).
#    They are not committed.
#
# Settings (environment): GPT2_REPO (default openai-community/gpt2; also
# distilgpt2, gpt2-medium, ...), GPT2_REVISION (main), GPT2_HF_DIR,
# GPT2_OUT_DIR (models), HF_ENDPOINT (https://huggingface.co), GPT2_TYPES
# ("q8_0 f16"), GPT2_CONNECT_TIMEOUT (seconds, 15).
#
# Without network it stops with "cannot reach huggingface.co: ..." and exit
# status 1.

set -eu

BUILD=${BUILD:-build}
REPO=${GPT2_REPO:-openai-community/gpt2}
REV=${GPT2_REVISION:-main}
HF_DIR=${GPT2_HF_DIR:-$BUILD/gpt2-hf}
OUT_DIR=${GPT2_OUT_DIR:-models}
ENDPOINT=${HF_ENDPOINT:-https://huggingface.co}
TYPES=${GPT2_TYPES:-q8_0 f16}
TIMEOUT=${GPT2_CONNECT_TIMEOUT:-15}
CONV=$BUILD/gpt-convert
PY=$(command -v /usr/bin/python3 || command -v python3 || true)
FILES="config.json vocab.json merges.txt model.safetensors"
NAME=$(basename "$REPO")

die() {
    echo "make gpt2: $*" >&2
    exit 1
}

command -v curl >/dev/null 2>&1 ||
    die "curl is not installed (Debian/Ubuntu: apt-get install curl)"
[ -x "$CONV" ] || die "$CONV is missing: run 'make convert' first"
mkdir -p "$HF_DIR" "$OUT_DIR"

# Verification against the hub's listing: prints "ok FILE" or "bad FILE why"
# per file.  Needs Python (for JSON); without it only the conversion's own
# validation is done.
LISTING=$HF_DIR/.listing.json
verify() {
    [ -n "$PY" ] && [ -s "$LISTING" ] || return 0
    "$PY" - "$LISTING" "$HF_DIR" "$@" <<'EOF'
import hashlib, json, os, sys
listing, d, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(listing) as f:
    entries = {e.get("path"): e for e in json.load(f)}
bad = 0
for n in names:
    p = os.path.join(d, n)
    e = entries.get(n)
    if e is None:
        print("bad %s: not in the hub's file list" % n); bad = 1; continue
    if not os.path.exists(p):
        print("bad %s: missing" % n); bad = 1; continue
    lfs = e.get("lfs") or {}
    size = lfs.get("size", e.get("size"))
    if os.path.getsize(p) != size:
        print("bad %s: %d bytes, the hub says %d" % (n, os.path.getsize(p), size))
        bad = 1; continue
    if lfs.get("oid"):       # LFS: the sha256 of the content
        h, want = hashlib.sha256(), lfs["oid"]
    else:                    # git blob: sha1("blob <size>\0" + content)
        h, want = hashlib.sha1(b"blob %d\0" % size), e.get("oid")
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if want and h.hexdigest() != want:
        print("bad %s: hash %s, the hub says %s" % (n, h.hexdigest(), want))
        bad = 1; continue
    print("ok %s (%d bytes, %s)" % (n, size, "sha256" if lfs.get("oid") else "git hash"))
sys.exit(bad)
EOF
}

# ------------------------------------------------------------ download
have_all=1
for f in $FILES; do
    [ -s "$HF_DIR/$f" ] || have_all=0
done

if [ $have_all = 1 ] && [ -s "$LISTING" ] && verify $FILES >/dev/null; then
    echo "make gpt2: $HF_DIR already holds verified files; not downloading"
else
    echo "make gpt2: checking $ENDPOINT ..."
    if ! err=$(curl -sS -f -L --connect-timeout "$TIMEOUT" --max-time 60 \
                   -o "$LISTING.part" "$ENDPOINT/api/models/$REPO/tree/$REV" 2>&1); then
        rm -f "$LISTING.part"
        [ $have_all = 1 ] || die "cannot reach huggingface.co: ${err:-no answer}
  This step needs internet access.  On a machine without it, copy the files
  $FILES of $REPO into $HF_DIR/ and run make gpt2 again (or:
    $CONV $HF_DIR $OUT_DIR/$NAME-q8_0.gguf --type q8_0 --name $NAME)"
        echo "make gpt2: cannot reach huggingface.co (${err:-no answer});"
        echo "  converting the files already in $HF_DIR without checking their hashes"
        echo "  (gpt-convert still validates config, vocabulary, merges and every tensor)"
    fi
fi
if [ -s "$LISTING.part" ]; then
    mv "$LISTING.part" "$LISTING"
    for f in $FILES; do
        if [ -s "$HF_DIR/$f" ] && verify "$f" >/dev/null; then
            echo "make gpt2: $f already downloaded"
            continue
        fi
        echo "make gpt2: downloading $REPO/$f"
        curl -f -L --retry 3 --connect-timeout "$TIMEOUT" --progress-bar \
            -o "$HF_DIR/$f.part" "$ENDPOINT/$REPO/resolve/$REV/$f" ||
            die "cannot download $ENDPOINT/$REPO/resolve/$REV/$f"
        mv "$HF_DIR/$f.part" "$HF_DIR/$f"
    done
    if [ -n "$PY" ]; then
        verify $FILES || die "downloaded files do not match the hub's sizes/hashes (delete $HF_DIR and retry)"
    else
        echo "make gpt2: no Python: sizes and hashes not checked (gpt-convert still validates the files)"
    fi
fi

# ------------------------------------------------------------- convert
for t in $TYPES; do
    out=$OUT_DIR/$NAME-$t.gguf
    echo "make gpt2: converting to $out"
    "$CONV" "$HF_DIR" "$out" --type "$t" --name "$NAME" --quiet ||
        die "conversion to $t failed"
done
echo "make gpt2: done.  Try:"
echo "  $BUILD/gpt generate --model $OUT_DIR/$NAME-q8_0.gguf 'The cat is lying on the'"
