"""Minimal safetensors reader/writer for the libmlm reference (numpy + torch).

Follows huggingface/safetensors `safetensors/src/tensor.rs`:

* file = 8-byte little-endian header length N, N bytes of UTF-8 JSON header,
  then the data buffer;
* the header is compact JSON (serde_json, no spaces), ``__metadata__`` first
  when present, then the tensors in buffer order, each as
  ``{"dtype":..,"shape":[..],"data_offsets":[begin,end]}`` (fields in that
  order); padded with spaces to a multiple of 8 bytes;
* `prepare()` orders the tensors by *descending* ``Dtype`` (the Rust enum's
  derived ``Ord``, i.e. declaration order, documented there as "increasing
  alignment order") and then by name ascending (Rust ``str`` ordering, i.e.
  byte-wise UTF-8), and lays them out back to back from offset 0;
* the reader checks what ``read_metadata``/``validate`` check: N <= 1e8,
  header inside the file, valid UTF-8 + JSON, tensors sorted by offsets tile
  the buffer from 0 with no gaps/overlaps, byte size = prod(shape) * dtype
  size, and 8 + N + buffer == file length.

The writer refuses two names that share memory (the way safetensors.torch
refuses shared tensors): tied weights are stored once; callers drop the tied
alias first (see ``hf_models.save_pretrained``).
"""

import json
import struct

import numpy as np

MAX_HEADER_SIZE = 100_000_000

# Rust `enum Dtype` declaration order (derived Ord). Later = "greater".
DTYPE_ORDER = [
    "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
    "I32", "U32", "F32", "F64", "I64", "U64",
]
DTYPE_RANK = {d: i for i, d in enumerate(DTYPE_ORDER)}
DTYPE_SIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2,
    "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8,
    "I64": 8, "U64": 8,
}
NP_OF = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16,
    "U16": np.uint16, "F16": np.float16, "I32": np.int32, "U32": np.uint32,
    "F32": np.float32, "F64": np.float64, "I64": np.int64, "U64": np.uint64,
}
ST_OF_NP = {np.dtype(v): k for k, v in NP_OF.items()}


class SafetensorsError(ValueError):
    pass


# ----------------------------------------------------------------- writing

def _to_bytes(t):
    """(dtype string, shape list, raw little-endian bytes, identity key)."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if torch is not None and isinstance(t, torch.Tensor):
        t = t.detach().cpu()
        key = (t.untyped_storage().data_ptr() if hasattr(t, "untyped_storage")
               else t.storage().data_ptr(), t.storage_offset(),
               tuple(t.shape), tuple(t.stride())) if t.numel() else None
        if t.dtype == torch.bfloat16:
            raw = t.contiguous().view(torch.int16).numpy().astype("<i2").tobytes()
            return "BF16", list(t.shape), raw, key
        arr = t.contiguous().numpy()
    else:
        arr = np.asarray(t)
        key = (arr.__array_interface__["data"][0], arr.shape, arr.strides) \
            if arr.size and isinstance(t, np.ndarray) else None
    dt = ST_OF_NP.get(np.dtype(arr.dtype.str.replace(">", "<")).newbyteorder("="))
    if dt is None:
        raise SafetensorsError(f"unsupported dtype {arr.dtype}")
    arr = np.array(arr, order="C", copy=False)
    if arr.dtype.itemsize > 1:
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return dt, list(arr.shape), arr.tobytes(), key


def serialize(tensors, metadata=None):
    """Bytes of a safetensors file holding `tensors` (name -> array/tensor).

    metadata: optional dict str -> str, written as `__metadata__` (keys
    sorted here for determinism; Rust writes a HashMap in arbitrary order).
    """
    items = []
    seen = {}
    for name, t in tensors.items():
        if not isinstance(name, str):
            raise SafetensorsError("tensor names must be strings")
        if name == "__metadata__":
            raise SafetensorsError("'__metadata__' is reserved")
        dt, shape, raw, key = _to_bytes(t)
        if key is not None:
            if key in seen:
                raise SafetensorsError(
                    f"'{name}' shares memory with '{seen[key]}': store tied tensors once")
            seen[key] = name
        items.append((name, dt, shape, raw))
    # prepare(): right.dtype().cmp(&left.dtype()).then(lname.cmp(rname))
    items.sort(key=lambda it: (-DTYPE_RANK[it[1]], it[0].encode("utf-8")))
    header = {}
    if metadata is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise SafetensorsError("__metadata__ must map strings to strings")
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    off = 0
    for name, dt, shape, raw in items:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    return b"".join([struct.pack("<Q", len(hb)), hb] + [it[3] for it in items])


def save_file(tensors, path, metadata=None):
    data = serialize(tensors, metadata)
    with open(path, "wb") as f:
        f.write(data)


# ----------------------------------------------------------------- reading

def parse_header(buf):
    """(header dict, data start offset); validates like read_metadata()."""
    if len(buf) < 8:
        raise SafetensorsError("HeaderTooSmall")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > MAX_HEADER_SIZE:
        raise SafetensorsError("HeaderTooLarge")
    if 8 + n > len(buf):
        raise SafetensorsError("InvalidHeaderLength")
    try:
        text = bytes(buf[8:8 + n]).decode("utf-8")
    except UnicodeDecodeError:
        raise SafetensorsError("InvalidHeader")

    def no_dups(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                raise SafetensorsError(f"duplicate key {k!r}")
            d[k] = v
        return d
    try:
        header = json.loads(text, object_pairs_hook=no_dups)
    except json.JSONDecodeError:
        raise SafetensorsError("InvalidHeaderDeserialization")
    if not isinstance(header, dict):
        raise SafetensorsError("InvalidHeaderDeserialization")
    meta = header.get("__metadata__")
    if meta is not None and not (isinstance(meta, dict) and all(
            isinstance(v, str) for v in meta.values())):
        raise SafetensorsError("InvalidHeaderDeserialization: __metadata__")
    infos = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if (not isinstance(info, dict) or info.get("dtype") not in DTYPE_SIZE
                or not isinstance(info.get("shape"), list)
                or not isinstance(info.get("data_offsets"), list)
                or len(info["data_offsets"]) != 2):
            raise SafetensorsError(f"InvalidHeaderDeserialization: {name}")
        for v in info["shape"] + info["data_offsets"]:
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise SafetensorsError(f"InvalidHeaderDeserialization: {name}")
        infos.append((tuple(info["data_offsets"]), name, info))
    infos.sort(key=lambda x: x[0])
    start = 0
    for (s, e), name, info in infos:
        if s != start or e < s:
            raise SafetensorsError(f"InvalidOffset({name})")
        start = e
        nel = 1
        for d in info["shape"]:
            nel *= d
        if (e - s) != nel * DTYPE_SIZE[info["dtype"]]:
            raise SafetensorsError("TensorInvalidInfo")
        if nel * DTYPE_SIZE[info["dtype"]] >= 2 ** 64:
            raise SafetensorsError("ValidationOverflow")
    if 8 + n + start != len(buf):
        raise SafetensorsError("MetadataIncompleteBuffer")
    return header, 8 + n


def _decode(raw, info):
    dt, shape = info["dtype"], info["shape"]
    if dt == "BF16":
        u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return u.view(np.float32).reshape(shape)
    if dt not in NP_OF:
        raise SafetensorsError(f"dtype {dt} not supported by this reader")
    return np.frombuffer(raw, dtype=np.dtype(NP_OF[dt]).newbyteorder("<")).astype(
        NP_OF[dt]).reshape(shape)


def load_bytes(buf):
    """dict name -> numpy array (copy); BF16 widened to float32."""
    header, base = parse_header(buf)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        s, e = info["data_offsets"]
        out[name] = _decode(buf[base + s:base + e], info).copy()
    return out


def load_file(path):
    with open(path, "rb") as f:
        return load_bytes(f.read())


def load_torch(path):
    import torch
    return {k: torch.from_numpy(v) for k, v in load_file(path).items()}


def read_metadata(path):
    """(__metadata__ or None, header tensor names in buffer order)."""
    with open(path, "rb") as f:
        buf = f.read()
    header, _ = parse_header(buf)
    names = sorted((n for n in header if n != "__metadata__"),
                   key=lambda n: header[n]["data_offsets"][0])
    return header.get("__metadata__"), names
