#!/usr/bin/python3
"""Exports a checkpoint of models/train.py to GGUF in llama.cpp's gpt2 layout.

    /usr/bin/python3 models/export_gguf.py build/models/default.pt models/default.gguf [--type f16|q8_0|f32]

Matrices (token_embd and the block weights) are stored as F16 by default, norms,
biases and position_embd as F32, as llama.cpp does.  The LM head is tied to
token_embd, so there is no output.weight.  The full GPT-2 vocabulary (50257 tokens)
and merges come from tests/data/gpt2, so prompts tokenize exactly as for GPT-2.

After writing, the file is read back with tools/gguf.py and its logits on a prompt
are compared with the PyTorch model's (tests/reference.py does the GGUF forward pass).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, HERE)
import gguf  # noqa: E402

GPT2_DIR = os.path.join(ROOT, "tests", "data", "gpt2")
EOT = 50256
FTYPES = {"f32": (gguf.GGML_F32, gguf.FTYPE_ALL_F32),
          "f16": (gguf.GGML_F16, gguf.FTYPE_MOSTLY_F16),
          "q8_0": (gguf.GGML_Q8_0, gguf.FTYPE_MOSTLY_Q8_0)}


def gpt2_vocab():
    with open(os.path.join(GPT2_DIR, "encoder.json"), encoding="utf-8") as f:
        enc = json.load(f)
    tokens = [None] * len(enc)
    for s, i in enc.items():
        tokens[i] = s
    assert len(tokens) == 50257 and all(t is not None for t in tokens)
    with open(os.path.join(GPT2_DIR, "vocab.bpe"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[0].startswith("#version")
    merges = [l for l in lines[1:] if l.strip()]
    return tokens, merges


def gguf_tensors(cfg, sd):
    """PyTorch state dict -> {GGUF name: float32 numpy array in GGUF (out, in) layout}.
    nn.Linear weights are already (out, in), so nothing is transposed."""
    a = lambda k: sd[k].detach().float().numpy()  # noqa: E731
    w = {"token_embd.weight": a("wte.weight"),          # (n_vocab, n_embd)
         "position_embd.weight": a("wpe.weight")}       # (n_ctx, n_embd)
    for i in range(cfg["n_layer"]):
        p, q = "blk.%d." % i, "blocks.%d." % i
        for dst, src in [("attn_norm", "ln_1"), ("attn_qkv", "attn_qkv"),
                         ("attn_output", "attn_out"), ("ffn_norm", "ln_2"),
                         ("ffn_up", "ffn_up"), ("ffn_down", "ffn_down")]:
            w[p + dst + ".weight"] = a(q + src + ".weight")
            w[p + dst + ".bias"] = a(q + src + ".bias")
    w["output_norm.weight"] = a("ln_f.weight")
    w["output_norm.bias"] = a("ln_f.bias")
    return w


def export(ckpt_path, out_path, ftype="f16", name="gpt-default-demo"):
    ck = torch.load(ckpt_path, map_location="cpu")
    cfg = ck["cfg"]
    gtype, file_type = FTYPES[ftype]
    tokens, merges = gpt2_vocab()
    U32 = lambda v: gguf.Value(int(v), "uint32")  # noqa: E731
    w = gguf.GGUFWriter(version=3)
    w.add("general.architecture", "gpt2")
    w.add("general.name", name)
    w.add("gpt2.block_count", U32(cfg["n_layer"]))
    w.add("gpt2.context_length", U32(cfg["n_ctx"]))
    w.add("gpt2.embedding_length", U32(cfg["n_embd"]))
    w.add("gpt2.feed_forward_length", U32(4 * cfg["n_embd"]))
    w.add("gpt2.attention.head_count", U32(cfg["n_head"]))
    w.add("gpt2.attention.layer_norm_epsilon", gguf.Value(1e-5, "float32"))
    w.add("general.file_type", U32(file_type))
    w.add("general.quantization_version", U32(2))
    w.add("tokenizer.ggml.model", "gpt2")
    w.add("tokenizer.ggml.pre", "gpt-2")
    w.add("tokenizer.ggml.tokens", gguf.Value(tokens, "array", "string"))
    types = [1] * len(tokens)   # 1 = normal
    types[EOT] = 3              # 3 = control: <|endoftext|>
    w.add("tokenizer.ggml.token_type", gguf.Value(types, "array", "int32"))
    w.add("tokenizer.ggml.merges", gguf.Value(merges, "array", "string"))
    w.add("tokenizer.ggml.bos_token_id", U32(EOT))
    w.add("tokenizer.ggml.eos_token_id", U32(EOT))
    for tname, arr in gguf_tensors(cfg, ck["state"]).items():
        # 1-D tensors and position_embd stay F32, matrices take the file type
        t = gguf.GGML_F32 if arr.ndim < 2 or tname == "position_embd.weight" else gtype
        w.add_tensor(tname, arr, t)
    w.write(out_path)
    return ck


def check(ckpt, out_path):
    """Logits of the written GGUF (numpy reference) vs the PyTorch model."""
    import reference
    from train import GPT, GPT2Tokenizer
    cfg = ckpt["cfg"]
    model = GPT(**cfg)
    model.load_state_dict(ckpt["state"])
    model.eval()
    ids = GPT2Tokenizer().encode("The cat is lying on the")
    with torch.no_grad():
        want = model(torch.tensor([ids]))[0, -1].double().numpy()
    m = reference.load_gguf(out_path)
    got = np.asarray(reference.forward(m, ids))
    got = got[-1] if got.ndim == 2 else got
    err = float(np.max(np.abs(got - want)))
    print("check: %s max |logit diff| vs PyTorch = %.4f; argmax %d vs %d" %
          (out_path, err, int(np.argmax(got)), int(np.argmax(want))))
    return err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("out")
    ap.add_argument("--type", default="f16", choices=sorted(FTYPES))
    ap.add_argument("--no-check", action="store_true")
    a = ap.parse_args()
    ck = export(a.ckpt, a.out, a.type)
    print("wrote %s: %d bytes" % (a.out, os.path.getsize(a.out)))
    if not a.no_check:
        err = check(ck, a.out)
        if err > 0.1:
            print("check FAILED: the GGUF does not reproduce the PyTorch logits",
                  file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
