#!/usr/bin/python3
"""make_seeds.py - writes the committed seed corpora of the fuzz targets.

    /usr/bin/python3 tests/fuzz/make_seeds.py [tests/fuzz]

corpus_gguf/: very small but valid gpt2 GGUF files (a 256-byte vocabulary
plus a few merges, one layer of width 3 to 32) in F32, F16 and Q8_0, with and
without output.weight, version 2 and 3, with general.alignment, so that the
fuzzer starts from inputs that get through the whole loader (and the tokenizer
builder) and mutates from there; plus a few broken headers.

corpus_tokenizer/: inputs of fuzz_tokenizer.c: first byte = mode (even:
encode the rest as text, repeated when bit 1 is set; odd: decode the rest as
little-endian int32 ids).

Only the standard library: the files are tiny, written by hand with struct.
"""
import os
import random
import struct
import sys

# GGUF value types
U32, F32, STRING, ARRAY = 4, 6, 8, 9


def byte_to_unicode():
    """GPT-2's map from bytes to printable characters (a published
    constant of the format: printable Latin-1 bytes map to themselves, the
    rest to U+0100 upwards)."""
    keep = list(range(ord("!"), ord("~") + 1)) + \
        list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(0x100 + extra)
            extra += 1
    return out


def gstr(s):
    b = s.encode("utf-8") if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    out = gstr(key) + struct.pack("<I", vtype)
    if vtype == U32:
        return out + struct.pack("<I", value)
    if vtype == F32:
        return out + struct.pack("<f", value)
    if vtype == STRING:
        return out + gstr(value)
    etype, items = value
    out += struct.pack("<IQ", etype, len(items))
    for it in items:
        out += gstr(it) if etype == STRING else struct.pack("<i", it)
    return out


def f16_bytes(vals):
    return struct.pack("<%de" % len(vals), *vals)


def q8_0_bytes(vals):
    out = b""
    for i in range(0, len(vals), 32):
        blk = vals[i:i + 32]
        amax = max(abs(v) for v in blk)
        d = amax / 127.0 if amax else 0.0
        q = [int(round(v / d)) if d else 0 for v in blk]
        out += struct.pack("<e", d) + struct.pack("<32b", *q)
    return out


def model(n_embd=8, n_ff=16, n_ctx=8, n_head=2, wtype="F32", tied=True,
          version=3, alignment=None, seed=1, n_layer=1, reverse=False):
    rnd = random.Random(seed)
    b2u = byte_to_unicode()
    tokens = [b2u[b] for b in range(256)]
    merges = ["\u0120 t", "h e", "\u0120t he", "i n", "e r"]
    for m in merges:
        tokens.append(m.replace(" ", ""))
    tokens.append("<|endoftext|>")
    n_vocab = len(tokens)
    eos = n_vocab - 1

    meta = [
        kv("general.architecture", STRING, "gpt2"),
        kv("general.name", STRING, "fuzz-seed"),
        kv("gpt2.block_count", U32, n_layer),
        kv("gpt2.context_length", U32, n_ctx),
        kv("gpt2.embedding_length", U32, n_embd),
        kv("gpt2.feed_forward_length", U32, n_ff),
        kv("gpt2.attention.head_count", U32, n_head),
        kv("gpt2.attention.layer_norm_epsilon", F32, 1e-5),
        kv("tokenizer.ggml.model", STRING, "gpt2"),
        kv("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
        kv("tokenizer.ggml.token_type", ARRAY, (5, [1] * n_vocab)),
        kv("tokenizer.ggml.merges", ARRAY, (STRING, merges)),
        kv("tokenizer.ggml.bos_token_id", U32, eos),
        kv("tokenizer.ggml.eos_token_id", U32, eos),
    ]
    if alignment is not None:
        meta.append(kv("general.alignment", U32, alignment))
    align = alignment or 32

    d = n_embd
    # (name, ne (GGUF order, ne0 contiguous), is_matrix)
    shapes = [("token_embd.weight", [d, n_vocab], True),
              ("position_embd.weight", [d, n_ctx], True)]
    for suffix, ne, mat in [(s, n, m) for _ in range(n_layer) for s, n, m in [
            ("attn_norm.weight", [d], False), ("attn_norm.bias", [d], False),
            ("attn_qkv.weight", [d, 3 * d], True),
            ("attn_qkv.bias", [3 * d], False),
            ("attn_output.weight", [d, d], True),
            ("attn_output.bias", [d], False),
            ("ffn_norm.weight", [d], False), ("ffn_norm.bias", [d], False),
            ("ffn_up.weight", [d, n_ff], True), ("ffn_up.bias", [n_ff], False),
            ("ffn_down.weight", [n_ff, d], True),
            ("ffn_down.bias", [d], False)]]:
        layer = sum(1 for x in shapes if x[0].endswith("ffn_down.bias"))
        shapes.append(("blk.%d.%s" % (layer, suffix), ne, mat))
    shapes += [("output_norm.weight", [d], False),
               ("output_norm.bias", [d], False)]
    if not tied:
        shapes.append(("output.weight", [d, n_vocab], True))

    if reverse:  # tensor infos in reverse order: the slowest lookups
        shapes.reverse()
    infos, data = b"", b""
    for name, ne, mat in shapes:
        n = 1
        for x in ne:
            n *= x
        if name.endswith("norm.weight"):
            vals = [1.0] * n
        else:
            vals = [rnd.uniform(-0.5, 0.5) for _ in range(n)]
        t = wtype if mat else "F32"
        if t == "F32":
            raw, tid = struct.pack("<%df" % n, *vals), 0
        elif t == "F16":
            raw, tid = f16_bytes(vals), 1
        else:
            raw, tid = q8_0_bytes(vals), 8
        data += b"\0" * ((-len(data)) % align)
        infos += gstr(name) + struct.pack("<I", len(ne)) + \
            struct.pack("<%dQ" % len(ne), *ne) + struct.pack("<IQ", tid,
                                                             len(data))
        data += raw
    head = b"GGUF" + struct.pack("<IQQ", version, len(shapes), len(meta))
    head += b"".join(meta) + infos
    head += b"\0" * ((-len(head)) % align)
    return head + data


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.abspath(__file__))
    g = os.path.join(out, "corpus_gguf")
    t = os.path.join(out, "corpus_tokenizer")
    os.makedirs(g, exist_ok=True)
    os.makedirs(t, exist_ok=True)

    seeds = {
        "f32-tied": model(),
        "f32-untied-v2": model(tied=False, version=2, seed=2),
        "f16-align64": model(wtype="F16", alignment=64, seed=3),
        "q8_0": model(n_embd=32, n_ff=32, n_ctx=4, n_head=4, wtype="Q8_0",
                      seed=4),
        # odd widths: the SIMD kernels' tails
        "odd3-f32": model(n_embd=3, n_ff=5, n_ctx=3, n_head=1, seed=5),
        "odd3-f16": model(n_embd=3, n_ff=5, n_ctx=3, n_head=3, wtype="F16",
                          seed=6),
        "odd17-f16-untied": model(n_embd=17, n_ff=33, n_ctx=5, n_head=1,
                                  wtype="F16", tied=False, seed=7),
        "header-only": b"GGUF" + struct.pack("<IQQ", 3, 0, 0),
        "bad-version": b"GGUF" + struct.pack("<IQQ", 1, 0, 0),
        "one-kv": b"GGUF" + struct.pack("<IQQ", 3, 0, 1) +
                  kv("general.architecture", STRING, "gpt2"),
    }
    for name, blob in seeds.items():
        with open(os.path.join(g, name + ".gguf"), "wb") as f:
            f.write(blob)

    texts = [
        b"Hello, world! It's 2024 and we're testing GPT-2's tokenizer.",
        "  leading spaces\n\n\ttabs and\r\nnewlines   ".encode(),
        "Ünïcödé: 日本語のテキスト, emoji \U0001F600\U0001F680, "
        "Ελληνικά, العربية".encode(),
        b"<|endoftext|> is ordinary text here",
        b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        b"1234567890 3.14159 0x1F -42 '''s 've 'll 'd 'm 're 't",
        b"\x00nul\x00bytes\x00",
        b"\xff\xfe invalid \xc3 utf-8 \xed\xa0\x80",
    ]
    for i, s in enumerate(texts):
        with open(os.path.join(t, "encode-%d" % i), "wb") as f:
            f.write(b"\x00" + s)
    # mode byte with bit 1 set: the payload repeated ((b >> 2) + 1) * 4
    # times (at most 16 KB)
    repeats = {
        "repeat-letters": (63, b"a"),
        "repeat-digits-space": (20, b"12 "),
        "repeat-cjk": (40, "\u6f22\u5b57".encode()),
        "repeat-spaces": (63, b" \n"),
        "repeat-punct": (10, b"'s!?"),
    }
    for name, (k, payload) in repeats.items():
        with open(os.path.join(t, name), "wb") as f:
            f.write(bytes([2 | (k << 2)]) + payload)
    idseqs = [
        [15496, 11, 995, 0],
        [50256, 50256, 198, 628],
        [171, 120, 234],            # bytes of a split multi-byte character
        [127, 225, 161, 239],
        [50257, 1, -1, 99999],      # out of range
        list(range(0, 40, 3)),
    ]
    for i, ids in enumerate(idseqs):
        with open(os.path.join(t, "decode-%d" % i), "wb") as f:
            f.write(b"\x01" + struct.pack("<%di" % len(ids), *ids))


if __name__ == "__main__":
    main()
