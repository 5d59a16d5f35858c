"""Tests of tests/gen_models.py and tests/reference.py.

Generates the tiny models and the Hugging Face checkpoint into a temporary
folder (about a second), then checks metadata and tensors against what
llama.cpp expects for gpt2, and checks the reference forward pass against a
second, token-by-token implementation with an explicit KV cache.

    /usr/bin/python3 -m unittest discover -s tests/tests_py -v

UPDATE_EXPECTED=1 rewrites tests/data/reference/tiny_expected.json.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import gguf  # noqa: E402
import gen_models  # noqa: E402
import reference  # noqa: E402

EXPECTED = os.path.join(ROOT, "tests", "data", "reference",
                        "tiny_expected.json")
PROMPT = [464, 3290, 318, 257]          # "The dog is a"


class Models(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="gen-models-test-")
        gen_models.main(["--out", cls.dir, "--quiet"])
        gen_models.main(["--hf", os.path.join(cls.dir, "hf"), "--quiet"])
        cls.models = {}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def model(self, name):
        if name not in self.models:
            if name == "hf":
                self.models[name] = reference.load_hf(self.path("hf"))
            else:
                self.models[name] = reference.load_gguf(self.path(name))
        return self.models[name]

    # ------------------------------------------------------------ files

    def test_metadata(self):
        r = gguf.GGUFReader(self.path("tiny-q8_0.gguf"))
        md, ty = r.metadata, r.types
        U32, F32, STR = gguf.T_UINT32, gguf.T_FLOAT32, gguf.T_STRING
        want = {
            "general.architecture": (STR, "gpt2"),
            "gpt2.context_length": (U32, 128),
            "gpt2.embedding_length": (U32, 64),
            "gpt2.feed_forward_length": (U32, 256),
            "gpt2.block_count": (U32, 2),
            "gpt2.attention.head_count": (U32, 4),
            "general.file_type": (U32, 7),
            "tokenizer.ggml.model": (STR, "gpt2"),
            "tokenizer.ggml.bos_token_id": (U32, 50256),
            "tokenizer.ggml.eos_token_id": (U32, 50256),
        }
        for k, (t, v) in want.items():
            self.assertEqual(ty[k][0], t, k)
            self.assertEqual(md[k], v, k)
        self.assertEqual(ty["gpt2.attention.layer_norm_epsilon"][0], F32)
        self.assertAlmostEqual(md["gpt2.attention.layer_norm_epsilon"], 1e-5)
        self.assertEqual(ty["tokenizer.ggml.tokens"], (gguf.T_ARRAY, STR))
        self.assertEqual(ty["tokenizer.ggml.merges"], (gguf.T_ARRAY, STR))
        self.assertEqual(ty["tokenizer.ggml.token_type"],
                         (gguf.T_ARRAY, gguf.T_INT32))
        toks = md["tokenizer.ggml.tokens"]
        self.assertEqual(len(toks), 50257)
        self.assertEqual(toks[0], "!")
        self.assertEqual(toks[50256], "<|endoftext|>")
        self.assertEqual(toks[464], "The")
        self.assertEqual(toks[3290], "Ġdog")
        self.assertEqual(md["tokenizer.ggml.token_type"][50256], 3)
        self.assertEqual(set(md["tokenizer.ggml.token_type"][:50256]), {1})
        merges = md["tokenizer.ggml.merges"]
        self.assertEqual(len(merges), 50000)
        self.assertEqual(merges[0], "Ġ t")
        for name, ft in (("tiny-f32.gguf", 0), ("tiny-f16.gguf", 1),
                         ("tiny-untied-f32.gguf", 0)):
            self.assertEqual(gguf.GGUFReader(self.path(name))
                             .metadata["general.file_type"], ft)

    def test_tensor_layout(self):
        E, F, V, C = 64, 256, 50257, 128
        shapes = {"token_embd.weight": (V, E),
                  "position_embd.weight": (C, E),
                  "output_norm.weight": (E,), "output_norm.bias": (E,)}
        for i in range(2):
            p = "blk.%d." % i
            shapes.update({
                p + "attn_norm.weight": (E,), p + "attn_norm.bias": (E,),
                p + "attn_qkv.weight": (3 * E, E),
                p + "attn_qkv.bias": (3 * E,),
                p + "attn_output.weight": (E, E),
                p + "attn_output.bias": (E,),
                p + "ffn_norm.weight": (E,), p + "ffn_norm.bias": (E,),
                p + "ffn_up.weight": (F, E), p + "ffn_up.bias": (F,),
                p + "ffn_down.weight": (E, F), p + "ffn_down.bias": (E,)})
        for fname, mtype in (("tiny-f32.gguf", gguf.GGML_F32),
                             ("tiny-f16.gguf", gguf.GGML_F16),
                             ("tiny-q8_0.gguf", gguf.GGML_Q8_0)):
            r = gguf.GGUFReader(self.path(fname))
            self.assertEqual(set(r.tensors), set(shapes), fname)
            for name, t in r.tensors.items():
                self.assertEqual(t.shape, shapes[name], name)
                if len(t.shape) == 1 or name == "position_embd.weight":
                    self.assertEqual(t.ggml_type, gguf.GGML_F32, name)
                else:
                    self.assertEqual(t.ggml_type, mtype, name)
        r = gguf.GGUFReader(self.path("tiny-untied-f32.gguf"))
        self.assertEqual(r.tensors["output.weight"].shape, (V, E))
        self.assertEqual(len(r.tensors), len(shapes) + 1)

    def test_hf_checkpoint_matches_gguf(self):
        with open(self.path("hf/config.json")) as f:
            cfg = json.load(f)
        self.assertEqual(cfg["model_type"], "gpt2")
        for k, v in (("n_embd", 64), ("n_layer", 2), ("n_head", 4),
                     ("n_positions", 128), ("n_ctx", 128),
                     ("vocab_size", 50257)):
            self.assertEqual(cfg[k], v, k)
        st = reference.read_safetensors(self.path("hf/model.safetensors"))
        self.assertEqual(st["h.0.attn.c_attn.weight"].shape, (64, 192))
        self.assertEqual(st["h.1.mlp.c_fc.weight"].shape, (64, 256))
        self.assertEqual(st["h.1.mlp.c_proj.weight"].shape, (256, 64))
        self.assertEqual(st["h.0.attn.bias"].shape, (1, 1, 128, 128))
        hf, g = self.model("hf"), self.model("tiny-f32.gguf")
        self.assertEqual(set(hf.w), set(g.w))
        for k in g.w:
            np.testing.assert_array_equal(hf.w[k], g.w[k], k)
        for f in ("vocab.json", "merges.txt"):
            self.assertTrue(os.path.getsize(self.path("hf/" + f)) > 100000)

    def test_deterministic(self):
        d = tempfile.mkdtemp(prefix="gen-models-again-")
        self.addCleanup(shutil.rmtree, d, True)
        gen_models.main(["--out", d, "--quiet",
                         "--only", "tiny-q8_0.gguf"])
        with open(os.path.join(d, "tiny-q8_0.gguf"), "rb") as a, \
                open(self.path("tiny-q8_0.gguf"), "rb") as b:
            self.assertEqual(a.read(), b.read())

    # -------------------------------------------------------- reference

    def test_against_token_by_token(self):
        """A second implementation: one token at a time, explicit K/V
        cache, loops over heads (as llama2.c); all positions must agree."""
        for name in ("tiny-f32.gguf", "tiny-untied-f32.gguf"):
            m = self.model(name)
            ids = PROMPT + [11, 50256, 0, 50255]
            want = reference.forward(m, ids, all_positions=True)
            got = np.stack(incremental_forward(m, ids))
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)

    def test_hf_equals_gguf_logits(self):
        a = reference.forward(self.model("hf"), PROMPT, True)
        b = reference.forward(self.model("tiny-f32.gguf"), PROMPT, True)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)

    def test_quantized_close_to_f32(self):
        ref = reference.forward(self.model("tiny-f32.gguf"), PROMPT, True)
        for name, tol in (("tiny-f16.gguf", 0.01), ("tiny-q8_0.gguf", 0.25)):
            got = reference.forward(self.model(name), PROMPT, True)
            err = np.abs(got - ref).max()
            self.assertLess(err, tol, name)
            self.assertGreater(err, 0, name)

    def test_logits_not_flat(self):
        m = self.model("tiny-f32.gguf")
        lg = reference.forward(m, PROMPT, True)
        self.assertGreater(lg.std(axis=1).min(), 1.0)
        p = np.exp(reference.log_softmax(lg[-1]))
        self.assertGreater(p.max(), 0.01)
        # context matters: the last position differs from a fresh start
        alone = reference.forward(m, PROMPT[-1:])
        self.assertGreater(np.abs(alone - lg[-1]).max(), 0.1)
        # untied head gives different logits from the tied one
        un = reference.forward(self.model("tiny-untied-f32.gguf"), PROMPT)
        self.assertGreater(np.abs(un - lg[-1]).max(), 1.0)

    def test_causal(self):
        m = self.model("tiny-f32.gguf")
        long = reference.forward(m, PROMPT + [13, 198], True)
        short = reference.forward(m, PROMPT, True)
        np.testing.assert_allclose(long[:len(PROMPT)], short, atol=1e-10)

    def test_logprobs_greedy_topk(self):
        m = self.model("tiny-f32.gguf")
        lp = reference.logprobs(m, PROMPT)
        full = reference.log_softmax(
            reference.forward(m, [50256] + PROMPT[:-1], True))
        for i, t in enumerate(PROMPT):
            self.assertAlmostEqual(lp[i], full[i, t], places=12)
        g = reference.greedy(m, PROMPT, 5)
        self.assertEqual(len(g), 5)
        seq = list(PROMPT)
        for t in g:
            self.assertEqual(t, int(np.argmax(reference.forward(m, seq))))
            seq.append(t)
        top = reference.top_k(m, PROMPT, 5)
        probs = [p for _, p in top]
        self.assertEqual(probs, sorted(probs, reverse=True))
        self.assertEqual(top[0][0], g[0])

    def test_context_limit(self):
        m = self.model("tiny-f32.gguf")
        reference.forward(m, [1] * 128)
        with self.assertRaises(SystemExit):
            reference.forward(m, [1] * 129)
        self.assertEqual(len(reference.greedy(m, [1] * 126, 5)), 2)

    def test_cli(self):
        out = self.path("cli-logits.bin")
        allout = self.path("cli-all.bin")
        ids = ",".join(map(str, PROMPT))
        py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
            else sys.executable
        script = os.path.join(ROOT, "tests", "reference.py")
        res = subprocess.run(
            [py, script, self.path("tiny-q8_0.gguf"), "--ids", ids,
             "--logits-out", out, "--all-logits-out", allout],
            check=True, capture_output=True, text=True)
        last = np.fromfile(out, dtype="<f4")
        allv = np.fromfile(allout, dtype="<f4").reshape(len(PROMPT), 50257)
        self.assertEqual(last.shape, (50257,))
        np.testing.assert_array_equal(allv[-1], last)
        self.assertEqual(int(res.stdout.strip()), int(np.argmax(last)))
        res = subprocess.run(
            [py, script, "--hf", self.path("hf"), "--ids", ids,
             "--greedy", "3", "--logprobs", "--top-k", "2"],
            check=True, capture_output=True, text=True)
        lines = res.stdout.strip().split("\n")
        self.assertEqual(len(lines), 3)
        self.assertEqual(len(json.loads(lines[0])), 3)
        self.assertEqual(len(json.loads(lines[1])), len(PROMPT))
        self.assertEqual(len(json.loads(lines[2])), 2)

    def test_expected(self):
        """Regenerated models still give the committed results (catches a
        change in numpy's generator or in gen_models.py)."""
        got = {}
        for name in ("tiny-f32.gguf", "tiny-f16.gguf", "tiny-q8_0.gguf",
                     "tiny-untied-f32.gguf"):
            m = self.model(name)
            lg = reference.forward(m, PROMPT)
            got[name] = {
                "prompt": PROMPT,
                "argmax": int(np.argmax(lg)),
                "top5": reference.top_k(m, PROMPT, 5),
                "greedy8": reference.greedy(m, PROMPT, 8),
                "logprobs": reference.logprobs(m, PROMPT),
                "logits_head": [float(v) for v in lg[:8]],
            }
        if os.environ.get("UPDATE_EXPECTED"):
            os.makedirs(os.path.dirname(EXPECTED), exist_ok=True)
            with open(EXPECTED, "w") as f:
                f.write("{\n" + ",\n".join(
                    " %s: %s" % (json.dumps(k), json.dumps(v))
                    for k, v in got.items()) + "\n}\n")
        with open(EXPECTED) as f:
            want = json.load(f)
        for name, w in want.items():
            g = got[name]
            self.assertEqual(g["argmax"], w["argmax"], name)
            self.assertEqual(g["greedy8"], w["greedy8"], name)
            self.assertEqual([i for i, _ in g["top5"]],
                             [i for i, _ in w["top5"]], name)
            np.testing.assert_allclose(g["logprobs"], w["logprobs"],
                                       atol=1e-6)
            np.testing.assert_allclose(g["logits_head"], w["logits_head"],
                                       atol=1e-6)


def incremental_forward(m, ids):
    """Token-by-token GPT-2 with a K/V cache; returns a list of logit rows.
    Written separately from reference.forward on purpose."""
    w, E, H = m.w, m.n_embd, m.n_head
    D = E // H
    kcache = [[] for _ in range(m.n_layer)]   # per layer: list of (E,)
    vcache = [[] for _ in range(m.n_layer)]
    head = w["output.weight"] if "output.weight" in w \
        else w["token_embd.weight"]

    def ln(v, g, b):
        mu = sum(v) / len(v)
        var = sum((t - mu) ** 2 for t in v) / len(v)
        return (v - mu) / np.sqrt(var + m.eps) * g + b

    rows = []
    for pos, tok in enumerate(ids):
        x = w["token_embd.weight"][tok] + w["position_embd.weight"][pos]
        for L in range(m.n_layer):
            p = "blk.%d." % L
            h = ln(x, w[p + "attn_norm.weight"], w[p + "attn_norm.bias"])
            qkv = w[p + "attn_qkv.weight"].dot(h) + w[p + "attn_qkv.bias"]
            q, k, v = qkv[:E], qkv[E:2 * E], qkv[2 * E:]
            # cached as halves, as reference.attention (and the core) do
            kcache[L].append(np.float64(np.float16(k)))
            vcache[L].append(np.float64(np.float16(v)))
            out = np.zeros(E)
            for hh in range(H):
                s = slice(hh * D, (hh + 1) * D)
                scores = np.array([q[s].dot(kk[s]) for kk in kcache[L]])
                scores /= np.sqrt(D)
                e = np.exp(scores - scores.max())
                a = e / e.sum()
                for t, vv in enumerate(vcache[L]):
                    out[s] += a[t] * vv[s]
            x = x + w[p + "attn_output.weight"].dot(out) \
                + w[p + "attn_output.bias"]
            h = ln(x, w[p + "ffn_norm.weight"], w[p + "ffn_norm.bias"])
            u = w[p + "ffn_up.weight"].dot(h) + w[p + "ffn_up.bias"]
            u = 0.5 * u * (1 + np.tanh(0.7978845608028654 *
                                       (u + 0.044715 * u * u * u)))
            x = x + w[p + "ffn_down.weight"].dot(u) + w[p + "ffn_down.bias"]
        h = ln(x, w["output_norm.weight"], w["output_norm.bias"])
        rows.append(head.dot(h))
    return rows


if __name__ == "__main__":
    unittest.main()
