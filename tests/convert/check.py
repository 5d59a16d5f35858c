#!/usr/bin/python3
"""check.py - comparisons for the converter test (tests/convert/run.sh).

Reads GGUF files with tools/gguf.py (independent of the C core) and the
Hugging Face checkpoint with tests/reference.py.

    check.py same-tensors A.gguf B.gguf     tensors (names, order, types,
                                            shapes, bytes) and metadata equal
                                            (general.name aside)
    check.py encoded OUT.gguf HF_DIR TYPE   matrices are TYPE (f32, f16,
                                            q8_0), the rest F32, and every
                                            tensor's bytes equal gguf.py's
                                            encoding of the HF weights
                                            (quantize_q8_0 for Q8_0)
    check.py logits GOT.bin REF.bin [TOL]   max|got-ref| / max|ref| <= TOL
    check.py make-bad HF_DIR OUT_DIR        writes broken checkpoints (one
                                            folder per case) for the error
                                            tests; prints nothing
    check.py make-variants HF_DIR OUT_DIR   valid checkpoints stored
                                            differently (see make_variants)
    check.py mutate HF_DIR OUT_DIR N SEED   N checkpoints whose safetensors
                                            header has random damage
    check.py fake-hub HF_DIR ROOT REPO [corrupt]  a folder laid out like
                                            the hub's API and downloads
    check.py serve ROOT PORT_FILE           serve it on 127.0.0.1
    check.py llama OUT.gguf HF_DIR NODE_DIR llama.cpp's greedy output equals
                                            the reference's (exit 77: skip)
Exit status 0 when the check holds, 1 (with a message) when not.
"""

import json
import os
import random
import shutil
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import gguf  # noqa: E402
import reference  # noqa: E402


def fail(msg):
    print("check.py: " + msg)
    return 1


def same_tensors(a, b):
    ra, rb = gguf.GGUFReader(a), gguf.GGUFReader(b)
    if list(ra.tensors) != list(rb.tensors):
        return fail("tensor lists differ:\n  %s\n  %s" %
                    (list(ra.tensors), list(rb.tensors)))
    for name, ta in ra.tensors.items():
        tb = rb.tensors[name]
        if (ta.shape, ta.ggml_type) != (tb.shape, tb.ggml_type):
            return fail("%s: %r %d vs %r %d" % (name, ta.shape, ta.ggml_type,
                                                tb.shape, tb.ggml_type))
        if bytes(ra.raw(name)) != bytes(rb.raw(name)):
            return fail("%s: data differs" % name)
    ma = {k: v for k, v in ra.metadata.items() if k != "general.name"}
    mb = {k: v for k, v in rb.metadata.items() if k != "general.name"}
    if ma != mb:
        diff = sorted(k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k))
        return fail("metadata differs: %s" % diff)
    if list(ma) != list(mb):
        return fail("metadata order differs")
    return 0


def encoded(out, hf, type_name):
    mtype = gguf.type_from_name(type_name)
    r = gguf.GGUFReader(out)
    m = reference.load_hf(hf)
    want_names = set(m.w)
    if set(r.tensors) != want_names:
        return fail("tensor names differ: %s" %
                    sorted(set(r.tensors) ^ want_names))
    n_q8 = 0
    for name, t in r.tensors.items():
        w = np.asarray(m.w[name], dtype=np.float32)
        if t.shape != w.shape:
            return fail("%s: shape %r, expected %r" % (name, t.shape, w.shape))
        want = mtype if w.ndim == 2 and name != "position_embd.weight" \
            else gguf.GGML_F32
        if t.ggml_type != want:
            return fail("%s: stored as type %d, expected %d" %
                        (name, t.ggml_type, want))
        expect = gguf.encode_tensor(w, t.ggml_type)
        n_q8 += t.ggml_type == mtype
        if bytes(r.raw(name)) != expect:
            got = np.frombuffer(bytes(r.raw(name)), dtype=np.uint8)
            exp = np.frombuffer(expect, dtype=np.uint8)
            bad = np.nonzero(got != exp)[0]
            return fail("%s: %d bytes differ from gguf.py's encoding "
                        "(first at %d)" % (name, len(bad), bad[0]))
    if n_q8 == 0:
        return fail("no %s tensor in %s" % (type_name, out))
    return 0


def logits(got_path, ref_path, tol=1e-4):
    got = np.fromfile(got_path, dtype="<f4").astype(np.float64)
    ref = np.fromfile(ref_path, dtype="<f4").astype(np.float64)
    if got.shape != ref.shape or got.size == 0:
        return fail("logits sizes differ: %d vs %d" % (got.size, ref.size))
    rel = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
    print("logits: max abs diff / max abs = %.3g (tolerance %g), argmax %d/%d"
          % (rel, tol, int(np.argmax(got)), int(np.argmax(ref))))
    if not rel <= tol:
        return fail("logits differ from the reference")
    return 0


# ------------------------------------------------------------- bad inputs

def read_st(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    return json.loads(buf[8:8 + n]), buf[8 + n:]


def write_st(path, header, data, raw_header=None):
    h = raw_header if raw_header is not None else \
        json.dumps(header, separators=(",", ":")).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def clone(src, dst, but=()):
    """dst: a copy of checkpoint src, files in `but` left for the caller."""
    os.makedirs(dst, exist_ok=True)
    for fn in ("config.json", "model.safetensors", "vocab.json",
               "merges.txt"):
        if fn in but:
            continue
        os.symlink(os.path.abspath(os.path.join(src, fn)),
                   os.path.join(dst, fn))


def make_bad(hf, out):
    """One folder per case; the expected messages are in run.sh."""
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    with open(os.path.join(hf, "config.json")) as f:
        cfg = json.load(f)
    hdr, data = read_st(os.path.join(hf, "model.safetensors"))
    with open(os.path.join(hf, "model.safetensors"), "rb") as f:
        st_bytes = f.read()
    with open(os.path.join(hf, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)

    def case(name, but=()):
        d = os.path.join(out, name)
        clone(hf, d, but)
        return d

    def put(d, fn, content, mode="w"):
        with open(os.path.join(d, fn), mode) as f:
            f.write(content)

    # missing files
    case("no_config", ["config.json"])
    case("no_safetensors", ["model.safetensors"])
    case("no_vocab", ["vocab.json"])
    case("no_merges", ["merges.txt"])
    # config.json
    d = case("bert", ["config.json"])
    put(d, "config.json", json.dumps(dict(cfg, model_type="bert")))
    d = case("bad_json", ["config.json"])
    put(d, "config.json", json.dumps(cfg)[:-1] + ",}")
    d = case("wrong_embd", ["config.json"])
    put(d, "config.json", json.dumps(dict(cfg, n_embd=32)))
    d = case("wrong_layers", ["config.json"])
    put(d, "config.json", json.dumps(dict(cfg, n_layer=3)))
    d = case("no_n_head", ["config.json"])
    put(d, "config.json", json.dumps({k: v for k, v in cfg.items()
                                      if k != "n_head"}))
    d = case("eps_float_zero", ["config.json"])
    put(d, "config.json", json.dumps(dict(cfg, layer_norm_epsilon=1e-80)))
    # vocab.json / merges.txt
    d = case("vocab_gap", ["vocab.json"])
    v2 = dict(vocab)
    v2["Ġthe"] = len(vocab) + 5
    put(d, "vocab.json", json.dumps(v2))
    d = case("vocab_bad_utf8", ["vocab.json"])
    put(d, "vocab.json", b'{"a": 0, "\xff": 1}', "wb")
    d = case("merges_bad", ["merges.txt"])
    put(d, "merges.txt", "#version: 0.2\nĠ t\nh e l\n")
    # model.safetensors
    d = case("st_truncated", ["model.safetensors"])
    put(d, "model.safetensors", st_bytes[:len(st_bytes) // 2], "wb")
    d = case("st_tiny", ["model.safetensors"])
    put(d, "model.safetensors", st_bytes[:5], "wb")
    d = case("st_header_len", ["model.safetensors"])
    put(d, "model.safetensors", struct.pack("<Q", len(st_bytes)) +
        st_bytes[8:], "wb")
    d = case("st_offsets_lie", ["model.safetensors"])
    h2 = json.loads(json.dumps(hdr))
    h2["ln_f.bias"]["data_offsets"][1] = len(data) + 4096
    write_st(os.path.join(d, "model.safetensors"), h2, data)
    d = case("st_offsets_span", ["model.safetensors"])
    h2 = json.loads(json.dumps(hdr))
    b = h2["h.0.ln_1.bias"]["data_offsets"]
    b[1] = b[0] + 8
    write_st(os.path.join(d, "model.safetensors"), h2, data)
    d = case("st_bad_json", ["model.safetensors"])
    write_st(os.path.join(d, "model.safetensors"), None, data,
             raw_header=b'{"wte.weight": {"dtype": "F32", "shape": [1,'
                        b' "data_offsets": [0, 4]}}')
    d = case("st_missing_tensor", ["model.safetensors"])
    h2 = {k: v for k, v in hdr.items() if k != "h.1.ln_2.bias"}
    write_st(os.path.join(d, "model.safetensors"), h2, data)
    d = case("st_extra_tensor", ["model.safetensors"])
    h2 = dict(hdr)
    h2["h.7.mlp.c_fc.weight"] = hdr["h.0.ln_1.bias"]
    write_st(os.path.join(d, "model.safetensors"), h2, data)
    d = case("st_dtype", ["model.safetensors"])
    h2 = json.loads(json.dumps(hdr))
    h2["h.0.ln_1.bias"]["dtype"] = "I32"
    write_st(os.path.join(d, "model.safetensors"), h2, data)
    d = case("st_shape", ["model.safetensors"])
    h2 = json.loads(json.dumps(hdr))
    e = h2["h.0.attn.c_attn.weight"]["shape"]
    h2["h.0.attn.c_attn.weight"]["shape"] = [e[1], e[0]]
    write_st(os.path.join(d, "model.safetensors"), h2, data)
    d = case("st_nan", ["model.safetensors"])
    d2 = bytearray(data)
    a = hdr["h.0.attn.c_proj.weight"]["data_offsets"][0]
    d2[a:a + 4] = struct.pack("<f", float("nan"))
    write_st(os.path.join(d, "model.safetensors"), hdr, bytes(d2))
    return 0


def make_variants(hf, out):
    """Valid checkpoints written differently from hf-tiny:
    prefixed/  names with "transformer.", lm_head.weight = a copy of wte
               (tied), no mask buffers, tensors in another order
    f16/       every weight stored as F16 (converting to f16 must give
               the same bytes as rounding the F32 weights)
    bf16/      every weight stored as BF16"""
    if os.path.exists(out):
        shutil.rmtree(out)
    hdr, data = read_st(os.path.join(hf, "model.safetensors"))
    tensors = {}
    for name, info in hdr.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        tensors[name] = np.frombuffer(data[a:b], dtype="<f4").reshape(
            info["shape"])

    def write(d, items, dtype):
        clone(hf, d, ["model.safetensors"])
        header, blobs, off = {}, [], 0
        for name, arr in items:
            if dtype == "F16":
                raw = arr.astype("<f2").tobytes()
            elif dtype == "BF16":
                raw = gguf.f32_to_bf16_bits(arr).astype("<u2").tobytes()
            else:
                raw = arr.astype("<f4").tobytes()
            header[name] = {"dtype": dtype, "shape": list(arr.shape),
                            "data_offsets": [off, off + len(raw)]}
            blobs.append(raw)
            off += len(raw)
        write_st(os.path.join(d, "model.safetensors"), header, b"".join(blobs))

    items = [("transformer." + n, a) for n, a in reversed(tensors.items())
             if not n.endswith(".attn.bias")]
    items.append(("lm_head.weight", tensors["wte.weight"]))
    write(os.path.join(out, "prefixed"), items, "F32")
    write(os.path.join(out, "f16"), list(tensors.items()), "F16")
    write(os.path.join(out, "bf16"), list(tensors.items()), "BF16")
    return 0


def mutate(hf, out, n, seed):
    """Random damage to the safetensors header (bytes flipped, inserted,
    deleted, the length changed).  The converter must exit 0 or 1."""
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    with open(os.path.join(hf, "model.safetensors"), "rb") as f:
        st_bytes = f.read()
    (hlen,) = struct.unpack("<Q", st_bytes[:8])
    head, data = bytearray(st_bytes[8:8 + hlen]), st_bytes[8 + hlen:]
    rng = random.Random(seed)
    for i in range(n):
        h = bytearray(head)
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(4)
            pos = rng.randrange(len(h))
            if op == 0:
                h[pos] = rng.randrange(256)
            elif op == 1:
                h.insert(pos, rng.choice(b'{}[]",:0123456789-eE. \\u'))
            elif op == 2:
                del h[pos]
            else:
                # a digit changed: offsets and shapes that lie
                digits = [j for j, c in enumerate(h) if 48 <= c <= 57]
                h[rng.choice(digits)] = rng.randrange(48, 58)
        hl = len(h) if rng.random() < 0.9 else rng.randrange(2 ** 20)
        d = os.path.join(out, "m%03d" % i)
        clone(hf, d, ["model.safetensors"])
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(struct.pack("<Q", hl) + bytes(h) + data)
    return 0


def fake_hub(hf, root, repo, corrupt=False):
    """A folder that, served over HTTP, answers like the Hugging Face hub for
    models/gpt2.sh: api/models/REPO/tree/main (the file listing with sizes,
    git blob hashes and LFS sha256) and REPO/resolve/main/FILE.  With
    corrupt, the listing's sha256 of model.safetensors is wrong."""
    import hashlib
    files = ["config.json", "vocab.json", "merges.txt", "model.safetensors"]
    entries = []
    res = os.path.join(root, repo, "resolve", "main")
    os.makedirs(res, exist_ok=True)
    for fn in files:
        with open(os.path.join(hf, fn), "rb") as f:
            data = f.read()
        shutil.copyfile(os.path.join(hf, fn), os.path.join(res, fn))
        e = {"type": "file", "path": fn, "size": len(data),
             "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
        if fn == "model.safetensors":
            sha = hashlib.sha256(data).hexdigest()
            if corrupt:
                sha = sha[::-1]
            e["lfs"] = {"oid": sha, "size": len(data), "pointerSize": 134}
            e["oid"] = "0" * 40
        entries.append(e)
    api = os.path.join(root, "api", "models", repo, "tree")
    os.makedirs(api, exist_ok=True)
    with open(os.path.join(api, "main"), "w") as f:
        json.dump(entries, f)
    return 0


def serve(root, port_file):
    """Serves root on 127.0.0.1 (a free port, written to port_file)."""
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    handler = functools.partial(Quiet, directory=root)
    srv = http.server.HTTPServer(("127.0.0.1", 0), handler)
    with open(port_file + ".part", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(port_file + ".part", port_file)
    srv.serve_forever()


def llama(out, hf, node_dir):
    sys.path.insert(0, os.path.join(ROOT, "tests", "tests_py"))
    os.environ["LLAMA_NODE_DIR"] = node_dir
    import test_llamacpp  # noqa: E402
    if not test_llamacpp.HAVE:
        print("llama.cpp (node-llama-cpp) not available: skipped")
        return 77
    m = reference.load_hf(hf)
    prompt = test_llamacpp.PROMPT
    got = test_llamacpp.run_llamacpp(out, prompt, 8)
    want = reference.greedy(m, prompt, 8)
    print("llama.cpp greedy %s, reference %s" % (got["greedy"], want))
    if got["greedy"] != want:
        return fail("llama.cpp's greedy output differs")
    lp = reference.log_softmax(reference.forward(m, prompt, True))
    for i, pos in enumerate(got["positions"]):
        if pos["token"] != int(np.argmax(lp[i])):
            return fail("llama.cpp's argmax differs at position %d" % i)
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "same-tensors":
        return same_tensors(*args)
    if cmd == "encoded":
        return encoded(*args)
    if cmd == "logits":
        return logits(args[0], args[1], *(float(x) for x in args[2:]))
    if cmd == "make-bad":
        return make_bad(*args)
    if cmd == "make-variants":
        return make_variants(*args)
    if cmd == "mutate":
        return mutate(args[0], args[1], int(args[2]), int(args[3]))
    if cmd == "fake-hub":
        return fake_hub(args[0], args[1], args[2], len(args) > 3)
    if cmd == "serve":
        return serve(*args)
    if cmd == "llama":
        return llama(*args)
    print("unknown command %s" % cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
