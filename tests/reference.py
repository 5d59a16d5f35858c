#!/usr/bin/python3
"""reference.py - an independent numpy GPT-2 forward pass (float64).

The C core is checked against this file.  It shares no code with the core:
it reads GGUF through tools/gguf.py (weights dequantized to float32, then
widened to float64) or a Hugging Face checkpoint folder through its own
small safetensors reader, and computes GPT-2 top to bottom (with Q8_0
weights, the input of each matrix product is first rounded to 8 bits per
32-element block, as llama.cpp and the core do: see linear() below; and
the keys and values are rounded to IEEE half precision, as llama.cpp's and
the core's F16 KV caches hold them: see attention()):

    x = wte[ids] + wpe[0..T-1]
    per layer:  x += attn(ln_1(x));  x += mlp(ln_2(x))
    logits = ln_f(x) @ head^T     head = output.weight, else wte (tied)

Usage
    reference.py MODEL.gguf --ids 464,3290,318 [--logits-out FILE]
        prints the argmax of the last position's logits; --logits-out
        writes those logits as n_vocab little-endian float32
    --all-logits-out FILE   logits for every position, (n_tokens, n_vocab)
                            float32, row-major
    --greedy N              prints the N greedily generated ids as a JSON
                            array (argmax, ties to the lowest id)
    --logprobs              prints, as a JSON array, log p(ids[i] | before),
                            the first id conditioned on <|endoftext|> (50256)
    --top-k K               prints the K most probable next ids after the
                            prompt as JSON [[id, prob], ...]
    --hf DIR                read a Hugging Face GPT-2 folder instead of GGUF
                            (config.json + model.safetensors)

When --greedy, --logprobs or --top-k is given, only those lines are printed
(in that order); otherwise the argmax is printed.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
import gguf  # noqa: E402

EOT = 50256


class Model:
    """Hyper-parameters and float64 weights in GGUF naming/layout:
    matrices are (out, in), i.e. y = x @ W.T + b."""

    def __init__(self, n_vocab, n_embd, n_head, n_layer, n_ctx, eps, w,
                 q8=()):
        self.n_vocab, self.n_embd, self.n_head = n_vocab, n_embd, n_head
        self.n_layer, self.n_ctx, self.eps = n_layer, n_ctx, eps
        self.w = w
        self.q8 = set(q8)   # names of the matrices stored as Q8_0


# ------------------------------------------------------------- loading

def load_gguf(path):
    r = gguf.GGUFReader(path)
    md = r.metadata
    arch = md.get("general.architecture")
    if arch != "gpt2":
        raise SystemExit("%s: architecture %r is not gpt2" % (path, arch))
    w = {name: r.tensor(name).astype(np.float64) for name in r.tensors}
    q8 = [name for name, t in r.tensors.items() if t.ggml_type == gguf.GGML_Q8_0]
    n_vocab, n_embd = w["token_embd.weight"].shape
    return Model(n_vocab=n_vocab, n_embd=n_embd,
                 n_head=int(md["gpt2.attention.head_count"]),
                 n_layer=int(md["gpt2.block_count"]),
                 n_ctx=int(md["gpt2.context_length"]),
                 eps=float(md["gpt2.attention.layer_norm_epsilon"]), w=w,
                 q8=q8)


def read_safetensors(path):
    """-> {name: float64 array}.  Own reader: u64 header size, JSON header,
    data; offsets are relative to the end of the header."""
    dtypes = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(data[a:b], dtype="<u2").astype(np.uint32)
            arr = (bits << 16).view(np.float32)
        else:
            arr = np.frombuffer(data[a:b], dtype=dtypes[info["dtype"]])
        out[name] = arr.reshape(info["shape"]).astype(np.float64)
    return out


def load_hf(d):
    """Hugging Face GPT-2 folder -> Model in GGUF layout (Conv1D weights are
    (in, out), so they are transposed here)."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "gpt2":
        raise SystemExit("%s: model_type is not gpt2" % d)
    t = read_safetensors(os.path.join(d, "model.safetensors"))
    t = {(k[len("transformer."):] if k.startswith("transformer.") else k): v
         for k, v in t.items()}
    w = {"token_embd.weight": t["wte.weight"],
         "position_embd.weight": t["wpe.weight"],
         "output_norm.weight": t["ln_f.weight"],
         "output_norm.bias": t["ln_f.bias"]}
    if "lm_head.weight" in t and not cfg.get("tie_word_embeddings", True):
        w["output.weight"] = t["lm_head.weight"]
    for i in range(cfg["n_layer"]):
        h, g = "h.%d." % i, "blk.%d." % i
        w[g + "attn_norm.weight"] = t[h + "ln_1.weight"]
        w[g + "attn_norm.bias"] = t[h + "ln_1.bias"]
        w[g + "attn_qkv.weight"] = t[h + "attn.c_attn.weight"].T
        w[g + "attn_qkv.bias"] = t[h + "attn.c_attn.bias"]
        w[g + "attn_output.weight"] = t[h + "attn.c_proj.weight"].T
        w[g + "attn_output.bias"] = t[h + "attn.c_proj.bias"]
        w[g + "ffn_norm.weight"] = t[h + "ln_2.weight"]
        w[g + "ffn_norm.bias"] = t[h + "ln_2.bias"]
        w[g + "ffn_up.weight"] = t[h + "mlp.c_fc.weight"].T
        w[g + "ffn_up.bias"] = t[h + "mlp.c_fc.bias"]
        w[g + "ffn_down.weight"] = t[h + "mlp.c_proj.weight"].T
        w[g + "ffn_down.bias"] = t[h + "mlp.c_proj.bias"]
    n_vocab, n_embd = w["token_embd.weight"].shape
    return Model(n_vocab=n_vocab, n_embd=n_embd, n_head=cfg["n_head"],
                 n_layer=cfg["n_layer"],
                 n_ctx=cfg.get("n_positions", cfg.get("n_ctx")),
                 eps=float(cfg.get("layer_norm_epsilon", 1e-5)), w=w)


# ------------------------------------------------------------- forward

def quantize_q8_act(x):
    """Rounds the rows of x (T, k*32) to Q8_0 activations, from the
    definition: per block of 32, amax = max |x|, d = amax / 127,
    q = round-half-even(x * 127 / amax) in [-127, 127] (blocks with
    amax < 2^-100 become zeros), value q * d."""
    T, n = x.shape
    b = x.reshape(T, n // 32, 32)
    amax = np.abs(b).max(axis=-1, keepdims=True)
    ok = amax >= 2.0 ** -100
    scale = np.where(ok, 127.0 / np.where(ok, amax, 1.0), 0.0)
    q = np.clip(np.rint(b * scale), -127, 127)     # np.rint: ties to even
    return (q * (amax / 127.0)).reshape(T, n)


def linear(m, x, name):
    """x @ W.T for the matrix `name`; a Q8_0 matrix sees x quantized."""
    if name in m.q8:
        x = quantize_q8_act(x)
    return x @ m.w[name].T


def layernorm(x, g, b, eps):
    # x: (T, E); normalize each row over E, biased variance
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * g + b


def gelu(x):
    # GPT-2's tanh approximation ("gelu_new")
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) *
                                    (x + 0.044715 * x ** 3)))


def attention(m, h, layer):
    """h: (T, E) normalized input -> (T, E) attention output (before the
    residual add), causal, n_head heads of size E / n_head."""
    w, p = m.w, "blk.%d." % layer
    T, E = h.shape
    H = m.n_head
    D = E // H
    qkv = linear(m, h, p + "attn_qkv.weight") + w[p + "attn_qkv.bias"]  # (T, 3E)
    q, k, v = qkv[:, :E], qkv[:, E:2 * E], qkv[:, 2 * E:]
    # (T, E) -> (H, T, D)
    q = q.reshape(T, H, D).transpose(1, 0, 2)
    k = k.reshape(T, H, D).transpose(1, 0, 2)
    v = v.reshape(T, H, D).transpose(1, 0, 2)
    # the KV cache keeps keys and values as halves (nearest, ties to even)
    k = k.astype(np.float16).astype(np.float64)
    v = v.astype(np.float16).astype(np.float64)
    att = q @ k.transpose(0, 2, 1) / np.sqrt(D)                   # (H, T, T)
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    att = np.where(future, -np.inf, att)
    att = att - att.max(axis=-1, keepdims=True)
    att = np.exp(att)
    att = att / att.sum(axis=-1, keepdims=True)
    y = att @ v                                                   # (H, T, D)
    y = y.transpose(1, 0, 2).reshape(T, E)
    return linear(m, y, p + "attn_output.weight") + w[p + "attn_output.bias"]


def mlp(m, h, layer):
    w, p = m.w, "blk.%d." % layer
    u = gelu(linear(m, h, p + "ffn_up.weight") + w[p + "ffn_up.bias"])  # (T, F)
    return linear(m, u, p + "ffn_down.weight") + w[p + "ffn_down.bias"]


def forward(m, ids, all_positions=False):
    """ids: list of token ids -> logits (T, n_vocab) float64, or only the
    last row (n_vocab,) unless all_positions."""
    T = len(ids)
    if T == 0 or T > m.n_ctx:
        raise SystemExit("need 1..%d tokens, got %d" % (m.n_ctx, T))
    if min(ids) < 0 or max(ids) >= m.n_vocab:
        raise SystemExit("token id out of range 0..%d" % (m.n_vocab - 1))
    w = m.w
    x = w["token_embd.weight"][ids] + w["position_embd.weight"][:T]  # (T, E)
    for i in range(m.n_layer):
        p = "blk.%d." % i
        x = x + attention(m, layernorm(x, w[p + "attn_norm.weight"],
                                       w[p + "attn_norm.bias"], m.eps), i)
        x = x + mlp(m, layernorm(x, w[p + "ffn_norm.weight"],
                                 w[p + "ffn_norm.bias"], m.eps), i)
    if not all_positions:
        x = x[-1:]
    x = layernorm(x, w["output_norm.weight"], w["output_norm.bias"], m.eps)
    head = "output.weight" if "output.weight" in w else "token_embd.weight"
    logits = linear(m, x, head)                                      # (T, V)
    return logits if all_positions else logits[0]


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def greedy(m, ids, n):
    """n greedy steps (np.argmax returns the lowest id on ties)."""
    ids, out = list(ids), []
    for _ in range(n):
        if len(ids) >= m.n_ctx:
            break
        nxt = int(np.argmax(forward(m, ids)))
        out.append(nxt)
        ids.append(nxt)
    return out


def logprobs(m, ids):
    """log p(ids[i] | <|endoftext|>, ids[:i]) for every i."""
    lp = log_softmax(forward(m, [EOT] + list(ids[:-1]), all_positions=True))
    return [float(lp[i, t]) for i, t in enumerate(ids)]


def top_k(m, ids, k):
    lp = log_softmax(forward(m, ids))
    order = np.argsort(-lp, kind="stable")[:k]
    return [[int(i), float(np.exp(lp[i]))] for i in order]


def load(path=None, hf=None):
    return load_hf(hf) if hf else load_gguf(path)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="independent numpy GPT-2 forward pass")
    ap.add_argument("model", nargs="?", help="MODEL.gguf")
    ap.add_argument("--hf", metavar="DIR",
                    help="Hugging Face GPT-2 folder instead of a GGUF")
    ap.add_argument("--ids", required=True,
                    help="comma-separated token ids")
    ap.add_argument("--logits-out", metavar="FILE")
    ap.add_argument("--all-logits-out", metavar="FILE")
    ap.add_argument("--greedy", type=int, metavar="N")
    ap.add_argument("--logprobs", action="store_true")
    ap.add_argument("--top-k", type=int, metavar="K")
    a = ap.parse_args(argv)
    if not a.model and not a.hf:
        ap.error("give MODEL.gguf or --hf DIR")
    ids = [int(s) for s in a.ids.split(",") if s.strip() != ""]
    m = load(a.model, a.hf)

    last = None
    if a.all_logits_out:
        all_logits = forward(m, ids, all_positions=True)
        all_logits.astype("<f4").tofile(a.all_logits_out)
        last = all_logits[-1]
    want_argmax = a.greedy is None and not a.logprobs and a.top_k is None
    if a.logits_out or want_argmax:
        if last is None:
            last = forward(m, ids)
        if a.logits_out:
            last.astype("<f4").tofile(a.logits_out)
        if want_argmax:
            print(int(np.argmax(last)))
    if a.greedy is not None:
        print(json.dumps(greedy(m, ids, a.greedy)))
    if a.logprobs:
        print(json.dumps(logprobs(m, ids)))
    if a.top_k is not None:
        print(json.dumps(top_k(m, ids, a.top_k)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
