# SPDX-License-Identifier: MIT
# Writes the seed corpora tests/fuzz/corpus/{safetensors,idx}: a few valid small files and hand-made corrupt ones.
# The valid safetensors file is the state dict of the fuzzers' network (tests/fuzz/harness.hpp, fuzz_net) built in
# torch, encoded as huggingface/safetensors does. Run: /usr/bin/python3 tests/fuzz/make_corpus.py
import gzip
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
ST = os.path.join(HERE, "safetensors")
IDX = os.path.join(HERE, "idx")
os.makedirs(ST, exist_ok=True)
os.makedirs(IDX, exist_ok=True)

DTYPE = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64"}


def st_encode(header, data):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def st_from_tensors(tensors, metadata=True):
    header = {"__metadata__": {"format": "pt"}} if metadata else {}
    data = b""
    for k in sorted(tensors, key=lambda k: (-tensors[k].dtype.itemsize, k)):
        a = np.ascontiguousarray(tensors[k])
        header[k] = {"dtype": DTYPE[a.dtype], "shape": list(a.shape), "data_offsets": [len(data), len(data) + a.nbytes]}
        data += a.tobytes()
    return header, data


def put(folder, name, content):
    with open(os.path.join(folder, name), "wb") as f:
        f.write(content)


# --- safetensors -------------------------------------------------------------------------------------------------
torch.manual_seed(3)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Flatten(),
                          torch.nn.Linear(4 * 6 * 6, 3))
net.train()
net(torch.randn(2, 1, 8, 8))  # running statistics and num_batches_tracked differ from their defaults
state = {k: v.detach().numpy() for k, v in net.state_dict().items()}
header, data = st_from_tensors(state)
valid = st_encode(header, data)
put(ST, "valid_fuzz_net.safetensors", valid)
put(ST, "valid_small.safetensors", st_encode(*st_from_tensors(
    {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array(5, dtype=np.int64)}, metadata=False)))
put(ST, "valid_empty.safetensors", st_encode({}, b""))
put(ST, "truncated_data.safetensors", valid[:len(valid) - 100])
put(ST, "truncated_header.safetensors", valid[:40])
put(ST, "too_short.safetensors", valid[:5])
put(ST, "header_length_lies.safetensors", struct.pack("<Q", len(valid)) + valid[8:])
put(ST, "header_length_huge.safetensors", struct.pack("<Q", 2**64 - 1) + valid[8:])
h = json.loads(json.dumps(header))
h["0.bias"]["data_offsets"] = list(h["0.weight"]["data_offsets"])
h["0.bias"]["data_offsets"][1] = h["0.bias"]["data_offsets"][0] + 16
put(ST, "overlapping_offsets.safetensors", st_encode(h, data))
h = json.loads(json.dumps(header))
h["0.bias"]["data_offsets"] = [40, 24]
put(ST, "offsets_reversed.safetensors", st_encode(h, data))
h = json.loads(json.dumps(header))
h["4.weight"]["shape"] = [2**63, 2**62]
put(ST, "shape_overflow.safetensors", st_encode(h, data))
h = json.loads(json.dumps(header))
h["4.weight"]["shape"] = [-3, 144]
put(ST, "shape_negative.safetensors", st_encode(h, data))
h = json.loads(json.dumps(header))
h["1.running_var"]["dtype"] = "F17"
put(ST, "dtype_unknown.safetensors", st_encode(h, data))
h = json.loads(json.dumps(header))
h["__metadata__"] = {"format": 1}
put(ST, "metadata_not_string.safetensors", st_encode(h, data))
# load() must reject these with weights_mismatch: the file is well formed but does not fit the network.
state64 = dict(state)
state64["4.bias"] = state["4.bias"].astype(np.float64)
put(ST, "wrong_dtype_for_net.safetensors", st_encode(*st_from_tensors(state64)))
state_t = dict(state)
state_t["4.weight"] = np.ascontiguousarray(state["4.weight"].T)
put(ST, "wrong_shape_for_net.safetensors", st_encode(*st_from_tensors(state_t)))
state_m = {k: v for k, v in state.items() if k != "1.num_batches_tracked"}
put(ST, "missing_key.safetensors", st_encode(*st_from_tensors(state_m)))
text = json.dumps(header, separators=(",", ":"))
dup = text[:-1] + ',"0.bias":' + json.dumps(header["0.bias"], separators=(",", ":")) + "}"
dup = dup.encode() + b" " * ((8 - len(dup) % 8) % 8)
put(ST, "duplicate_key.safetensors", struct.pack("<Q", len(dup)) + dup + data)
bad = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'
put(ST, "json_unterminated.safetensors", struct.pack("<Q", len(bad)) + bad + b"\0" * 4)
bad = b'[1,2,3]'
put(ST, "json_not_object.safetensors", struct.pack("<Q", len(bad)) + bad)

# --- IDX -----------------------------------------------------------------------------------------------------------
rng = np.random.default_rng(5)
pixels = rng.integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
images = struct.pack(">IIII", 0x803, 3, 4, 5) + pixels.tobytes()
labels = struct.pack(">II", 0x801, 6) + bytes([0, 1, 2, 9, 4, 7])


def gz(b):
    return gzip.compress(b, mtime=0)


put(IDX, "valid_images.idx", images)
put(IDX, "valid_images.idx.gz", gz(images))
put(IDX, "valid_labels.idx", labels)
put(IDX, "valid_labels.idx.gz", gz(labels))
put(IDX, "empty_set_images.idx", struct.pack(">IIII", 0x803, 0, 28, 28))
put(IDX, "bad_magic.idx", struct.pack(">I", 0x804) + images[4:])
put(IDX, "magic_only.idx", images[:4])
put(IDX, "truncated_header.idx", images[:10])
put(IDX, "truncated_pixels.idx", images[:-7])
put(IDX, "truncated_pixels.idx.gz", gz(images[:-7]))
put(IDX, "trailing_data.idx", labels + b"\x03")
put(IDX, "zero_rows.idx", struct.pack(">IIII", 0x803, 1, 0, 5))
put(IDX, "huge_rows.idx", struct.pack(">IIII", 0x803, 1, 70000, 5))
put(IDX, "count_lies.idx", struct.pack(">IIII", 0x803, 0xFFFFFFFF, 65536, 65536) + pixels.tobytes())
put(IDX, "gz_truncated_stream.idx.gz", gz(images)[:30])
put(IDX, "gz_bad_crc.idx.gz", gz(labels)[:-8] + b"\0\0\0\0" + gz(labels)[-4:])
put(IDX, "gz_then_garbage.idx.gz", gz(labels) + b"garbage")
put(IDX, "empty.idx", b"")
print("wrote", len(os.listdir(ST)), "safetensors and", len(os.listdir(IDX)), "IDX seeds")
