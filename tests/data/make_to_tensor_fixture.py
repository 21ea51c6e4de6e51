# SPDX-License-Identifier: MIT
# Writes fixtures/to_tensor_256.npy: every byte value 0..255 converted as torchvision's ToTensor does
# (img.to(torch.float32).div(255)), the oracle for the IDX image scaling.
# Run with /usr/bin/python3 (the interpreter that has torch): /usr/bin/python3 tests/data/make_to_tensor_fixture.py
import os

import numpy as np
import torch

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
os.makedirs(HERE, exist_ok=True)
pixels = torch.arange(256, dtype=torch.int64).to(torch.uint8)
scaled = pixels.to(dtype=torch.float32).div(255)
np.save(os.path.join(HERE, "to_tensor_256.npy"), scaled.numpy().astype(np.float32))
