"""Minimal safetensors reader/writer (no `safetensors` package needed).

File layout (the public safetensors format):

    [8 bytes]  little-endian u64 N = length of the JSON header
    [N bytes]  UTF-8 JSON: {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
               (padded with spaces so that the data section starts 8-byte aligned)
    [rest]     raw little-endian tensor bytes; data_offsets are relative to the start of this section

Supported dtypes: BF16, F16, F32, F64, I8, U8, I16, I32, I64, BOOL.

BF16 is converted from float32 with round-to-nearest-even (the same rounding torch's `.to(torch.bfloat16)`
uses) and is read back to float32 exactly (a bf16 value is the top 16 bits of a float32).
"""

import json
import os
import struct

import numpy as np

_NP_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}
_ITEMSIZE = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8, "I8": 1, "U8": 1, "I16": 2, "I32": 4, "I64": 8, "BOOL": 1}


def f32_to_bf16_bits(x):
    """float32 array -> uint16 array of bf16 bit patterns, round-to-nearest-even (no NaN inputs expected)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_bits_to_f32(bits):
    """uint16 array of bf16 bit patterns -> float32 array (exact)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def round_to_bf16(x):
    """Round a float32 array to the nearest bf16 value, returned as float32."""
    return bf16_bits_to_f32(f32_to_bf16_bits(x)).reshape(np.shape(x))


def _tensor_bytes(arr, dtype):
    if dtype == "BF16":
        return f32_to_bf16_bits(arr).tobytes()
    return np.ascontiguousarray(arr, dtype=_NP_DTYPES[dtype]).astype(
        np.dtype(_NP_DTYPES[dtype]).newbyteorder("<"), copy=False).tobytes()


def _default_dtype(arr):
    a = np.asarray(arr)
    if a.dtype == np.float32:
        return "F32"
    if a.dtype == np.float64:
        return "F64"
    if a.dtype == np.float16:
        return "F16"
    if a.dtype == np.int64:
        return "I64"
    if a.dtype == np.int32:
        return "I32"
    if a.dtype == np.int16:
        return "I16"
    if a.dtype == np.int8:
        return "I8"
    if a.dtype == np.uint8:
        return "U8"
    if a.dtype == np.bool_:
        return "BOOL"
    raise ValueError(f"unsupported numpy dtype {a.dtype}")


def _build_header(entries, metadata):
    """entries: list of (name, dtype, shape). Returns (header_bytes_with_length_prefix, offsets dict)."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    for name, dtype, shape in entries:
        nbytes = _ITEMSIZE[dtype] * int(np.prod(shape, dtype=np.int64))
        header[name] = {"dtype": dtype, "shape": [int(s) for s in shape], "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    raw += b" " * ((8 - (8 + len(raw)) % 8) % 8)
    return struct.pack("<Q", len(raw)) + raw, offset


def save_file(tensors, path, metadata=None, dtypes=None):
    """Write a dict name -> numpy array. `dtypes` optionally maps name -> safetensors dtype string
    (e.g. "BF16" for float32 arrays to be rounded). Tensors are stored in sorted-name order."""
    dtypes = dtypes or {}
    names = sorted(tensors)
    entries = [(n, dtypes.get(n) or _default_dtype(tensors[n]), np.shape(tensors[n])) for n in names]
    head, _ = _build_header(entries, metadata)
    with open(path, "wb") as f:
        f.write(head)
        for (n, dt, _shape) in entries:
            f.write(_tensor_bytes(tensors[n], dt))


class StreamingWriter:
    """Write a safetensors file tensor by tensor, never holding more than one tensor in memory.

    The header needs every (name, dtype, shape) up front; the data must then be written in exactly that order
    via `write(name, array)`."""

    def __init__(self, path, entries, metadata=None):
        self.entries = list(entries)
        self.path = path
        self.f = open(path, "wb")
        head, self.total = _build_header(self.entries, metadata)
        self.f.write(head)
        self.next = 0

    def write(self, name, arr):
        exp_name, dtype, shape = self.entries[self.next]
        assert name == exp_name, f"expected {exp_name}, got {name}"
        assert tuple(np.shape(arr)) == tuple(shape), (name, np.shape(arr), shape)
        self.f.write(_tensor_bytes(arr, dtype))
        self.next += 1

    def close(self):
        assert self.next == len(self.entries), "not all tensors written"
        self.f.close()


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
    return header, 8 + n


def load_file(path, names=None):
    """Read tensors as numpy arrays (BF16 -> float32). Returns (dict, metadata)."""
    header, data_start = read_header(path)
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    with open(path, "rb") as f:
        for name, info in header.items():
            if names is not None and name not in names:
                continue
            b, e = info["data_offsets"]
            f.seek(data_start + b)
            buf = f.read(e - b)
            dt = info["dtype"]
            if dt == "BF16":
                arr = bf16_bits_to_f32(np.frombuffer(buf, dtype="<u2"))
            else:
                arr = np.frombuffer(buf, dtype=np.dtype(_NP_DTYPES[dt]).newbyteorder("<")).astype(_NP_DTYPES[dt])
            out[name] = arr.reshape(info["shape"])
    return out, meta


def load_checkpoint(model_dir):
    """Load every tensor of a HF checkpoint folder: single `model.safetensors` or sharded with
    `model.safetensors.index.json`. Returns (dict name -> float32/int numpy array, dict name -> stored dtype)."""
    index_path = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            weight_map = json.load(f)["weight_map"]
        files = sorted(set(weight_map.values()))
    else:
        files = ["model.safetensors"]
    tensors, dtypes = {}, {}
    for fn in files:
        p = os.path.join(model_dir, fn)
        header, _ = read_header(p)
        header.pop("__metadata__", None)
        t, _ = load_file(p)
        for k, v in t.items():
            assert k not in tensors, f"tensor {k} appears in two shards"
            tensors[k] = v
            dtypes[k] = header[k]["dtype"]
    return tensors, dtypes
