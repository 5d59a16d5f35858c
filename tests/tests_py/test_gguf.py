"""Tests of tools/gguf.py: the writer's bytes against the spec, the reader
against the writer, and the quantizers against hand-computed blocks.

    /usr/bin/python3 -m unittest discover -s tests/tests_py -v
"""

import os
import shutil
import struct
import sys
import tempfile
import unittest

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import gguf  # noqa: E402
from gguf import Value  # noqa: E402


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _tmp(testcase, name):
    d = tempfile.mkdtemp(prefix="gguf-test-")
    testcase.addCleanup(shutil.rmtree, d, True)
    return os.path.join(d, name)


ALL_SCALARS = {
    "t.u8": Value(255, "uint8"), "t.i8": Value(-128, "int8"),
    "t.u16": Value(65535, "uint16"), "t.i16": Value(-32768, "int16"),
    "t.u32": Value(2**32 - 1, "uint32"), "t.i32": Value(-2**31, "int32"),
    "t.f32": Value(1.5, "float32"), "t.bool_t": Value(True, "bool"),
    "t.bool_f": Value(False, "bool"), "t.str": Value("héllo ☃", "string"),
    "t.empty_str": Value("", "string"),
    "t.u64": Value(2**64 - 1, "uint64"), "t.i64": Value(-2**63, "int64"),
    "t.f64": Value(0.1, "float64"),
}
ALL_ARRAYS = {
    "a.u8": Value([0, 1, 255], "array", "uint8"),
    "a.i8": Value([-1, 2], "array", "int8"),
    "a.u16": Value([7, 65535], "array", "uint16"),
    "a.i16": Value([-7], "array", "int16"),
    "a.u32": Value([1, 2, 3], "array", "uint32"),
    "a.i32": Value([-1, 0, 1], "array", "int32"),
    "a.f32": Value([0.5, -2.25], "array", "float32"),
    "a.bool": Value([True, False, True], "array", "bool"),
    "a.str": Value(["a", "", "Ġ t", "<|endoftext|>"], "array", "string"),
    "a.u64": Value([2**40], "array", "uint64"),
    "a.i64": Value([-2**40], "array", "int64"),
    "a.f64": Value([1e300, -0.0], "array", "float64"),
    "a.empty": Value([], "array", "int32"),
    "a.nested": Value([Value([1, 2], "array", "int32"),
                       Value(["x"], "array", "string")], "array", "array"),
}


class WriterBytes(unittest.TestCase):
    """Checks the bytes by hand (struct), not with our reader."""

    def test_header_and_tensor_info_layout(self):
        path = _tmp(self, "m.gguf")
        w = gguf.GGUFWriter(version=3)
        w.add("general.architecture", "gpt2")
        w.add("x.count", Value(7, "uint32"))
        arr = np.arange(3 * 32, dtype=np.float32).reshape(3, 32)
        w.add_tensor("w", arr, gguf.GGML_F32)
        w.write(path)
        b = _read(path)
        self.assertEqual(b[:4], b"GGUF")
        version, n_t, n_kv = struct.unpack_from("<IQQ", b, 4)
        self.assertEqual((version, n_t, n_kv), (3, 1, 2))
        p = 24
        (klen,) = struct.unpack_from("<Q", b, p)
        self.assertEqual(b[p + 8:p + 8 + klen], b"general.architecture")
        p += 8 + klen
        (vt,) = struct.unpack_from("<I", b, p)
        self.assertEqual(vt, gguf.T_STRING)
        (slen,) = struct.unpack_from("<Q", b, p + 4)
        self.assertEqual(b[p + 12:p + 12 + slen], b"gpt2")
        p += 12 + slen
        (klen,) = struct.unpack_from("<Q", b, p)
        p += 8 + klen
        vt, val = struct.unpack_from("<II", b, p)
        self.assertEqual((vt, val), (gguf.T_UINT32, 7))
        p += 8
        (nlen,) = struct.unpack_from("<Q", b, p)
        self.assertEqual(b[p + 8:p + 8 + nlen], b"w")
        p += 8 + nlen
        (n_dims,) = struct.unpack_from("<I", b, p)
        ne = struct.unpack_from("<2Q", b, p + 4)
        # ggml order: ne[0] is the contiguous dimension
        self.assertEqual((n_dims, ne), (2, (32, 3)))
        gtype, off = struct.unpack_from("<IQ", b, p + 20)
        self.assertEqual((gtype, off), (gguf.GGML_F32, 0))
        p += 32
        data = (p + 31) // 32 * 32
        self.assertTrue(all(c == 0 for c in b[p:data]))
        got = np.frombuffer(b, dtype="<f4", count=96, offset=data)
        np.testing.assert_array_equal(got.reshape(3, 32), arr)

    def test_version_2(self):
        path = _tmp(self, "v2.gguf")
        w = gguf.GGUFWriter(version=2)
        w.add("a.b", 1)
        w.write(path)
        b = _read(path)
        self.assertEqual(struct.unpack_from("<I", b, 4)[0], 2)
        self.assertEqual(gguf.GGUFReader(path).version, 2)

    def test_alignment(self):
        for align in (32, 64, 256):
            path = _tmp(self, "a%d.gguf" % align)
            w = gguf.GGUFWriter(alignment=align)
            w.add("k.x", "y" * 13)
            w.add_tensor("a", np.ones(3, np.float32))       # 12 bytes
            w.add_tensor("b", np.ones((2, 32), np.float32), gguf.GGML_Q8_0)
            w.add_tensor("c", np.ones(5, np.float32), gguf.GGML_F16)
            w.write(path)
            r = gguf.GGUFReader(path)
            self.assertEqual(r.alignment, align)
            self.assertEqual(r.data_offset % align, 0)
            self.assertEqual(("general.alignment" in r.metadata),
                             align != 32)
            for t in r.tensors.values():
                self.assertEqual(t.offset % align, 0, t.name)
            self.assertEqual(os.path.getsize(path) % align, 0)
            np.testing.assert_array_equal(r.tensor("c"), np.ones(5))

    def test_rejects_bad_input(self):
        w = gguf.GGUFWriter()
        with self.assertRaises(gguf.GGUFError):
            w.add_tensor("q", np.ones((2, 33), np.float32), gguf.GGML_Q8_0)
        w.add("k.a", 1)
        with self.assertRaises(gguf.GGUFError):
            w.add("k.a", 2)
        with self.assertRaises(gguf.GGUFError):
            gguf.GGUFWriter(version=1)


class RoundTrip(unittest.TestCase):

    def test_metadata_every_type(self):
        for version in (2, 3):
            path = _tmp(self, "md.gguf")
            w = gguf.GGUFWriter(version=version)
            for k, v in list(ALL_SCALARS.items()) + list(ALL_ARRAYS.items()):
                w.add(k, v)
            w.write(path)
            r = gguf.GGUFReader(path)
            for k, v in ALL_SCALARS.items():
                self.assertEqual(r.types[k][0], v.vtype, k)
                if v.vtype == gguf.T_FLOAT32:
                    self.assertAlmostEqual(r.metadata[k], v.value, places=6)
                else:
                    self.assertEqual(r.metadata[k], v.value, k)
            for k, v in ALL_ARRAYS.items():
                self.assertEqual(r.types[k], (gguf.T_ARRAY, v.elem_type), k)
                if k == "a.nested":
                    self.assertEqual(r.metadata[k], [[1, 2], ["x"]])
                else:
                    self.assertEqual(r.metadata[k], v.value, k)

    def test_auto_types(self):
        path = _tmp(self, "auto.gguf")
        w = gguf.GGUFWriter()
        w.add("x.int", 5)
        w.add("x.neg", -5)
        w.add("x.float", 0.25)
        w.add("x.str", "s")
        w.add("x.bool", True)
        w.add("x.strs", ["a", "b"])
        w.add("x.ints", [1, -2])
        w.write(path)
        r = gguf.GGUFReader(path)
        self.assertEqual(r.types["x.int"][0], gguf.T_UINT32)
        self.assertEqual(r.types["x.neg"][0], gguf.T_INT64)
        self.assertEqual(r.types["x.float"][0], gguf.T_FLOAT32)
        self.assertEqual(r.types["x.bool"][0], gguf.T_BOOL)
        self.assertEqual(r.types["x.strs"], (gguf.T_ARRAY, gguf.T_STRING))
        self.assertEqual(r.types["x.ints"], (gguf.T_ARRAY, gguf.T_INT32))
        self.assertEqual(r.metadata["x.ints"], [1, -2])

    def test_tensor_types(self):
        rng = np.random.default_rng(1)
        x = rng.standard_normal((4, 64)).astype(np.float32)
        path = _tmp(self, "t.gguf")
        w = gguf.GGUFWriter()
        names = {}
        for gt in (gguf.GGML_F32, gguf.GGML_F16, gguf.GGML_BF16,
                   gguf.GGML_Q8_0, gguf.GGML_Q4_0):
            names[gt] = "t_" + gguf.GGML_TYPE_NAMES[gt]
            w.add_tensor(names[gt], x, gt)
        w.add_tensor("scalar1d", np.array([3.0], np.float32))
        w.add_tensor("three_d", np.arange(2 * 3 * 4, dtype=np.float32)
                     .reshape(2, 3, 4))
        w.write(path)
        r = gguf.GGUFReader(path)
        for gt, name in names.items():
            self.assertEqual(r.tensors[name].ggml_type, gt)
            self.assertEqual(r.tensors[name].shape, (4, 64))
            y = r.tensor(name)
            self.assertEqual(y.dtype, np.float32)
            self.assertEqual(y.shape, (4, 64))
        np.testing.assert_array_equal(r.tensor(names[gguf.GGML_F32]), x)
        np.testing.assert_array_equal(r.tensor(names[gguf.GGML_F16]),
                                      x.astype(np.float16).astype(np.float32))
        err = np.abs(r.tensor(names[gguf.GGML_BF16]) - x)
        self.assertTrue(np.all(err <= np.abs(x) * 2.0 ** -8))
        # Q8_0: half a step of the block scale d, plus |q| <= 127 times
        # the fp16 rounding of d (relative 2^-11)
        d = np.abs(x).reshape(-1, 32).max(axis=1) / 127
        err = np.abs(r.tensor(names[gguf.GGML_Q8_0]) - x).reshape(-1, 32)
        bound = d * (0.5 + 127 * 2.0 ** -11)
        self.assertTrue(np.all(err <= bound[:, None]))
        # Q4_0: 16 levels, at most one step of d = max|x| / 8
        d4 = np.abs(x).reshape(-1, 32).max(axis=1) / 8
        err = np.abs(r.tensor(names[gguf.GGML_Q4_0]) - x).reshape(-1, 32)
        self.assertTrue(np.all(err <= d4[:, None] * 1.01))
        self.assertEqual(r.tensors["three_d"].shape, (2, 3, 4))
        np.testing.assert_array_equal(r.tensor("three_d"),
                                      np.arange(24).reshape(2, 3, 4))
        self.assertEqual(r.tensor("scalar1d")[0], 3.0)

    def test_raw_tensor_passthrough(self):
        x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 32)
        raw = gguf.quantize_q8_0(x)
        path = _tmp(self, "raw.gguf")
        w = gguf.GGUFWriter()
        w.add_tensor("r", raw=(raw, gguf.GGML_Q8_0, (2, 32)))
        w.write(path)
        self.assertEqual(bytes(gguf.GGUFReader(path).raw("r")), raw)


class Quantizers(unittest.TestCase):

    def test_q8_0_known_block(self):
        x = np.arange(32, dtype=np.float32) - 16          # -16 .. 15
        raw = gguf.quantize_q8_0(x)
        self.assertEqual(len(raw), 34)
        d = np.frombuffer(raw[:2], dtype="<f2")[0]
        self.assertEqual(d, np.float16(16 / 127))
        q = np.frombuffer(raw[2:], dtype=np.int8)
        # round(x * 127/16), halves away from zero, as C roundf
        want = [int(np.sign(v) * np.floor(abs(v) * 127 / 16 + 0.5))
                for v in x]
        self.assertEqual(q.tolist(), want)
        self.assertEqual(q[0], -127)

    def test_q8_0_zero_block(self):
        raw = gguf.quantize_q8_0(np.zeros(32, np.float32))
        self.assertEqual(raw, b"\0" * 34)
        np.testing.assert_array_equal(gguf.dequantize_q8_0(raw, 32),
                                      np.zeros(32))

    def test_q8_0_round_half_away(self):
        # d = 127/127 = 1: values exactly on .5 go away from zero
        x = np.zeros(32, np.float32)
        x[0], x[1], x[2] = 127.0, 2.5, -2.5
        q = np.frombuffer(gguf.quantize_q8_0(x)[2:], dtype=np.int8)
        self.assertEqual(q[:3].tolist(), [127, 3, -3])

    def test_q4_0_known_block(self):
        x = np.zeros(32, np.float32)
        x[0] = -8.0   # largest magnitude, negative: d = -8 / -8 = 1
        x[1] = 3.0
        x[16] = 7.0
        raw = gguf.quantize_q4_0(x)
        self.assertEqual(len(raw), 18)
        self.assertEqual(np.frombuffer(raw[:2], dtype="<f2")[0], 1.0)
        qs = np.frombuffer(raw[2:], dtype=np.uint8)
        # byte 0: low nibble x[0] -> 0, high nibble x[16] -> 15
        self.assertEqual(qs[0], 0 | (15 << 4))
        self.assertEqual(qs[1] & 15, 11)
        y = gguf.dequantize_q4_0(raw, 32)
        self.assertEqual(y[0], -8.0)
        self.assertEqual(y[1], 3.0)
        self.assertEqual(y[16], 7.0)

    def test_bf16(self):
        x = np.array([1.0, -2.0, 1.00390625, 3.4e38, np.inf, np.nan],
                     np.float32)
        b = gguf.f32_to_bf16_bits(x)
        self.assertEqual(b[0], 0x3F80)
        self.assertEqual(b[1], 0xC000)
        self.assertEqual(b[2], 0x3F80)    # tie -> even
        self.assertEqual(b[4], 0x7F80)
        self.assertTrue((b[5] & 0x7F80) == 0x7F80 and (b[5] & 0x7F))


class ReaderErrors(unittest.TestCase):

    def _good(self):
        path = _tmp(self, "g.gguf")
        w = gguf.GGUFWriter()
        w.add("k.s", "v")
        w.add_tensor("t", np.ones((4, 32), np.float32))
        w.write(path)
        return path

    def test_bad_magic(self):
        path = self._good()
        b = bytearray(_read(path))
        b[0:4] = b"GGML"
        _write(path, b)
        with self.assertRaises(gguf.GGUFError):
            gguf.GGUFReader(path)

    def test_truncated(self):
        path = self._good()
        b = _read(path)
        for cut in (10, 40, len(b) - 64):
            _write(path, b[:cut])
            with self.assertRaises(gguf.GGUFError):
                gguf.GGUFReader(path)


if __name__ == "__main__":
    unittest.main()
