#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Writes the PyTorch fixtures for tests/reference/model/train_model.cpp: four networks built identically in
# fusenet and torch.nn, their initial state, one train-mode forward/backward, and the state after 3 SGD and
# 3 Adam steps. Run with the system Python that has torch:  /usr/bin/python3 tests/reference/model/gen_model.py
#
# The initial state is drawn in float32 (what the C++ test loads); every later quantity is computed in float64
# from that state and stored as float32, so the fixtures are the exact answer for the float32 inputs and the
# tolerances in the test measure fusenet's float32 rounding only.
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts"))
from fusenet_torch import Residual, save_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
STEPS = 3
SAMPLE_ABOVE = 20000  # tensors larger than this are stored as every SAMPLE_STRIDE-th element after the initial state
SAMPLE_STRIDE = 97


def reference_net():
    # fusenet: input<1,28,28>, conv2d<32,3,padding<1>>, batch_norm, relu, max_pool<2>, conv2d<64,3,padding<1>>,
    # batch_norm, relu, max_pool<2>, flatten, dense<128>, batch_norm, relu, dense<10>
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 10))


def mixed_net():
    # fusenet: see tests/reference/model/train_model.cpp (mixed_net); layer i here is layer i there.
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2), nn.BatchNorm2d(8), nn.LeakyReLU(),
        Residual([nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=2, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                  nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8)]),
        nn.ReLU(),
        Residual([nn.Conv2d(8, 12, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(12), nn.ReLU(),
                  nn.Conv2d(12, 12, 3, padding=1, bias=False), nn.BatchNorm2d(12)],
                 shortcut=[nn.Conv2d(8, 12, 1, stride=2, bias=False), nn.BatchNorm2d(12)]),
        nn.ReLU(), nn.MaxPool2d(3, stride=1, padding=1), nn.AvgPool2d(2), nn.Conv2d(12, 6, 1), nn.Tanh(),
        nn.Flatten(), nn.Dropout(p=0.5), nn.Linear(24, 16), nn.BatchNorm1d(16), nn.Sigmoid(), nn.Linear(16, 5))


def with_random_affine(net):
    """BatchNorm weight and bias drawn away from PyTorch's 1 and 0: with bias 0, BN -> ReLU -> a per-channel conv
    -> BN is invariant to the first BN's weight, whose true gradient is then zero and its float32 one noise."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return net


def resnet_net():
    # fusenet: resnet_small_net in tests/reference/model/nets.hpp: a stem, an identity basic block, a stride-2
    # block with a 1x1 projection shortcut, global average pool.
    return with_random_affine(nn.Sequential(
        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        Residual([nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                  nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)]),
        nn.ReLU(),
        Residual([nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                  nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32)],
                 shortcut=[nn.Conv2d(16, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32)]),
        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)))


def mobile_net():
    # fusenet: mobile_net in tests/reference/model/nets.hpp: depthwise-separable blocks at stride 1 and 2, a
    # depthwise conv with a bias, one followed by a 2x2 max pool, global average pool.
    return with_random_affine(nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=32, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 5)))


def sampled(tensors):
    """name -> float32 array; large tensors become (every SAMPLE_STRIDE-th value, "name#index" int64 indices)."""
    out = {}
    for key, t in tensors.items():
        a = t.detach().numpy()
        if a.dtype == np.int64:
            out[key] = a
            continue
        a = a.astype(np.float32)
        if a.size > SAMPLE_ABOVE:
            idx = np.arange(a.size // 2 % SAMPLE_STRIDE, a.size, SAMPLE_STRIDE, dtype=np.int64)
            out[key] = a.reshape(-1)[idx]
            out[key + "#index"] = idx
        else:
            out[key] = a
    return out


def train_mode(net):
    net.train()
    for m in net.modules():
        if isinstance(m, nn.Dropout):
            m.eval()  # fusenet: m.set_dropout(false); BatchNorm stays in train mode


def run(name, make, in_shape, classes, batch):
    out = os.path.join(OUT, name)
    os.makedirs(out, exist_ok=True)
    net = make()
    init = {k: v.clone() for k, v in net.state_dict().items()}
    save_safetensors(init, os.path.join(out, "init.safetensors"))
    x = torch.randn(batch, *in_shape)
    labels = torch.randint(0, classes, (batch,), dtype=torch.int64)
    np.save(os.path.join(out, "x.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(out, "labels.npy"), labels.numpy())

    def fresh():
        m = make().double()
        m.load_state_dict(init)  # float32 values, widened
        train_mode(m)
        return m

    xd = x.double()
    m = fresh()
    logits = m(xd)
    loss = nn.functional.cross_entropy(logits, labels)
    loss.backward()
    np.save(os.path.join(out, "logits.npy"), logits.detach().numpy().astype(np.float32))
    np.save(os.path.join(out, "loss.npy"), np.array([loss.item()], dtype=np.float32))
    save_safetensors(sampled({k: p.grad for k, p in m.named_parameters()}), os.path.join(out, "grads.safetensors"))

    for opt_name, make_opt in [("sgd", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, foreach=False)),
                               ("adam", lambda p: torch.optim.Adam(p, lr=1e-2, foreach=False))]:
        m = fresh()
        opt = make_opt(m.parameters())
        for _ in range(STEPS):
            opt.zero_grad()
            nn.functional.cross_entropy(m(xd), labels).backward()
            opt.step()
        save_safetensors(sampled(m.state_dict()), os.path.join(out, "after_" + opt_name + ".safetensors"))
        if opt_name == "sgd":
            m.eval()
            with torch.no_grad():
                np.save(os.path.join(out, "eval_logits.npy"), m(xd).numpy().astype(np.float32))


def main():
    torch.manual_seed(20240611)
    run("reference", reference_net, (1, 28, 28), 10, 8)
    run("mixed", mixed_net, (3, 15, 15), 5, 6)
    run("resnet", resnet_net, (8, 12, 12), 10, 8)
    run("mobile", mobile_net, (3, 16, 16), 5, 8)


if __name__ == "__main__":
    main()
