#!/usr/bin/python3
"""Trains the bundled default model (models/default.gguf): a small GPT-2-architecture
model on the corpus built by models/make_corpus.sh, on the CPU with PyTorch.

    /usr/bin/python3 models/train.py --corpus build/models/corpus.txt --out build/models/default.pt

Warm start (training phase 2 of models/default.gguf): --init CHECKPOINT takes the model
shape and weights from an earlier checkpoint and trains on (a new corpus) from there with
a fresh optimizer, warmup and cosine schedule.

Everything is seeded and runs on --threads threads (default 1), so one command
reproduces the same checkpoint on the same machine, thread count and library versions.
Needs Debian's python3-torch, python3-numpy and python3-regex.

The tokenizer is the real GPT-2 byte-level BPE (tests/data/gpt2/encoder.json and
vocab.bpe), written out here in plain Python: it is slow (about a minute for the
corpus) but only runs once, and the token ids are cached next to the checkpoint.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import regex
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GPT2_DIR = os.path.join(ROOT, "tests", "data", "gpt2")
EOT = 50256  # <|endoftext|>


# ---------------------------------------------------------------- GPT-2 tokenizer

def bytes_to_unicode():
    """GPT-2's reversible map from the 256 byte values to printable characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


class GPT2Tokenizer:
    PAT = regex.compile(
        r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def __init__(self, gpt2_dir=GPT2_DIR):
        with open(os.path.join(gpt2_dir, "encoder.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        self.decoder = {v: k for k, v in self.encoder.items()}
        with open(os.path.join(gpt2_dir, "vocab.bpe"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        self.merges = [tuple(l.split()) for l in lines[1:] if l.strip()]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.byte_enc = bytes_to_unicode()
        self.byte_dec = {v: k for k, v in self.byte_enc.items()}
        self.cache = {}

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            best, best_rank = None, None
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best is None:
                break
            a, b = parts[best], parts[best + 1]
            # merge every occurrence of the pair, left to right, as GPT-2 does
            out, i = [], 0
            while i < len(parts):
                if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        ids = [self.encoder[p] for p in parts]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        ids = []
        for piece in self.PAT.findall(text):
            word = "".join(self.byte_enc[b] for b in piece.encode("utf-8"))
            ids.extend(self.bpe(word))
        return ids

    def decode(self, ids):
        text = "".join(self.decoder[i] for i in ids)
        return bytes(self.byte_dec[c] for c in text).decode("utf-8", errors="replace")


# ---------------------------------------------------------------- GPT-2 model

class Block(nn.Module):
    """Pre-LN transformer block exactly as GPT-2: x += attn(ln1(x)); x += mlp(ln2(x))."""

    def __init__(self, d, n_head, n_ctx):
        super().__init__()
        self.n_head = n_head
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.attn_qkv = nn.Linear(d, 3 * d)      # weight (3d, d): out x in, q|k|v rows
        self.attn_out = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.ffn_up = nn.Linear(d, 4 * d)        # weight (4d, d)
        self.ffn_down = nn.Linear(4 * d, d)      # weight (d, 4d)
        mask = torch.tril(torch.ones(n_ctx, n_ctx, dtype=torch.bool))
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        h = self.n_head
        q, k, v = self.attn_qkv(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, h, C // h).transpose(1, 2)   # (B, h, T, hd)
        k = k.view(B, T, h, C // h).transpose(1, 2)
        v = v.view(B, T, h, C // h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // h))   # (B, h, T, T)
        att = att.masked_fill(~self.mask[:T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.attn_out(y)
        x = x + self.ffn_down(F.gelu(self.ffn_up(self.ln_2(x)), approximate="tanh"))
        return x


class GPT(nn.Module):
    def __init__(self, n_vocab, n_ctx, n_embd, n_layer, n_head):
        super().__init__()
        self.cfg = dict(n_vocab=n_vocab, n_ctx=n_ctx, n_embd=n_embd, n_layer=n_layer,
                        n_head=n_head)
        self.wte = nn.Embedding(n_vocab, n_embd)
        self.wpe = nn.Embedding(n_ctx, n_embd)
        self.blocks = nn.ModuleList([Block(n_embd, n_head, n_ctx) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd, eps=1e-5)
        # GPT-2 initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2L)
        for name, p in self.named_parameters():
            if name.endswith(".bias"):
                nn.init.zeros_(p)
            elif "ln_" in name:
                nn.init.ones_(p)
            elif name == "wpe.weight":
                nn.init.normal_(p, std=0.01)
            else:
                std = 0.02
                if name.endswith("attn_out.weight") or name.endswith("ffn_down.weight"):
                    std = 0.02 / math.sqrt(2 * n_layer)
                nn.init.normal_(p, std=std)

    def forward(self, idx, rows=None):
        """Logits (B, T, n_vocab), or only over the token ids `rows` (B, T, len(rows))."""
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x)
        head = self.wte.weight if rows is None else self.wte.weight[rows]   # tied LM head
        return self.ln_f(x) @ head.t()


# ---------------------------------------------------------------- data

def save_checkpoint(obj, path):
    """Writes to a temporary file and renames it, so a killed run never leaves half a file."""
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_tokens(corpus, cache):
    if os.path.exists(cache):
        return np.load(cache)
    t0 = time.time()
    tok = GPT2Tokenizer()
    with open(corpus, encoding="utf-8") as f:
        text = f.read()
    ids = np.array(tok.encode(text), dtype=np.uint16)
    np.save(cache, ids)
    log(f"tokenized {len(text)} bytes -> {len(ids)} tokens in {time.time() - t0:.0f} s")
    return ids


def split(ids, seg=4096, every=20):
    """Held-out validation: every 20th segment of 4096 tokens (5%, spread over all sources)."""
    n = len(ids) // seg
    segs = [ids[i * seg:(i + 1) * seg] for i in range(n)]
    val = np.concatenate([s for i, s in enumerate(segs) if i % every == every // 2])
    train = np.concatenate([s for i, s in enumerate(segs) if i % every != every // 2]
                           + [ids[n * seg:]])
    return train, val


def val_sample(val, seg=4096, take=1024):
    """The first 1024 tokens of each 4096-token validation segment: a quick estimate
    during training that covers every source (the first 32K tokens are all Bible)."""
    n = len(val) // seg
    return np.concatenate([val[i * seg:i * seg + take] for i in range(n)])


def unigram_baseline(train, val, n_vocab, alpha=0.1):
    """Cross-entropy (nats/token) on val of add-alpha smoothed unigram counts from train."""
    c = np.bincount(train, minlength=n_vocab).astype(np.float64) + alpha
    logp = np.log(c / c.sum())
    return float(-logp[val].mean())


LOG = None


def log(msg):
    line = time.strftime("%H:%M:%S ") + msg
    print(line, flush=True)
    if LOG:
        with open(LOG, "a") as f:
            f.write(line + "\n")


@torch.no_grad()
def evaluate(model, val, n_ctx, batch=16):
    model.eval()
    n = (len(val) - 1) // n_ctx
    tot, cnt = 0.0, 0
    for i in range(0, n, batch):
        rows = [val[j * n_ctx:(j + 1) * n_ctx + 1] for j in range(i, min(n, i + batch))]
        xy = torch.from_numpy(np.stack(rows).astype(np.int64))
        logits = model(xy[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), xy[:, 1:].reshape(-1),
                               reduction="sum")
        tot += loss.item()
        cnt += xy[:, 1:].numel()
    model.train()
    return tot / cnt


@torch.no_grad()
def generate(model, tok, prompt, n_new, temperature=0.0, top_k=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = tok.encode(prompt)
    n_ctx = model.cfg["n_ctx"]
    model.eval()
    for _ in range(n_new):
        logits = model(torch.tensor([ids[-n_ctx:]]))[0, -1]
        if temperature == 0.0:
            nxt = int(logits.argmax())
        else:
            v, ix = torch.topk(logits / temperature, top_k)
            nxt = int(ix[torch.multinomial(F.softmax(v, -1), 1, generator=g)])
        ids.append(nxt)
    model.train()
    return tok.decode(ids)


PROMPTS = ["The cat is lying on the", "In the beginning", "Once upon a time",
           "The meaning of life is", "A computer is"]


def samples(model, tok, n_new=40):
    out = []
    for p in PROMPTS:
        out.append(("greedy", p, generate(model, tok, p, n_new)))
        out.append(("sampled T=0.8 top-k 40 seed 1", p,
                    generate(model, tok, p, n_new, temperature=0.8, seed=1)))
    return out


# ---------------------------------------------------------------- main

def main():
    global LOG
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(ROOT, "build/models/corpus.txt"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build/models/default.pt"))
    ap.add_argument("--log", default=None)
    ap.add_argument("--tokens", default=None,
                    help="token id cache (default: the corpus path with .tokens.npy)")
    ap.add_argument("--init", default=None,
                    help="warm start: model shape and weights from this checkpoint")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-ctx", type=int, default=128)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=400)
    # The 50257-way softmax is ~85% of the cost of this small model.  Most steps use a
    # softmax over candidates only: the --cand most frequent training tokens, the
    # batch's targets and --neg random negatives; every --full-every-th step, and the
    # last --full-last steps, use the full vocabulary, so the rare and never-seen
    # tokens are pushed down too and the final model is calibrated over all 50257.
    ap.add_argument("--cand", type=int, default=8192)
    ap.add_argument("--neg", type=int, default=1024)
    ap.add_argument("--full-every", type=int, default=4)
    ap.add_argument("--full-last", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--time-steps", type=int, default=0,
                    help="only time this many steps and exit (for sizing the model)")
    a = ap.parse_args()
    LOG = a.log

    torch.set_num_threads(a.threads)   # 2-core machine shared with the team
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    ids = load_tokens(a.corpus, a.tokens or os.path.splitext(a.corpus)[0] + ".tokens.npy")
    train, val = split(ids)
    n_vocab = 50257
    uni = unigram_baseline(train, val, n_vocab)
    log(f"corpus {len(ids)} tokens: train {len(train)}, val {len(val)}; "
        f"unigram baseline val loss {uni:.4f} (ppl {math.exp(uni):.1f})")

    init = None
    if a.init:
        init = torch.load(a.init)
        c = init["cfg"]
        a.n_ctx, a.n_embd, a.n_layer, a.n_head = c["n_ctx"], c["n_embd"], c["n_layer"], c["n_head"]
    model = GPT(n_vocab, a.n_ctx, a.n_embd, a.n_layer, a.n_head)
    if init:
        model.load_state_dict(init["state"])
        vl0 = evaluate(model, val_sample(val), a.n_ctx)
        log(f"warm start from {a.init} (step {init.get('step')} of its run); "
            f"val loss (val sample) before training {vl0:.4f} ppl {math.exp(vl0):.1f}")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model {model.cfg}, {n_params} parameters "
        f"({n_params - model.wte.weight.numel()} outside the token embedding)")

    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and n != "wpe.weight"]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() == 2 and n != "wpe.weight")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(a.seed)
    train_t = torch.from_numpy(train.astype(np.int64))
    tok = GPT2Tokenizer()
    counts = np.bincount(train, minlength=n_vocab)
    top = torch.from_numpy(np.argsort(-counts, kind="stable")[:a.cand].astype(np.int64))
    log(f"candidate softmax: top {a.cand} tokens cover "
        f"{counts[top.numpy()].sum() / counts.sum():.3f} of training tokens")

    t0 = time.time()
    steps = a.time_steps or a.steps
    smooth = None
    for step in range(1, steps + 1):
        lr = a.lr * min(1.0, step / a.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / a.steps))))
        for group in opt.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(train_t) - a.n_ctx - 1, (a.batch,), generator=g)
        xy = torch.stack([train_t[s:s + a.n_ctx + 1] for s in starts])
        x, y = xy[:, :-1], xy[:, 1:].reshape(-1)
        full = (a.cand == 0 or step % a.full_every == 0 or step > a.steps - a.full_last)
        if full:
            logits = model(x)
        else:
            neg = torch.randint(0, n_vocab, (a.neg,), generator=g)
            rows = torch.unique(torch.cat([top, y, neg]))      # sorted
            logits = model(x, rows)
            y = torch.searchsorted(rows, y)
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if full:   # smoothed full-vocabulary training loss
            smooth = loss.item() if smooth is None else 0.9 * smooth + 0.1 * loss.item()
        if step % 50 == 0 or step == steps or a.time_steps:
            el = time.time() - t0
            log(f"step {step}/{steps} loss {loss.item():.4f} ({'full' if full else 'cand'}) "
                f"smooth {smooth or 0:.4f} lr {lr:.2e} "
                f"{el:.0f} s ({el / step:.3f} s/step)")
        if a.time_steps:
            continue
        if step % a.eval_every == 0:
            vl = evaluate(model, val_sample(val), a.n_ctx)   # 1/4 of val: cheaper
            log(f"step {step} val loss (val sample) {vl:.4f} ppl {math.exp(vl):.1f} "
                f"(unigram {uni:.4f} ppl {math.exp(uni):.1f})")
            save_checkpoint({"cfg": model.cfg, "state": model.state_dict(), "step": step,
                             "val_loss": vl, "unigram": uni, "init": a.init}, a.out)
    if a.time_steps:
        return

    train_time = time.time() - t0
    vl = evaluate(model, val, a.n_ctx)
    log(f"done: {steps} steps in {train_time:.0f} s, {steps * a.batch * a.n_ctx} tokens seen; "
        f"val loss {vl:.4f} ppl {math.exp(vl):.1f}; unigram {uni:.4f} ppl {math.exp(uni):.1f}")
    save_checkpoint({"cfg": model.cfg, "state": model.state_dict(), "step": steps,
                     "val_loss": vl, "unigram": uni, "train_time_s": train_time,
                     "n_params": n_params, "n_tokens": len(ids), "n_train": len(train),
                     "n_val": len(val), "init": a.init}, a.out)
    for kind, p, text in samples(model, tok):
        log(f"sample [{kind}] {text!r}")


if __name__ == "__main__":
    main()
