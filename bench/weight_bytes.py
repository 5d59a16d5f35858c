"""weight_bytes.py - bytes of weights a GPT-2 GGUF decode step reads, and
the matrix FLOPs per prefill token.

Decode is bandwidth-bound: per token it reads every blk.* tensor once, the
final norm, and the LM head.  The LM head is output.weight when the file has
one; otherwise it is token_embd.weight (tied), read in full.  The token and
position embedding lookups read one row each (counted too; they are tiny).

    /usr/bin/python3 bench/weight_bytes.py MODEL.gguf   -> JSON on stdout
"""

import json
import struct
import sys

# ggml type id -> (block elements, block bytes); the types our files use
TYPES = {0: (1, 4), 1: (1, 2), 8: (32, 34), 30: (1, 2)}
NAMES = {0: "F32", 1: "F16", 8: "Q8_0", 30: "BF16"}


def _str(f):
    (n,) = struct.unpack("<Q", f.read(8))
    return f.read(n).decode("utf-8")


def _skip_value(f, t):
    # GGUF metadata value types: fixed sizes, 8 string, 9 array
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8,
             12: 8}
    if t == 8:
        _str(f)
    elif t == 9:
        (et, n) = struct.unpack("<IQ", f.read(12))
        if et in sizes:
            f.seek(sizes[et] * n, 1)
        else:
            for _ in range(n):
                _skip_value(f, et)
    else:
        f.seek(sizes[t], 1)


def tensors(path):
    """name -> (type id, shape, bytes) of every tensor in the file."""
    out = {}
    with open(path, "rb") as f:
        magic, _version, n_t, n_kv = struct.unpack("<4sIQQ", f.read(24))
        if magic != b"GGUF":
            raise ValueError("%s: not a GGUF file" % path)
        for _ in range(n_kv):
            _str(f)
            (t,) = struct.unpack("<I", f.read(4))
            _skip_value(f, t)
        for _ in range(n_t):
            name = _str(f)
            (nd,) = struct.unpack("<I", f.read(4))
            shape = struct.unpack("<%dQ" % nd, f.read(8 * nd))
            (t, _off) = struct.unpack("<IQ", f.read(12))
            n = 1
            for d in shape:
                n *= d
            blk, size = TYPES[t]
            out[name] = (t, shape, n // blk * size)
    return out


def decode_bytes(path):
    ts = tensors(path)
    read = sum(b for name, (_, _, b) in ts.items()
               if name.startswith("blk.") or name.startswith("output_norm"))
    emb_t, emb_shape, emb_b = ts["token_embd.weight"]
    row = emb_b // emb_shape[1]
    if "output.weight" in ts:
        read += ts["output.weight"][2] + row
    else:
        read += emb_b
    pos_t, pos_shape, pos_b = ts["position_embd.weight"]
    read += pos_b // pos_shape[1]
    # prefill: the matrices of the blocks, one multiply-add per weight per
    # token (the LM head runs for the last token only; attention's own
    # products are left out: under 6% at 512 tokens)
    macs = 0
    for name, (_, shape, _) in ts.items():
        if name.startswith("blk.") and len(shape) == 2:
            macs += shape[0] * shape[1]
    return {"decode_weight_bytes": read,
            "prefill_flops_per_token": 2 * macs,
            "tensor_bytes": sum(b for _, _, b in ts.values()),
            "matrix_types": sorted({NAMES.get(t, str(t))
                                    for t, s, _ in ts.values() if len(s) == 2})}


if __name__ == "__main__":
    print(json.dumps(decode_bytes(sys.argv[1])))
