# SPDX-License-Identifier: MIT
# Writes tests/io/fixtures/torch_state.safetensors the way huggingface/safetensors does (used by
# torch users), from a real torch state dict, using only struct + json + numpy; every tensor is also
# written as <key>.npy so the C++ test compares against numpy's own encoding of the same values.
# Run with /usr/bin/python3 (the interpreter that has torch): /usr/bin/python3 tests/io/make_safetensors_fixture.py
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
os.makedirs(HERE, exist_ok=True)

torch.manual_seed(7)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU(), torch.nn.Flatten(),
                          torch.nn.Linear(8, 3))
net.train()
net(torch.randn(4, 1, 4, 4))  # one step so running stats and num_batches_tracked are not the defaults
tensors = {k: v.detach().numpy() for k, v in net.state_dict().items()}
# A few more dtypes the format defines.
tensors["extra.f64"] = np.arange(6, dtype=np.float64).reshape(2, 3) / 3.0
tensors["extra.i32"] = np.array([-5, 0, 7], dtype=np.int32)
tensors["extra.u8"] = np.array([[0, 255], [128, 1]], dtype=np.uint8)

DTYPE = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64",
         np.dtype(np.int32): "I32", np.dtype(np.uint8): "U8"}

# The reference writer orders the data by alignment (largest item first), then by name, puts
# __metadata__ first in the header, and pads the header with spaces to a multiple of 8.
order = sorted(tensors, key=lambda k: (-tensors[k].dtype.itemsize, k))
header = {"__metadata__": {"format": "pt"}}
data = b""
for k in order:
    a = np.asarray(tensors[k], dtype=tensors[k].dtype.newbyteorder("<"), order="C")  # keeps 0-d as 0-d
    header[k] = {"dtype": DTYPE[tensors[k].dtype], "shape": list(a.shape), "data_offsets": [len(data), len(data) + a.nbytes]}
    data += a.tobytes()
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * ((8 - len(text) % 8) % 8)
with open(os.path.join(HERE, "torch_state.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + data)
for k, a in tensors.items():
    np.save(os.path.join(HERE, k + ".npy"), np.asarray(a, order="C"))
print("wrote", len(tensors), "tensors:", ", ".join(f"{k} {DTYPE[tensors[k].dtype]} {list(tensors[k].shape)}" for k in order))
