#!/usr/bin/python3
"""Writes random test cases in the gpt2_cases.jsonl format, with ids from an
independent Python implementation (GPT-2's regex run by python3-regex, then
tiktoken's merge rule), to cross-check the C tokenizer:

    /usr/bin/python3 tests/core/tok_fuzz.py 2000 SEED > /tmp/fuzz.jsonl
    TOK_CASES=/tmp/fuzz.jsonl build/test_tokenizer

Needs Debian's python3-regex (Unicode 15.0, like core/unicode_tables.h).
"""
import json
import random
import sys

import regex

DATA = "tests/data/gpt2"
PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()
with open(DATA + "/encoder.json", encoding="utf-8") as f:
    RANKS = json.load(f)
del RANKS["<|endoftext|>"]  # special: never merged (tiktoken's encoder)


def bpe(piece):
    s = "".join(B2U[b] for b in piece.encode("utf-8"))
    if s in RANKS:
        return [RANKS[s]]
    parts = list(s)
    while len(parts) > 1:
        best, bi = None, -1
        for i in range(len(parts) - 1):
            r = RANKS.get(parts[i] + parts[i + 1])
            if r is not None and (best is None or r < best):
                best, bi = r, i
        if best is None:
            break
        parts[bi:bi + 2] = [parts[bi] + parts[bi + 1]]
    return [RANKS[p] for p in parts]


def encode(text):
    ids = []
    for piece in PAT.findall(text):
        ids.extend(bpe(piece))
    return ids


POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    " ", " ", " ", "\n", "\t", "\r",
    "\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029"
    "\u202f\u205f\u3000\ufeff\u200b\u180e\u200c\u200d\x00\x7f",
    "'s't're've'm'll'd'S'T'RE'LL's ",
    "\u2019\u2018\u201c\u201d\u2014\u2026",
    "\u00e9\u00e8\u00fc\u00df\u00e7\u0301\u0308\u0327\u00aa\u00ba\u00b5",
    "\u00b2\u00b3\u00b9\u00bc\u00bd\u2160\u216b\u217b\u0661\u0662\u06f5"
    "\u0966\u2460\u2474\uff11\uff21\u3007\U0001d7ce",
    "\u4e2d\u6587\u5b57\u65e5\u672c\u8a9e\u3042\u30a2\u30fc\ud55c\uad6d",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0651\u0928\u092e\u0938\u094d",
    "\u043f\u0440\u0438\u0432\u0435\u0442\u03b1\u03b2\u03b3\u05e9\u0e01",
    "\U0001f600\U0001f44d\U0001f3fd\u200d\u2764\ufe0f\U0001f1fa\U0001f1f8",
    "\U00010400\U0001d400\U00020000\U0001f9d1",
]


def rand_char(rng):
    k = rng.random()
    if k < 0.08:
        # any code point (not a surrogate)
        while True:
            c = rng.randrange(0, 0x110000) if rng.random() < 0.3 else \
                rng.randrange(0, 0x3400)
            if not 0xD800 <= c < 0xE000:
                return chr(c)
    pool = rng.choice(POOLS)
    return rng.choice(pool)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    out = sys.stdout
    for i in range(n):
        length = rng.choice([1, 2, 3, 5, 8, 13, 30, 80, 200])
        # runs of one pool make words, numbers and whitespace runs
        chars = []
        while len(chars) < length:
            pool = rng.choice(POOLS)
            for _ in range(rng.randrange(1, 8)):
                chars.append(rng.choice(pool) if rng.random() < 0.9
                             else rand_char(rng))
        text = "".join(chars[:length])
        rec = {"id": "fuzz-%d" % i, "category": "fuzz", "text": text,
               "ids": encode(text), "roundtrip": True}
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")


main()
