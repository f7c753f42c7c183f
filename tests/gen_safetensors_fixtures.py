#!/usr/bin/python3
"""Writes tests/data/safetensors/*.safetensors the way the Python
`safetensors` package (Rust core) writes them, for test_safetensors.c to
compare libmlm's writer with, byte for byte.

The `safetensors` pip package is not installed on these machines, so this
follows huggingface/safetensors safetensors/src/tensor.rs (read at commit
000a16f45cff0d4169ca15b67ea002895234d671) directly:

- `prepare()`: tensors are sorted with
      data.sort_by(|(lname, left), (rname, right)|
          right.dtype().cmp(&left.dtype()).then(lname.cmp(rname)));
  i.e. by the Dtype enum order *descending* (U64, I64, F64, F32, U32, I32,
  BF16, F16, U16, I16, F8_E4M3, F8_E5M2, I8, U8, BOOL), then by name as
  bytes (Rust String ordering). Offsets are assigned in that order from 0.
- `prepare()`: `serde_json::to_string(&metadata)`, then
      let extra = (8 - metadata_buf.len() % 8) % 8;
      metadata_buf.extend(vec![b' '; extra]);
  and n = the padded length, written as u64 little-endian (`serialize()`).
- `impl Serialize for Metadata`: "__metadata__" first when present (it is
  skipped when None), then each tensor in the prepared order; `TensorInfo`
  serialises its fields in declaration order: dtype, shape, data_offsets.
- The metadata map is a Rust HashMap<String, String>, so with several keys
  its order is whatever the hash gives; we (and libmlm) write keys sorted.
- serde_json's compact string escaping (serde_json ser.rs ESCAPE table):
  '"' and '\\' and the control characters 0x00-0x1F are escaped
  (\\b \\t \\n \\f \\r short, the rest as \\u00xx with lowercase hex);
  everything else, non-ASCII included, is written as raw UTF-8.

Run: /usr/bin/python3 tests/gen_safetensors_fixtures.py   (needs numpy)
"""
import os
import struct

import numpy as np

DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
               "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
DTYPE_SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
              "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4,
              "F32": 4, "F64": 8, "I64": 8, "U64": 8}


def serde_escape(s):
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == '\\':
            out.append('\\\\')
        elif c < 0x20:
            short = {8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r'}
            out.append(short.get(c, '\\u%04x' % c))
        else:
            out.append(ch)
    out.append('"')
    return ''.join(out)


def serialize(tensors, metadata=None):
    """tensors: {name: (dtype, shape, raw bytes)}"""
    items = sorted(tensors.items(),
                   key=lambda kv: (-DTYPE_ORDER.index(kv[1][0]), kv[0].encode('utf-8')))
    parts = []
    if metadata is not None:
        meta = ','.join(serde_escape(k) + ':' + serde_escape(v)
                        for k, v in sorted(metadata.items(), key=lambda kv: kv[0].encode('utf-8')))
        parts.append('"__metadata__":{' + meta + '}')
    offset = 0
    for name, (dtype, shape, data) in items:
        n = int(np.prod(shape, dtype=np.uint64)) * DTYPE_SIZE[dtype] if shape else DTYPE_SIZE[dtype]
        assert n == len(data), name
        parts.append(serde_escape(name) + ':{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}'
                     % (dtype, ','.join(str(d) for d in shape), offset, offset + n))
        offset += n
    header = ('{' + ','.join(parts) + '}').encode('utf-8')
    header += b' ' * ((8 - len(header) % 8) % 8)
    body = b''.join(data for _, (_, _, data) in items)
    return struct.pack('<Q', len(header)) + header + body


def f32(vals, shape):
    return ("F32", shape, np.array(vals, dtype='<f4').tobytes())


def mixed():
    # Bit patterns chosen to cover the conversions: half subnormals (0x0001,
    # 0x03ff), the largest half (0x7bff), infinities, a NaN with a payload,
    # negative zero; bfloat16 likewise.
    f16_bits = [0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0xc000, 0x7bff,
                0x7c00, 0xfc00, 0x7e01, 0x3555]
    bf16_bits = [0x0000, 0x3f80, 0xc040, 0x0001, 0x7f80, 0xff80, 0x7fc1, 0x3eaa]
    return {
        "bert.embeddings.word_embeddings.weight": f32([0.5, -1.25, 3.0, 0.0, -0.0, 1024.0], [2, 3]),
        "임베딩.가중치": f32([1.0, 2.0, 4.0, 8.0], [4]),
        "a": f32([7.0], []),
        "B": f32([], [0, 4]),
        "half": ("F16", [12], np.array(f16_bits, dtype='<u2').tobytes()),
        "brain": ("BF16", [2, 4], np.array(bf16_bits, dtype='<u2').tobytes()),
        "position_ids": ("I64", [1, 5], np.array([0, 1, 2, -3, 2**62], dtype='<i8').tobytes()),
        "token_type": ("I32", [2, 2], np.array([0, -1, 2147483647, -2147483648], dtype='<i4').tobytes()),
        "mask": ("BOOL", [3], bytes([1, 0, 1])),
        "bytes": ("U8", [5], bytes([0, 1, 127, 128, 255])),
        "double": ("F64", [2], np.array([0.1, -2.5], dtype='<f8').tobytes()),
        "weird \"name\"\\\n\t\x01\x7f": f32([9.0], [1]),
    }


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "safetensors")
    os.makedirs(out, exist_ok=True)
    files = {
        # tensor.rs test_serialization: the expected bytes are in the test.
        "attn.safetensors": serialize({"attn.0": f32([0, 1, 2, 3, 4, 5], [1, 2, 3])}),
        # tensor.rs test_empty, both cases.
        "empty.safetensors": serialize({}),
        "metadata_only.safetensors": serialize({}, {"framework": "pt"}),
        "mixed.safetensors": serialize(mixed(), {
            "format": "pt",
            "설명": "한국어 메타데이터",
            "escapes": "quote \" backslash \\ newline \n tab \t bell \x07 del \x7f",
        }),
    }
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        print(name, len(data))


if __name__ == "__main__":
    main()
