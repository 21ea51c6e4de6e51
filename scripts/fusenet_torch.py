# SPDX-License-Identifier: MIT
# PyTorch counterparts of fusenet constructs for fixture generators: the Residual module whose state_dict keys
# match fusenet's residual<> ("i.block.j.*", "i.shortcut.j.*") and a dependency-free safetensors writer.
import json
import struct

import numpy as np
import torch
from torch import nn


class Residual(nn.Module):
    """fusenet's residual<block..., shortcut<projection...>>: y = block(x) + (shortcut(x) or x)."""

    def __init__(self, block, shortcut=None):
        super().__init__()
        self.block = nn.Sequential(*block)
        if shortcut is not None:
            self.shortcut = nn.Sequential(*shortcut)
        else:
            self.shortcut = None

    def forward(self, x):
        return self.block(x) + (self.shortcut(x) if self.shortcut is not None else x)


_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64",
           np.dtype(np.int32): "I32", np.dtype(np.uint8): "U8"}


def save_safetensors(state_dict, path, metadata=None):
    """Writes a {name: tensor or ndarray} mapping in the safetensors format (8-byte little-endian header
    length, JSON header with dtype/shape/data_offsets, then the raw little-endian bytes), keys sorted as
    safetensors.torch.save_file does."""
    arrays = {}
    for key, value in state_dict.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        arrays[key] = np.ascontiguousarray(value)
    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    blobs = []
    for key in sorted(arrays):
        a = arrays[key]
        if a.dtype not in _DTYPES:
            raise ValueError(f"save_safetensors: {key} has unsupported dtype {a.dtype}")
        data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[key] = {"dtype": _DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)  # the format recommends 8-byte alignment of the data
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
