"""gguf.py - a small, dependency-light GGUF writer and reader (numpy only).

Written from the GGUF specification (ggml docs/gguf.md) for the test tools of
this project.  It is deliberately independent of the C core so that the numpy
reference (tests/reference.py) checks the core against a second reading of
the format.

Layout of a GGUF file (version 2 and 3, little-endian):

    magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
    n_kv x      { string key | u32 value_type | value }
    n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type
                  | u64 offset (relative to the data section) }
    zero padding to general.alignment (default 32)
    data section: every tensor at an aligned offset, zero padding between

    string = u64 length + bytes (no NUL)
    array  = u32 element type + u64 count + elements

ggml dimension order: ne[0] is the innermost (contiguous) dimension, so a
numpy array of shape (rows, cols) is described by ne = [cols, rows].  This
module takes and returns numpy shapes; it reverses them on the way in/out.

Tensor types handled: F32 (0), F16 (1), Q4_0 (2), Q8_0 (8), BF16 (30).
Quantized rows must be multiples of 32 values (the block size).
"""

import os
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32

# metadata value types
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32 = 0, 1, 2, 3, 4, 5
T_FLOAT32, T_BOOL, T_STRING, T_ARRAY = 6, 7, 8, 9
T_UINT64, T_INT64, T_FLOAT64 = 10, 11, 12

# scalar metadata types -> struct format
_SCALAR_FMT = {
    T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h",
    T_UINT32: "<I", T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?",
    T_UINT64: "<Q", T_INT64: "<q", T_FLOAT64: "<d",
}
# scalar metadata types -> numpy dtype (for fast array packing/unpacking)
_SCALAR_NP = {
    T_UINT8: "<u1", T_INT8: "<i1", T_UINT16: "<u2", T_INT16: "<i2",
    T_UINT32: "<u4", T_INT32: "<i4", T_FLOAT32: "<f4", T_BOOL: "<u1",
    T_UINT64: "<u8", T_INT64: "<i8", T_FLOAT64: "<f8",
}
TYPE_NAMES = {
    "uint8": T_UINT8, "int8": T_INT8, "uint16": T_UINT16, "int16": T_INT16,
    "uint32": T_UINT32, "int32": T_INT32, "float32": T_FLOAT32,
    "bool": T_BOOL, "string": T_STRING, "array": T_ARRAY,
    "uint64": T_UINT64, "int64": T_INT64, "float64": T_FLOAT64,
}

# ggml tensor types
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0, GGML_BF16 = 0, 1, 2, 8, 30
GGML_TYPE_NAMES = {GGML_F32: "F32", GGML_F16: "F16", GGML_Q4_0: "Q4_0",
                   GGML_Q8_0: "Q8_0", GGML_BF16: "BF16"}
# (values per block, bytes per block)
GGML_BLOCK = {GGML_F32: (1, 4), GGML_F16: (1, 2), GGML_BF16: (1, 2),
              GGML_Q8_0: (32, 34), GGML_Q4_0: (32, 18)}

# general.file_type values (llama_ftype)
FTYPE_ALL_F32, FTYPE_MOSTLY_F16, FTYPE_MOSTLY_Q4_0 = 0, 1, 2
FTYPE_MOSTLY_Q8_0, FTYPE_MOSTLY_BF16 = 7, 32


class GGUFError(Exception):
    pass


def type_from_name(name):
    """'f32' / 'F16' / 'q8_0' ... -> ggml type number."""
    for k, v in GGML_TYPE_NAMES.items():
        if v.lower() == name.lower():
            return k
    raise GGUFError("unknown tensor type %r" % name)


def tensor_nbytes(ggml_type, shape):
    """Bytes that a tensor of numpy `shape` takes when stored as ggml_type."""
    if ggml_type not in GGML_BLOCK:
        raise GGUFError("unsupported ggml type %d" % ggml_type)
    blk, size = GGML_BLOCK[ggml_type]
    n = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    inner = shape[-1] if len(shape) else 1
    if inner % blk:
        raise GGUFError("rows of %d values are not a multiple of the block "
                        "size %d of %s" % (inner, blk,
                                           GGML_TYPE_NAMES[ggml_type]))
    return n // blk * size


# ----------------------------------------------------------- quantization

def _round_away(x):
    """C roundf(): halves go away from zero (numpy's round goes to even)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def f32_to_bf16_bits(x):
    """float32 -> bf16 bit patterns, round to nearest even (as ggml)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    u64 = u.astype(np.uint64)
    rounded = ((u64 + 0x7FFF + ((u64 >> 16) & 1)) >> 16).astype(np.uint16)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    quiet = ((u >> 16) | 64).astype(np.uint16)
    return np.where(nan, quiet, rounded)


def quantize_q8_0(x):
    """float array (..., k*32) -> raw Q8_0 bytes.

    Per block of 32: d = max|x| / 127 (stored as fp16), q = round(x / d) as
    int8 (x * (1/d) with the float32 d, as ggml's reference quantizer).
    Block layout: fp16 d, then 32 int8 = 34 bytes."""
    x = np.asarray(x, dtype=np.float32)
    if x.shape[-1] % 32:
        raise GGUFError("Q8_0 needs rows that are multiples of 32")
    b = x.reshape(-1, 32)
    amax = np.max(np.abs(b), axis=1)
    d = amax / np.float32(127.0)
    with np.errstate(divide="ignore"):
        idv = np.where(d > 0, np.float32(1.0) / d, np.float32(0.0))
    q = _round_away(b * idv[:, None].astype(np.float32))
    q = np.clip(q, -127, 127).astype(np.int8)
    out = np.empty((b.shape[0], 34), dtype=np.uint8)
    out[:, 0:2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def dequantize_q8_0(raw, n):
    blocks = np.frombuffer(raw, dtype=np.uint8, count=n // 32 * 34)
    blocks = blocks.reshape(-1, 34)
    d = blocks[:, 0:2].copy().view("<f2").astype(np.float32)  # (nb, 1)
    q = blocks[:, 2:].view(np.int8).astype(np.float32)         # (nb, 32)
    return (q * d).reshape(-1)


def quantize_q4_0(x):
    """float array (..., k*32) -> raw Q4_0 bytes (ggml reference scheme).

    Per block of 32: m = the value of largest magnitude (with its sign),
    d = m / -8, q = min(15, trunc(x/d + 8.5)); byte j holds q[j] in its low
    nibble and q[j+16] in its high nibble.  Block: fp16 d + 16 bytes."""
    x = np.asarray(x, dtype=np.float32)
    if x.shape[-1] % 32:
        raise GGUFError("Q4_0 needs rows that are multiples of 32")
    b = x.reshape(-1, 32)
    idx = np.argmax(np.abs(b), axis=1)
    m = b[np.arange(b.shape[0]), idx]
    d = m / np.float32(-8.0)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, np.float32(1.0) / d, np.float32(0.0))
    v = b * idv[:, None].astype(np.float32) + np.float32(8.5)
    q = np.minimum(15, np.trunc(v)).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    out = np.empty((b.shape[0], 18), dtype=np.uint8)
    out[:, 0:2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = packed
    return out.tobytes()


def dequantize_q4_0(raw, n):
    blocks = np.frombuffer(raw, dtype=np.uint8, count=n // 32 * 18)
    blocks = blocks.reshape(-1, 18)
    d = blocks[:, 0:2].copy().view("<f2").astype(np.float32)
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int16) - 8
    hi = (qs >> 4).astype(np.int16) - 8
    q = np.concatenate([lo, hi], axis=1).astype(np.float32)
    return (q * d).reshape(-1)


def encode_tensor(arr, ggml_type):
    """numpy array -> raw bytes in the given ggml type."""
    if ggml_type == GGML_F32:
        return np.ascontiguousarray(arr, dtype="<f4").tobytes()
    if ggml_type == GGML_F16:
        return np.ascontiguousarray(arr, dtype=np.float32).astype(
            "<f2").tobytes()
    if ggml_type == GGML_BF16:
        return f32_to_bf16_bits(arr).astype("<u2").tobytes()
    if ggml_type == GGML_Q8_0:
        return quantize_q8_0(arr)
    if ggml_type == GGML_Q4_0:
        return quantize_q4_0(arr)
    raise GGUFError("cannot write ggml type %d" % ggml_type)


def decode_tensor(raw, ggml_type, shape):
    """raw bytes -> float32 numpy array of `shape` (dequantized)."""
    n = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    if ggml_type == GGML_F32:
        out = np.frombuffer(raw, dtype="<f4", count=n)
    elif ggml_type == GGML_F16:
        out = np.frombuffer(raw, dtype="<f2", count=n).astype(np.float32)
    elif ggml_type == GGML_BF16:
        bits = np.frombuffer(raw, dtype="<u2", count=n).astype(np.uint32)
        out = (bits << 16).view(np.float32)
    elif ggml_type == GGML_Q8_0:
        out = dequantize_q8_0(raw, n)
    elif ggml_type == GGML_Q4_0:
        out = dequantize_q4_0(raw, n)
    else:
        raise GGUFError("cannot read ggml type %d" % ggml_type)
    return out.reshape(shape)


# ----------------------------------------------------------------- writer

class Value:
    """A metadata value with an explicit GGUF type.

    Value(3, 'uint32'), Value([1, 2], 'array', 'int32'),
    Value(['a', 'b'], 'array', 'string').  Plain Python values are typed
    automatically by GGUFWriter.add (see _auto_type)."""

    def __init__(self, value, vtype, elem_type=None):
        self.value = value
        self.vtype = TYPE_NAMES[vtype] if isinstance(vtype, str) else vtype
        if isinstance(elem_type, str):
            elem_type = TYPE_NAMES[elem_type]
        self.elem_type = elem_type


def _auto_type(v):
    if isinstance(v, Value):
        return v
    if isinstance(v, bool):
        return Value(v, T_BOOL)
    if isinstance(v, int):
        return Value(v, T_UINT32 if 0 <= v < 2**32 else T_INT64)
    if isinstance(v, float):
        return Value(v, T_FLOAT32)
    if isinstance(v, str):
        return Value(v, T_STRING)
    if isinstance(v, (list, tuple)):
        if len(v) and all(isinstance(e, str) for e in v):
            return Value(list(v), T_ARRAY, T_STRING)
        if all(isinstance(e, bool) for e in v) and len(v):
            return Value(list(v), T_ARRAY, T_BOOL)
        if all(isinstance(e, int) for e in v):
            return Value(list(v), T_ARRAY, T_INT32)
        return Value(list(v), T_ARRAY, T_FLOAT32)
    raise GGUFError("cannot infer the GGUF type of %r" % (v,))


def _pack_string(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(b)) + b


def _pack_value(vtype, value, elem_type=None):
    if vtype in _SCALAR_FMT:
        return struct.pack(_SCALAR_FMT[vtype], value)
    if vtype == T_STRING:
        return _pack_string(value)
    if vtype == T_ARRAY:
        if elem_type is None:
            raise GGUFError("array value needs an element type")
        head = struct.pack("<IQ", elem_type, len(value))
        if elem_type in _SCALAR_NP:
            return head + np.asarray(value).astype(
                _SCALAR_NP[elem_type]).tobytes()
        if elem_type == T_STRING:
            return head + b"".join(_pack_string(s) for s in value)
        if elem_type == T_ARRAY:
            # nested arrays: each element is a Value of type array
            return head + b"".join(
                _pack_value(T_ARRAY, e.value, e.elem_type)
                for e in map(_auto_type, value))
        raise GGUFError("bad array element type %r" % elem_type)
    raise GGUFError("bad value type %r" % vtype)


def _align(n, a):
    return (n + a - 1) // a * a


class GGUFWriter:
    """Collects metadata and tensors, then writes one GGUF file.

        w = GGUFWriter(version=3, alignment=32)
        w.add("general.architecture", "gpt2")
        w.add("gpt2.block_count", Value(12, "uint32"))
        w.add_tensor("token_embd.weight", array, GGML_Q8_0)
        w.write(path)

    Tensor arrays are numpy arrays in numpy (row-major) shape; the writer
    stores ne reversed as ggml expects.  `raw=(bytes, ggml_type, shape)` adds
    an already-encoded tensor.  The alignment is written as
    general.alignment unless it is the default 32 and write_alignment_key is
    False."""

    def __init__(self, version=3, alignment=DEFAULT_ALIGNMENT,
                 write_alignment_key=None):
        if version not in (2, 3):
            raise GGUFError("only GGUF versions 2 and 3 are written")
        if alignment <= 0 or alignment % 8:
            raise GGUFError("alignment must be a positive multiple of 8")
        self.version = version
        self.alignment = alignment
        self.kv = []          # [(key, Value)]
        self.tensors = []     # [(name, shape, ggml_type, bytes)]
        if write_alignment_key is None:
            write_alignment_key = alignment != DEFAULT_ALIGNMENT
        if write_alignment_key:
            self.add("general.alignment", Value(alignment, T_UINT32))

    def add(self, key, value):
        if any(k == key for k, _ in self.kv):
            raise GGUFError("duplicate key %s" % key)
        self.kv.append((key, _auto_type(value)))

    def add_tensor(self, name, array=None, ggml_type=GGML_F32, raw=None):
        if any(t[0] == name for t in self.tensors):
            raise GGUFError("duplicate tensor %s" % name)
        if raw is not None:
            data, ggml_type, shape = raw
            shape = tuple(int(s) for s in shape)
            if len(data) != tensor_nbytes(ggml_type, shape):
                raise GGUFError("%s: %d bytes do not fit shape %r" %
                                (name, len(data), shape))
        else:
            shape = tuple(int(s) for s in np.shape(array))
            tensor_nbytes(ggml_type, shape)  # checks the block size
            data = encode_tensor(array, ggml_type)
        self.tensors.append((name, shape, ggml_type, data))

    def header_bytes(self):
        """Everything before the data section, padded to the alignment, and
        the offsets of each tensor inside the data section."""
        parts = [GGUF_MAGIC, struct.pack("<IQQ", self.version,
                                         len(self.tensors), len(self.kv))]
        for key, v in self.kv:
            parts.append(_pack_string(key))
            parts.append(struct.pack("<I", v.vtype))
            parts.append(_pack_value(v.vtype, v.value, v.elem_type))
        offsets, off = [], 0
        for name, shape, gtype, data in self.tensors:
            off = _align(off, self.alignment)
            offsets.append(off)
            ne = list(reversed(shape)) if shape else [1]
            parts.append(_pack_string(name))
            parts.append(struct.pack("<I", len(ne)))
            parts.append(struct.pack("<%dQ" % len(ne), *ne))
            parts.append(struct.pack("<IQ", gtype, off))
            off += len(data)
        head = b"".join(parts)
        head += b"\0" * (_align(len(head), self.alignment) - len(head))
        return head, offsets

    def write(self, path):
        head, offsets = self.header_bytes()
        with open(path, "wb") as f:
            f.write(head)
            pos = 0
            for (name, shape, gtype, data), off in zip(self.tensors, offsets):
                f.write(b"\0" * (off - pos))
                f.write(data)
                pos = off + len(data)
            # pad the file end too, so every tensor's aligned span fits
            f.write(b"\0" * (_align(pos, self.alignment) - pos))
            drop_page_cache(f)


def drop_page_cache(f):
    """Writes f out (if written) and drops it from the page cache, except
    the pages some process maps.  The pages a write or copy leaves cached
    are small (4 KiB) folios; dropped, the file's first reader
    (gpt_model_open asks for huge pages) brings it back in 2 MiB folios,
    which a new process maps in a few faults instead of one per 4 KiB page
    (see gpt_map_aligned in core/model.c)."""
    f.flush()
    if os.fstat(f.fileno()).st_size < 2 << 20:   # under one huge page
        return
    os.fsync(f.fileno())
    os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def write_gguf(path, metadata, tensors, version=3,
               alignment=DEFAULT_ALIGNMENT):
    """metadata: dict key -> value (or Value); tensors: list of
    (name, numpy array, ggml_type)."""
    w = GGUFWriter(version=version, alignment=alignment)
    for k, v in metadata.items():
        w.add(k, v)
    for name, arr, gtype in tensors:
        w.add_tensor(name, arr, gtype)
    w.write(path)


# ----------------------------------------------------------------- reader

class TensorInfo:
    def __init__(self, name, shape, ggml_type, offset):
        self.name = name
        self.shape = shape           # numpy order (ne reversed)
        self.ggml_type = ggml_type
        self.offset = offset         # relative to the data section
        self.nbytes = tensor_nbytes(ggml_type, shape) \
            if ggml_type in GGML_BLOCK else None

    def __repr__(self):
        return "TensorInfo(%s, %r, %s, +%d)" % (
            self.name, self.shape,
            GGML_TYPE_NAMES.get(self.ggml_type, self.ggml_type), self.offset)


class _Cursor:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise GGUFError("truncated file at byte %d (need %d more)" %
                            (self.pos, n))
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))

    def string(self):
        (n,) = self.unpack("<Q")
        return bytes(self.take(n)).decode("utf-8", errors="surrogateescape")

    def value(self, vtype):
        if vtype in _SCALAR_FMT:
            (v,) = self.unpack(_SCALAR_FMT[vtype])
            if vtype == T_BOOL:
                v = bool(v)
            return v
        if vtype == T_STRING:
            return self.string()
        if vtype == T_ARRAY:
            etype, n = self.unpack("<IQ")
            if etype in _SCALAR_NP:
                size = np.dtype(_SCALAR_NP[etype]).itemsize
                arr = np.frombuffer(self.take(n * size),
                                    dtype=_SCALAR_NP[etype])
                if etype == T_BOOL:
                    arr = arr.astype(bool)
                return arr.tolist()
            return [self.value(etype) for _ in range(n)]
        raise GGUFError("unknown metadata value type %d at byte %d" %
                        (vtype, self.pos))


class GGUFReader:
    """Parses a GGUF file.

        r = GGUFReader(path)
        r.version, r.metadata (dict), r.types (key -> value type, and
        element type for arrays), r.tensors (name -> TensorInfo, in file
        order), r.alignment, r.data_offset
        r.tensor(name) -> float32 numpy array (dequantized, numpy shape)
        r.raw(name) -> the stored bytes"""

    def __init__(self, path):
        self.path = path
        self.buf = np.memmap(path, dtype=np.uint8, mode="r")
        c = _Cursor(self.buf)
        if bytes(c.take(4)) != GGUF_MAGIC:
            raise GGUFError("%s: not a GGUF file (bad magic)" % path)
        (self.version,) = c.unpack("<I")
        if self.version not in (2, 3):
            raise GGUFError("%s: unsupported GGUF version %d" %
                            (path, self.version))
        n_tensors, n_kv = c.unpack("<QQ")
        self.metadata, self.types = {}, {}
        for _ in range(n_kv):
            key = c.string()
            (vtype,) = c.unpack("<I")
            if vtype == T_ARRAY:
                save = c.pos
                (etype,) = c.unpack("<I")
                c.pos = save
                self.types[key] = (vtype, etype)
            else:
                self.types[key] = (vtype, None)
            if key in self.metadata:
                raise GGUFError("%s: duplicate key %s" % (path, key))
            self.metadata[key] = c.value(vtype)
        self.alignment = int(self.metadata.get("general.alignment",
                                               DEFAULT_ALIGNMENT))
        self.tensors = {}
        for _ in range(n_tensors):
            name = c.string()
            (n_dims,) = c.unpack("<I")
            ne = c.unpack("<%dQ" % n_dims)
            gtype, off = c.unpack("<IQ")
            if name in self.tensors:
                raise GGUFError("%s: duplicate tensor %s" % (path, name))
            self.tensors[name] = TensorInfo(
                name, tuple(int(x) for x in reversed(ne)), gtype, off)
        self.data_offset = _align(c.pos, self.alignment)
        for t in self.tensors.values():
            if t.offset % self.alignment:
                raise GGUFError("%s: tensor %s offset %d is not aligned" %
                                (path, t.name, t.offset))
            if t.nbytes is not None and \
                    self.data_offset + t.offset + t.nbytes > len(self.buf):
                raise GGUFError("%s: tensor %s runs past the end of file" %
                                (path, t.name))

    def raw(self, name):
        t = self.tensors[name]
        if t.nbytes is None:
            raise GGUFError("tensor %s has unsupported type %d" %
                            (name, t.ggml_type))
        start = self.data_offset + t.offset
        return self.buf[start:start + t.nbytes]

    def tensor(self, name):
        t = self.tensors[name]
        return decode_tensor(self.raw(name), t.ggml_type, t.shape)


def read_gguf(path):
    """-> (metadata dict, {name: float32 array}) with every tensor loaded."""
    r = GGUFReader(path)
    return r.metadata, {n: r.tensor(n) for n in r.tensors}


def _main(argv):
    """python3 tools/gguf.py FILE.gguf: print metadata and tensor infos."""
    import sys
    if len(argv) != 2:
        sys.stderr.write("usage: gguf.py FILE.gguf\n")
        return 2
    r = GGUFReader(argv[1])
    print("GGUF v%d, alignment %d, data at %d" %
          (r.version, r.alignment, r.data_offset))
    for k, v in r.metadata.items():
        if isinstance(v, list) and len(v) > 8:
            v = "[%s, ... %d items]" % (", ".join(map(repr, v[:4])), len(v))
        print("  %s = %r" % (k, v) if not isinstance(v, str)
              else "  %s = %s" % (k, v))
    print("  tensors: name, type, numpy shape, ggml ne, data offset")
    for t in r.tensors.values():
        print("  %-28s %-5s %-12s ne=[%s] +%d" % (
            t.name, GGML_TYPE_NAMES.get(t.ggml_type, t.ggml_type),
            "x".join(map(str, t.shape)),
            ",".join(map(str, reversed(t.shape))), t.offset))
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(_main(sys.argv))
