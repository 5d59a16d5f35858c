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

corpus_options/: inputs of fuzz_options.c: first byte = parser (bits 0-1:
options, ids, strings, strings with null) and tiny error buffer size (bits
2-5), the rest the JSON text.

hf_tiny/: a very small Hugging Face GPT-2 checkpoint (config.json,
vocab.json, merges.txt, model.safetensors; width 8, one layer, the 256 byte
tokens plus a few merges) that fuzz_convert.c converts with one file
replaced by the input.
corpus_convert/: inputs of fuzz_convert.c: first byte = mode (bits 0-1:
0 the rest is a .safetensors file read alone, 1 the rest is config.json, 2
the rest is model.safetensors, 3 both: a 2-byte little-endian length, the
config, then the safetensors; bits 2-3: output type f16, f32, q8_0).

Files named regress-* in the corpora are inputs the fuzzers found (a bug
each, fixed; see README.md): committed by hand, and left alone here.

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


def f32_bytes(vals):
    return struct.pack("<%df" % len(vals), *vals)


def bf16_bytes(vals):
    return b"".join(struct.pack("<f", v)[2:] for v in vals)


def safetensors(tensors, metadata=None, pad=8):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    import json
    hdr, data = {}, b""
    if metadata is not None:
        hdr["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        hdr[name] = {"dtype": dtype, "shape": shape,
                     "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % pad)
    return struct.pack("<Q", len(h)) + h + data


def hf_checkpoint(n_embd=8, n_ff=None, n_ctx=4, n_head=2, n_layer=1,
                  wtype="F32", prefix="", lm_head=None, mask=False, seed=11,
                  metadata=None):
    """(config dict, vocab dict, merges text, safetensors bytes) of a tiny
    GPT-2 in Hugging Face's layout (Conv1D weights stored (in, out))."""
    rnd = random.Random(seed)
    b2u = byte_to_unicode()
    tokens = [b2u[b] for b in range(256)]
    merges = ["\u0120 t", "h e", "\u0120t he", "i n", "e r"]
    for m in merges:
        tokens.append(m.replace(" ", ""))
    tokens.append("<|endoftext|>")
    V, E, F = len(tokens), n_embd, n_ff or 4 * n_embd
    cfg = {"model_type": "gpt2", "n_embd": E, "n_layer": n_layer,
           "n_head": n_head, "n_positions": n_ctx, "vocab_size": V,
           "n_inner": n_ff, "layer_norm_epsilon": 1e-5,
           "activation_function": "gelu_new"}

    def enc(dtype, vals):
        return {"F32": f32_bytes, "F16": f16_bytes,
                "BF16": bf16_bytes}[dtype](vals)

    def t(name, shape, matrix=False, ones=False):
        n = 1
        for x in shape:
            n *= x
        vals = [1.0] * n if ones else [rnd.uniform(-0.5, 0.5)
                                      for _ in range(n)]
        dt = wtype if matrix else "F32"
        return (prefix + name, dt, shape, enc(dt, vals))

    ts = [t("wte.weight", [V, E], True), t("wpe.weight", [n_ctx, E])]
    for layer in range(n_layer):
        h = "h.%d." % layer
        ts += [t(h + "ln_1.weight", [E], ones=True), t(h + "ln_1.bias", [E]),
               t(h + "attn.c_attn.weight", [E, 3 * E], True),
               t(h + "attn.c_attn.bias", [3 * E]),
               t(h + "attn.c_proj.weight", [E, E], True),
               t(h + "attn.c_proj.bias", [E]),
               t(h + "ln_2.weight", [E], ones=True), t(h + "ln_2.bias", [E]),
               t(h + "mlp.c_fc.weight", [E, F], True),
               t(h + "mlp.c_fc.bias", [F]),
               t(h + "mlp.c_proj.weight", [F, E], True),
               t(h + "mlp.c_proj.bias", [E])]
        if mask:
            ts.append((prefix + h + "attn.bias", "F32",
                       [1, 1, n_ctx, n_ctx], f32_bytes([1.0] * n_ctx * n_ctx)))
    ts += [t("ln_f.weight", [E], ones=True), t("ln_f.bias", [E])]
    if lm_head == "copy":
        ts.append((prefix + "lm_head.weight",) + ts[0][1:])
    elif lm_head == "own":
        ts.append(t("lm_head.weight", [V, E], True))
    vocab = {tok: i for i, tok in enumerate(tokens)}
    return cfg, vocab, "#version: 0.2\n" + "\n".join(merges) + "\n", \
        safetensors(ts, metadata)


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

    write_options_seeds(os.path.join(out, "corpus_options"))
    write_convert_seeds(out)

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



def write_options_seeds(d):
    os.makedirs(d, exist_ok=True)
    # (mode byte, JSON); mode bits 0-1: 0 options, 1 ids, 2 strings,
    # 3 strings with null; bits 2-5: size of the tiny error buffer - 1
    seeds = {
        "options-all": (0, '{"max_tokens": 20, "temperature": 0.7, '
                           '"top_k": 40, "top_p": 0.95, "seed": 42, '
                           '"stop": ["\\n", "."]}'),
        "options-empty": (0, "{}"),
        "options-null": (4, '{"max_tokens": null, "stop": null}'),
        "options-stop-string": (0, '{"stop": "\\u884c\\ud83d\\ude00"}'),
        "options-numbers": (8, '{"temperature": 0.8e0, "top_p": 9.5E-1, '
                               '"seed": -9223372036854775808}'),
        "options-seed-max": (0, '{"seed": 18446744073709551615}'),
        "options-bad-key": (60, '{"max_tokens": 1, "frobnicate": true}'),
        "options-dup": (12, '{"top_k": 1, "top_k": 2}'),
        "options-not-object": (0, '[1, 2]'),
        "options-trailing": (0, '{"max_tokens": 1} x'),
        "ids": (1, "[464, 3797, 0, -1, 2147483647, -2147483648]"),
        "ids-empty": (1, " [ ] "),
        "ids-bad": (5, "[1.5, 2]"),
        "strings": (2, '["yes", "no", "\\u0000x", "\\"q\\""]'),
        "strings-null": (3, '["a", null, ""]'),
        "strings-nested": (2, '[["a"]]'),
    }
    for name, (mode, text) in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(bytes([mode]) + text.encode())


def write_convert_seeds(out):
    import json
    base = os.path.join(out, "hf_tiny")
    c = os.path.join(out, "corpus_convert")
    os.makedirs(base, exist_ok=True)
    os.makedirs(c, exist_ok=True)
    cfg, vocab, merges, st = hf_checkpoint()
    for name, data in (("config.json", json.dumps(cfg, indent=2).encode()),
                       ("vocab.json", json.dumps(vocab).encode()),
                       ("merges.txt", merges.encode()),
                       ("model.safetensors", st)):
        with open(os.path.join(base, name), "wb") as f:
            f.write(data)

    def cfg_bytes(**kw):
        d = dict(cfg)
        d.update(kw)
        return json.dumps({k: v for k, v in d.items() if v != "-"}).encode()

    variants = {
        "f16-prefix": hf_checkpoint(wtype="F16", prefix="transformer.",
                                    seed=12)[3],
        "bf16-lm-copy": hf_checkpoint(wtype="BF16", lm_head="copy",
                                      seed=13)[3],
        "untied-mask-meta": hf_checkpoint(lm_head="own", mask=True, seed=14,
                                          metadata={"format": "pt"})[3],
    }
    seeds = {
        # 0: the safetensors reader alone
        "st-base": (0, st),
        "st-f16-prefix": (0, variants["f16-prefix"]),
        "st-untied-mask-meta": (0, variants["untied-mask-meta"]),
        "st-short": (0, struct.pack("<Q", 2) + b"{}"),
        # 1: config.json in a whole conversion
        "config-base-f16": (1, cfg_bytes()),
        "config-f32": (1 | 4, cfg_bytes(n_inner=None)),
        "config-q8_0": (1 | 8, cfg_bytes(n_ctx=4, n_positions="-")),
        "config-unsupported": (1, cfg_bytes(activation_function="relu",
                                            scale_attn_weights=False)),
        # 2: model.safetensors in a whole conversion
        "model-base": (2, st),
        "model-bf16-lm-copy-q8_0": (2 | 8, variants["bf16-lm-copy"]),
        "model-untied-mask-f32": (2 | 4, variants["untied-mask-meta"]),
    }
    # 3: both; width 32 so that Q8_0 is really used (rows of 32)
    cfg32, _, _, st32 = hf_checkpoint(n_embd=32, n_ff=32, n_head=4,
                                      wtype="F16", seed=15)
    c32 = json.dumps(cfg32).encode()
    seeds["both-w32-q8_0"] = (3 | 8, struct.pack("<H", len(c32)) + c32 +
                              st32)
    for name, (mode, data) in seeds.items():
        with open(os.path.join(c, name), "wb") as f:
            f.write(bytes([mode]) + data)


if __name__ == "__main__":
    main()
