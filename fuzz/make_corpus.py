#!/usr/bin/env python3
"""Writes the seed corpora of the nn/io fuzz targets (fuzz/corpus/{idx,csv,safetensors}/):
small valid files and near misses. Run from anywhere; existing seeds of these names are
overwritten, other files are left alone."""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def idx(type_byte, dims, data):
    return bytes([0, 0, type_byte, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def gz(data):
    return gzip.compress(data, mtime=0)


def idx_seeds():
    u8 = idx(0x08, [2, 3], bytes([0, 1, 2, 253, 254, 255]))
    put("idx", "ubyte_2x3", u8)
    put("idx", "ubyte_2x3.gz", gz(u8))
    put("idx", "labels_1d", idx(0x08, [10], bytes(range(10))))
    put("idx", "sbyte", idx(0x09, [3], bytes([0x80, 0xFF, 0x7F])))
    put("idx", "int16", idx(0x0B, [2], struct.pack(">hh", 258, -2)))
    put("idx", "int32", idx(0x0C, [1, 2], struct.pack(">ii", -3, 7)))
    put("idx", "float32", idx(0x0D, [2], struct.pack(">ff", 1.5, float("nan"))))
    put("idx", "float64", idx(0x0E, [1], struct.pack(">d", -2.25)))
    put("idx", "images_3x4x4.gz", gz(idx(0x08, [3, 4, 4], bytes(range(48)))))
    put("idx", "two_members.gz", gz(u8[:7]) + gz(u8[7:]))
    put("idx", "truncated", u8[:-1])
    put("idx", "trailing", u8 + b"\x00")
    put("idx", "wrong_magic", b"\x1f\x00" + u8[2:])
    put("idx", "liar_dims", idx(0x08, [0xFFFFFFFF, 0xFFFFFFFF], b"\x01\x02"))
    put("idx", "liar_dims.gz", gz(idx(0x0E, [60000, 28, 28], bytes(100))))
    put("idx", "zero_dim", idx(0x08, [0, 5], b""))
    # The first two test images of Fashion-MNIST, when the data set is installed.
    real = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
    if os.path.exists(real):
        with gzip.open(real) as f:
            head = f.read(16 + 2 * 784)
        put("idx", "fmnist_2_images.gz", gz(idx(0x08, [2, 28, 28], head[16:])))


def csv_seeds():
    # The first byte selects the options in fuzz_csv.cpp: delimiter ",;\t |"[(b // 3) % 5],
    # header auto (b % 3 == 0), yes (1) or no (2).
    put("csv", "header_auto", "\x00x,y,label\n1,2.5,0\n-3,4e1,1\n")
    put("csv", "crlf_blank", "\x00a,b\r\n1,2\r\n\r\n\r\n")
    put("csv", "quotes_bom", "\x00\ufeff\"a,b\",\"c\"\"d\"\n\"1\", 2 \n")
    put("csv", "specials_semicolon", "\x05nan;inf;-Infinity;0x1p3\n1e-400;-0;+5;.5\n")
    put("csv", "tabs_no_header", "\x08" + "1\t2\n3\t4\n")
    put("csv", "ragged", "\x00" + "1,2\n3\n")
    put("csv", "not_number", "\x00a,b\n1,x\n")
    put("csv", "unterminated", "\x00" + "1,\"2\n")
    put("csv", "header_only", "\x01a,b\n")
    put("csv", "empty_field", "\x02" + "1,,3\n")


def st(header, data=b"", raw=False):
    text = header if raw else json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text.encode() + data


def safetensors_seeds():
    w = struct.pack("<4f", 1, 2, 3, 4)
    put("safetensors", "two_tensors_meta", st({
        "__metadata__": {"format": "pt"},
        "step": {"dtype": "I64", "shape": [], "data_offsets": [0, 8]},
        "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]},
    }, struct.pack("<q", 7) + w))
    put("safetensors", "empty", st({}))
    put("safetensors", "all_dtypes", st({
        "a": {"dtype": "F16", "shape": [1], "data_offsets": [0, 2]},
        "b": {"dtype": "BF16", "shape": [1], "data_offsets": [2, 4]},
        "c": {"dtype": "U8", "shape": [2], "data_offsets": [4, 6]},
        "d": {"dtype": "BOOL", "shape": [1], "data_offsets": [6, 7]},
        "e": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [7, 8]},
        "f": {"dtype": "U64", "shape": [1], "data_offsets": [8, 16]},
        "g": {"dtype": "F64", "shape": [0, 3], "data_offsets": [16, 16]},
    }, bytes([0, 0x3C, 0x80, 0x3F, 1, 2, 1, 0x38]) + struct.pack("<Q", 2**64 - 1)))
    put("safetensors", "overlap", st({
        "a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
        "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]},
    }, b"abc"))
    put("safetensors", "gap", st({"a": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}},
                                 b"abc"))
    put("safetensors", "bad_dtype", st({"a": {"dtype": "F31", "shape": [1], "data_offsets": [0, 4]}},
                                       w[:4]))
    put("safetensors", "duplicate", st(
        '{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]},'
        '"a":{"dtype":"U8","shape":[],"data_offsets":[1,2]}}', b"xy", raw=True))
    put("safetensors", "huge_shape", st(
        {"a": {"dtype": "F64", "shape": [4611686018427387904, 8], "data_offsets": [0, 0]}}))
    put("safetensors", "header_len_lies", struct.pack("<Q", 2**40) + b"{}")


idx_seeds()
csv_seeds()
safetensors_seeds()
