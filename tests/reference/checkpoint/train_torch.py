# SPDX-License-Identifier: MIT
# Trains the reference Fashion-MNIST CNN for one epoch in PyTorch and writes the checkpoint that
# compare.py feeds to `fashion_mnist eval`, plus the accuracy and first-16 logits PyTorch itself computes.
# Run with /usr/bin/python3 (torch 1.13 + numpy): /usr/bin/python3 tests/reference/checkpoint/train_torch.py
import gzip
import json
import os
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "scripts"))
from fusenet_torch import save_safetensors  # noqa: E402

DATA = os.environ.get("FUSENET_DATA") or "/usr/share/datasets/fashion-mnist"


def read_idx(name):
    """Parses a gzipped IDX file (big-endian magic, dims, then uint8 data) into a numpy array."""
    with gzip.open(os.path.join(DATA, name + ".gz"), "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def images(prefix):
    # Same scaling as fusenet's loader: pixel / 255 as float32, shape N×1×28×28.
    return torch.from_numpy((read_idx(prefix + "-images-idx3-ubyte").astype(np.float32) / 255.0)[:, None])


def labels(prefix):
    return torch.from_numpy(read_idx(prefix + "-labels-idx1-ubyte").astype(np.int64))


def reference_net():
    """The network of examples/fashion_mnist.cpp, as an nn.Sequential so the state_dict keys ("0.weight",
    "1.running_mean", ...) are the ones fusenet's sequential<> uses."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 10))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    x_train, y_train = images("train"), labels("train")
    x_test, y_test = images("t10k"), labels("t10k")

    net = reference_net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    order = torch.randperm(len(x_train))
    for start in range(0, len(order), 64):
        idx = order[start:start + 64]
        opt.zero_grad()
        loss = loss_fn(net(x_train[idx]), y_train[idx])
        loss.backward()
        opt.step()

    net.eval()  # running statistics, as `fashion_mnist eval` uses
    with torch.no_grad():
        logits = torch.cat([net(x_test[s:s + 500]) for s in range(0, len(x_test), 500)])
    accuracy = (logits.argmax(1) == y_test).double().mean().item()

    save_safetensors(net.state_dict(), os.path.join(HERE, "torch_1epoch.safetensors"))
    expected = {"accuracy": accuracy,
                "logits": [[float(v) for v in row] for row in logits[:16].tolist()]}
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print(f"torch test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
