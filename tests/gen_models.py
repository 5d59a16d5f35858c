#!/usr/bin/python3
"""gen_models.py - writes the random-weight GPT-2 test models.

    gen_models.py [--out build/models] [--big] [--only NAME[,NAME]]
    gen_models.py --hf build/models/hf-tiny [--big] [--hf-untied]

Every model uses the full GPT-2 vocabulary (tests/data/gpt2/encoder.json,
50257 tokens, <|endoftext|> = 50256) and merges (tests/data/gpt2/vocab.bpe),
and the metadata and tensor layout that llama.cpp writes for architecture
"gpt2" (src/models/gpt2.cpp, convert_hf_to_gguf.py GPT2Model):

    tiny-f32.gguf  tiny-f16.gguf  tiny-q8_0.gguf  tiny-untied-f32.gguf
        n_embd 64, 4 heads, 2 layers, n_ctx 128, n_ff 256
    --big: gpt2-124m-f32.gguf  gpt2-124m-f16.gguf  gpt2-124m-q8_0.gguf
        n_embd 768, 12 heads, 12 layers, n_ctx 1024, n_ff 3072 (benchmarks)
    --hf DIR: the tiny model's weights as a Hugging Face GPT-2 checkpoint
        (config.json, model.safetensors, vocab.json, merges.txt) for the
        converter test; converting it to F32 must give tiny-f32.gguf's
        tensors exactly.  With --big, the 124M-shaped weights instead
        (converted to F32/F16/Q8_0 they equal gpt2-124m-*.gguf's).

Weights come from a fixed seed; each tensor draws from its own generator
(seeded by the seed and the tensor's name) so the untied model equals the
tied one plus output.weight.  Scales are chosen so the model is
"interesting": embeddings of std ~0.1-0.2 (logits are not flat), weights of
std ~1/sqrt(fan_in) (attention is not uniform), layer-norm gains around 1
and small non-zero biases.
"""

import argparse
import json
import os
import struct
import sys
import time
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import gguf  # noqa: E402

VOCAB_DIR = os.path.join(HERE, "data", "gpt2")
SEED = 20240607
EOT = 50256

TINY = dict(n_vocab=50257, n_embd=64, n_head=4, n_layer=2, n_ctx=128,
            n_ff=256, emb_std=0.3, pos_std=0.1)
BIG = dict(n_vocab=50257, n_embd=768, n_head=12, n_layer=12, n_ctx=1024,
           n_ff=3072, emb_std=0.1, pos_std=0.05)


# ------------------------------------------------------------ vocabulary

def load_vocab():
    """-> (tokens ordered by id, merges) from the committed GPT-2 files."""
    with open(os.path.join(VOCAB_DIR, "encoder.json"), encoding="utf-8") as f:
        enc = json.load(f)
    tokens = [None] * len(enc)
    for tok, i in enc.items():
        tokens[i] = tok
    if any(t is None for t in tokens):
        raise SystemExit("encoder.json ids are not 0..n-1")
    with open(os.path.join(VOCAB_DIR, "vocab.bpe"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = [ln for ln in lines if ln and not ln.startswith("#version")]
    return tokens, merges


# --------------------------------------------------------------- weights

def _rng(name):
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def _normal(name, shape, std, mean=0.0):
    x = _rng(name).standard_normal(size=shape, dtype=np.float32)
    x *= np.float32(std)
    if mean:
        x += np.float32(mean)
    return x


def make_weights(cfg, untied=False):
    """-> ordered dict of GGUF tensor name -> float32 numpy array.

    Shapes are numpy (row-major) shapes; GGUF ne is the reverse:
      token_embd.weight     (n_vocab, n_embd)
      position_embd.weight  (n_ctx, n_embd)
      blk.N.attn_qkv.weight (3*n_embd, n_embd)   out x in
      blk.N.attn_output.weight (n_embd, n_embd)
      blk.N.ffn_up.weight   (n_ff, n_embd)
      blk.N.ffn_down.weight (n_embd, n_ff)
      output.weight         (n_vocab, n_embd)    only when untied"""
    E, F, V, C = cfg["n_embd"], cfg["n_ff"], cfg["n_vocab"], cfg["n_ctx"]
    w = {}
    w["token_embd.weight"] = _normal("token_embd.weight", (V, E),
                                     cfg["emb_std"])
    w["position_embd.weight"] = _normal("position_embd.weight", (C, E),
                                        cfg["pos_std"])
    for i in range(cfg["n_layer"]):
        p = "blk.%d." % i
        w[p + "attn_norm.weight"] = _normal(p + "attn_norm.weight", (E,),
                                            0.1, 1.0)
        w[p + "attn_norm.bias"] = _normal(p + "attn_norm.bias", (E,), 0.05)
        # unit-variance q, k: scores of std ~1 after 1/sqrt(head_dim)
        w[p + "attn_qkv.weight"] = _normal(p + "attn_qkv.weight",
                                           (3 * E, E), 1.0 / np.sqrt(E))
        w[p + "attn_qkv.bias"] = _normal(p + "attn_qkv.bias", (3 * E,), 0.05)
        w[p + "attn_output.weight"] = _normal(p + "attn_output.weight",
                                              (E, E), 0.5 / np.sqrt(E))
        w[p + "attn_output.bias"] = _normal(p + "attn_output.bias", (E,),
                                            0.02)
        w[p + "ffn_norm.weight"] = _normal(p + "ffn_norm.weight", (E,),
                                           0.1, 1.0)
        w[p + "ffn_norm.bias"] = _normal(p + "ffn_norm.bias", (E,), 0.05)
        w[p + "ffn_up.weight"] = _normal(p + "ffn_up.weight", (F, E),
                                         1.0 / np.sqrt(E))
        w[p + "ffn_up.bias"] = _normal(p + "ffn_up.bias", (F,), 0.05)
        w[p + "ffn_down.weight"] = _normal(p + "ffn_down.weight", (E, F),
                                           0.5 / np.sqrt(F))
        w[p + "ffn_down.bias"] = _normal(p + "ffn_down.bias", (E,), 0.02)
    w["output_norm.weight"] = _normal("output_norm.weight", (E,), 0.1, 1.0)
    w["output_norm.bias"] = _normal("output_norm.bias", (E,), 0.05)
    if untied:
        w["output.weight"] = _normal("output.weight", (V, E), cfg["emb_std"])
    return w


def tensor_type(name, arr, ftype):
    """The ggml type a tensor gets in a file of the given ftype, following
    llama.cpp: 1-D tensors (norms, biases) and position_embd stay F32;
    2-D matrices, token_embd and output included, take the file type."""
    if arr.ndim < 2 or name == "position_embd.weight":
        return gguf.GGML_F32
    return ftype


# ----------------------------------------------------------------- GGUF

FTYPES = {"f32": (gguf.GGML_F32, gguf.FTYPE_ALL_F32),
          "f16": (gguf.GGML_F16, gguf.FTYPE_MOSTLY_F16),
          "q8_0": (gguf.GGML_Q8_0, gguf.FTYPE_MOSTLY_Q8_0),
          "bf16": (gguf.GGML_BF16, gguf.FTYPE_MOSTLY_BF16),
          "q4_0": (gguf.GGML_Q4_0, gguf.FTYPE_MOSTLY_Q4_0)}


def write_model(path, name, cfg, weights, ftype, vocab, version=3,
                alignment=gguf.DEFAULT_ALIGNMENT):
    """Writes one GPT-2 GGUF with llama.cpp's keys, in llama.cpp's order."""
    tokens, merges = vocab
    gtype, file_type = FTYPES[ftype]
    U32 = lambda v: gguf.Value(int(v), "uint32")  # noqa: E731
    w = gguf.GGUFWriter(version=version, alignment=alignment)
    w.add("general.architecture", "gpt2")
    w.add("general.name", name)
    w.add("gpt2.block_count", U32(cfg["n_layer"]))
    w.add("gpt2.context_length", U32(cfg["n_ctx"]))
    w.add("gpt2.embedding_length", U32(cfg["n_embd"]))
    w.add("gpt2.feed_forward_length", U32(cfg["n_ff"]))
    w.add("gpt2.attention.head_count", U32(cfg["n_head"]))
    w.add("gpt2.attention.layer_norm_epsilon", gguf.Value(1e-5, "float32"))
    w.add("general.file_type", U32(file_type))
    w.add("general.quantization_version", U32(2))
    w.add("tokenizer.ggml.model", "gpt2")
    w.add("tokenizer.ggml.pre", "gpt-2")
    w.add("tokenizer.ggml.tokens", gguf.Value(tokens, "array", "string"))
    types = [1] * len(tokens)
    types[EOT] = 3  # control token
    w.add("tokenizer.ggml.token_type", gguf.Value(types, "array", "int32"))
    w.add("tokenizer.ggml.merges", gguf.Value(merges, "array", "string"))
    w.add("tokenizer.ggml.bos_token_id", U32(EOT))
    w.add("tokenizer.ggml.eos_token_id", U32(EOT))
    for tname, arr in weights.items():
        w.add_tensor(tname, arr, tensor_type(tname, arr, gtype))
    w.write(path)


# ------------------------------------------------- Hugging Face checkpoint

def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, float32 array).  safetensors layout: u64
    header length, JSON header (name -> dtype, shape, data_offsets relative
    to the data start), then the raw little-endian data."""
    header, off, blobs = {}, 0, []
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, arr in tensors:
        b = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def hf_tensors_from_gguf_weights(cfg, w, with_attn_bias=True):
    """GGUF-named weights -> Hugging Face GPT-2 names and layouts.

    HF GPT-2 uses Conv1D, whose weight is (in, out): the transpose of the
    GGUF (out, in) matrices.  Real checkpoints also carry h.N.attn.bias, the
    causal mask buffer (1, 1, n_ctx, n_ctx), which converters must skip."""
    C = cfg["n_ctx"]
    out = [("wte.weight", w["token_embd.weight"]),
           ("wpe.weight", w["position_embd.weight"])]
    mask = np.tril(np.ones((C, C), dtype=np.float32)).reshape(1, 1, C, C)
    for i in range(cfg["n_layer"]):
        g, h = "blk.%d." % i, "h.%d." % i
        out += [
            (h + "ln_1.weight", w[g + "attn_norm.weight"]),
            (h + "ln_1.bias", w[g + "attn_norm.bias"]),
            (h + "attn.c_attn.weight", w[g + "attn_qkv.weight"].T),
            (h + "attn.c_attn.bias", w[g + "attn_qkv.bias"]),
            (h + "attn.c_proj.weight", w[g + "attn_output.weight"].T),
            (h + "attn.c_proj.bias", w[g + "attn_output.bias"]),
            (h + "ln_2.weight", w[g + "ffn_norm.weight"]),
            (h + "ln_2.bias", w[g + "ffn_norm.bias"]),
            (h + "mlp.c_fc.weight", w[g + "ffn_up.weight"].T),
            (h + "mlp.c_fc.bias", w[g + "ffn_up.bias"]),
            (h + "mlp.c_proj.weight", w[g + "ffn_down.weight"].T),
            (h + "mlp.c_proj.bias", w[g + "ffn_down.bias"]),
        ]
        if with_attn_bias:
            out.append((h + "attn.bias", mask))
    out += [("ln_f.weight", w["output_norm.weight"]),
            ("ln_f.bias", w["output_norm.bias"])]
    if "output.weight" in w:
        out.append(("lm_head.weight", w["output.weight"]))
    return out


def write_hf_checkpoint(outdir, cfg=TINY, untied=False, with_attn_bias=True):
    """Writes a Hugging Face-layout GPT-2 folder holding the same weights as
    the tiny GGUF models (config.json, model.safetensors, vocab.json,
    merges.txt)."""
    os.makedirs(outdir, exist_ok=True)
    w = make_weights(cfg, untied=untied)
    config = {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "activation_function": "gelu_new",
        "n_embd": cfg["n_embd"], "n_layer": cfg["n_layer"],
        "n_head": cfg["n_head"], "n_positions": cfg["n_ctx"],
        "n_ctx": cfg["n_ctx"], "n_inner": None,
        "vocab_size": cfg["n_vocab"], "layer_norm_epsilon": 1e-5,
        "bos_token_id": EOT, "eos_token_id": EOT,
        "tie_word_embeddings": not untied,
    }
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(outdir, "model.safetensors"),
                      hf_tensors_from_gguf_weights(cfg, w, with_attn_bias),
                      metadata={"format": "pt"})
    for src, dst in (("encoder.json", "vocab.json"),
                     ("vocab.bpe", "merges.txt")):
        with open(os.path.join(VOCAB_DIR, src), "rb") as f:
            data = f.read()
        with open(os.path.join(outdir, dst), "wb") as f:
            f.write(data)


# ------------------------------------------------------------------ main

def model_list(big):
    """(file name, general.name, cfg, untied, ftype)"""
    out = [("tiny-f32.gguf", "gpt-test-tiny", TINY, False, "f32"),
           ("tiny-f16.gguf", "gpt-test-tiny", TINY, False, "f16"),
           ("tiny-q8_0.gguf", "gpt-test-tiny", TINY, False, "q8_0"),
           ("tiny-untied-f32.gguf", "gpt-test-tiny-untied", TINY, True,
            "f32")]
    if big:
        out += [("gpt2-124m-%s.gguf" % t, "gpt-test-124m-random", BIG, False,
                 t) for t in ("f32", "f16", "q8_0")]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join("build", "models"),
                    help="output directory (default build/models)")
    ap.add_argument("--big", action="store_true",
                    help="also write the 124M-shaped benchmark models")
    ap.add_argument("--only", help="comma-separated file names to write")
    ap.add_argument("--hf", metavar="DIR",
                    help="write the tiny model (--big: the 124M one) as a "
                         "Hugging Face checkpoint folder DIR instead")
    ap.add_argument("--hf-untied", action="store_true",
                    help="with --hf: give it a separate lm_head.weight")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)

    if a.hf:
        t0 = time.time()
        write_hf_checkpoint(a.hf, BIG if a.big else TINY,
                            untied=a.hf_untied)
        if not a.quiet:
            print("wrote %s (%.1fs)" % (a.hf, time.time() - t0))
        return 0

    os.makedirs(a.out, exist_ok=True)
    vocab = load_vocab()
    only = set(a.only.split(",")) if a.only else None
    cache = {}
    for fname, name, cfg, untied, ftype in model_list(a.big):
        if only and fname not in only:
            continue
        t0 = time.time()
        key = (id(cfg), untied)
        if key not in cache:
            cache.clear()  # hold one weight set at a time (124M = 500 MB)
            cache[key] = make_weights(cfg, untied)
        path = os.path.join(a.out, fname)
        tmp = path + ".tmp"
        write_model(tmp, name, cfg, cache[key], ftype, vocab)
        os.replace(tmp, path)  # readers never see a half-written model
        if not a.quiet:
            print("wrote %s (%.1f MB, %.1fs)" % (
                path, os.path.getsize(path) / 1e6, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
