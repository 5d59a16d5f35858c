"""Cross-check with llama.cpp: the generated GGUF files load in llama.cpp
and give the reference's argmax at every position, the same greedy
continuation, and probabilities within llama.cpp's own precision (it keeps
the KV cache in F16 and, for Q8_0 weights, quantizes activations to 8 bits).

Skipped unless LLAMA_NODE_DIR names a folder with node-llama-cpp installed:

    mkdir /tmp/llamajs && cd /tmp/llamajs && npm init -y &&
        npm install node-llama-cpp@3.14.2
    LLAMA_NODE_DIR=/tmp/llamajs /usr/bin/python3 -m unittest \
        tests/tests_py/test_llamacpp.py -v

MODELS_DIR (default build/models) names the models to check; missing ones
are generated into a temporary folder.
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
sys.path.insert(0, os.path.join(ROOT, "tests"))
import gen_models  # noqa: E402
import reference  # noqa: E402

NODE_DIR = os.environ.get("LLAMA_NODE_DIR")
HAVE = bool(NODE_DIR) and shutil.which("node") is not None and \
    os.path.isdir(os.path.join(NODE_DIR or "", "node_modules",
                               "node-llama-cpp"))
SCRIPT = os.path.join(ROOT, "tests", "tests_py", "llamacpp_check.mjs")
PROMPT = [464, 3290, 318, 257]
# max |log p_llama.cpp - log p_reference| over the top-5 at every position
TOL = {"tiny-f32.gguf": 0.01, "tiny-f16.gguf": 0.01,
       "tiny-untied-f32.gguf": 0.01, "tiny-q8_0.gguf": 0.1}


def run_llamacpp(model, ids, n, text=None):
    cmd = ["node", SCRIPT, model, ",".join(map(str, ids)), str(n)]
    if text is not None:
        cmd.append(text)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, LLAMA_NODE_DIR=NODE_DIR))
    if res.returncode != 0:
        raise AssertionError("llama.cpp failed: " + res.stderr[-2000:])
    return json.loads(res.stdout.strip().split("\n")[-1])


@unittest.skipUnless(HAVE, "LLAMA_NODE_DIR with node-llama-cpp not set")
class LlamaCpp(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = os.environ.get("MODELS_DIR",
                                 os.path.join(ROOT, "build", "models"))
        if not all(os.path.exists(os.path.join(cls.dir, m)) for m in TOL):
            cls.dir = tempfile.mkdtemp(prefix="llamacpp-models-")
            gen_models.main(["--out", cls.dir, "--quiet"])

    def test_models_agree(self):
        for name, tol in TOL.items():
            path = os.path.join(self.dir, name)
            m = reference.load_gguf(path)
            got = run_llamacpp(path, PROMPT, 8)
            lp = reference.log_softmax(reference.forward(m, PROMPT, True))
            for i, pos in enumerate(got["positions"]):
                self.assertEqual(pos["token"], int(np.argmax(lp[i])),
                                 "%s position %d" % (name, i))
                for tok, p in pos["top"]:
                    self.assertLess(abs(np.log(p) - lp[i, tok]), tol,
                                    "%s position %d token %d" % (name, i, tok))
            self.assertEqual(got["greedy"], reference.greedy(m, PROMPT, 8),
                             name)

    def test_tokenizer_metadata(self):
        # llama.cpp tokenizes with our tokens/merges/pre-tokenizer keys
        path = os.path.join(self.dir, "tiny-q8_0.gguf")
        got = run_llamacpp(path, PROMPT, 1,
                           "The dog is a cat's friend, isn't it?")
        self.assertEqual(got["tokenize"], [464, 3290, 318, 257, 3797, 338,
                                           1545, 11, 2125, 470, 340, 30])


if __name__ == "__main__":
    unittest.main()
