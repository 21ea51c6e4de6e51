#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Writes the PyTorch fixtures for tests/reference/infer/infer_model.cpp: a small ResNet-style, a small
# MobileNet-style, a narrow and a bottleneck network built identically in fusenet (tests/reference/infer/infer_model.cpp) and torch.nn,
# with random weights and BatchNorm running statistics / affine parameters away from 0 and 1, so that folding
# them into the convolutions is exercised; the eval-mode output of a fixed input is the oracle.
# Run with the system Python that has torch:  /usr/bin/python3 tests/reference/infer/gen_infer.py
#
# The weights and the input are drawn in float32 (what the C++ test loads); the output is computed in float64
# from them and stored as float32, so it is the exact answer for the float32 inputs.
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts"))
from fusenet_torch import Residual, save_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def resnet_small():
    # fusenet: input<3,16,16>, conv2d<16,3,padding<1>,bias<false>>, batch_norm, relu,
    # residual<basic 16>, relu, residual<down 32 with projection>, relu, global_avg_pool, flatten, dense<10>
    def basic(c):
        return Residual([nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                         nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)])

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        basic(16), nn.ReLU(),
        Residual([nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                  nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32)],
                 shortcut=[nn.Conv2d(16, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32)]),
        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


def mobilenet_small():
    # fusenet: input<3,16,16>, conv2d<16,3,padding<1>>, batch_norm, relu,
    # conv2d<16,3,padding<1>,groups<16>,bias<false>>, batch_norm, relu, conv2d<32,1,bias<false>>, batch_norm, relu,
    # conv2d<32,3,stride<2>,padding<1>,groups<32>,bias<false>>, batch_norm, relu, conv2d<64,1>, batch_norm, relu,
    # max_pool<3, stride<2>, padding<1>>, global_avg_pool, flatten, dense<10>
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=32, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def narrow_small():
    # fusenet: input<3,32,32>, conv2d<6,5,padding<2>>, batch_norm, relu, avg_pool<2>,
    # conv2d<5,3,stride<2>,padding<1>>, relu, conv2d<16,3,padding<1>>, batch_norm, relu, max_pool<2>, flatten,
    # dense<10>: the first two convs have fewer output channels than a vector has lanes (the pixel-lane kernel)
    return nn.Sequential(
        nn.Conv2d(3, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(6, 5, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(5, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10))


def bottleneck_small():
    # fusenet: input<3,16,16>, conv2d<16,3,padding<1>,bias<false>>, batch_norm, relu,
    # residual<conv2d<64,1,bias<false>>, batch_norm, relu, conv2d<64,3,padding<1>,groups<64>,bias<false>>, batch_norm,
    #          relu, conv2d<16,1,bias<false>>, batch_norm>                  (MobileNet-v2's inverted residual)
    # residual<conv2d<16,1,bias<false>>, batch_norm, relu, conv2d<16,3,padding<1>,bias<false>>, batch_norm, relu,
    #          conv2d<32,1,bias<false>>, batch_norm, shortcut<conv2d<32,1,bias<false>>, batch_norm>>, relu
    #                                                                       (ResNet-50's bottleneck, 1×1 projection)
    # global_avg_pool, flatten, dense<10>: both blocks end in a 1×1 conv that adds the shortcut in its epilogue
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        Residual([nn.Conv2d(16, 64, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                  nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                  nn.Conv2d(64, 16, 1, bias=False), nn.BatchNorm2d(16)]),
        Residual([nn.Conv2d(16, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                  nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                  nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32)],
                 shortcut=[nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32)]),
        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


def randomise(net, gen):
    """PyTorch's default init for weights; BatchNorm statistics and affine parameters drawn away from 0 / 1."""
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=gen) - 0.5)
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.num_batches_tracked.fill_(7)


def write(name, net, seed, size=16):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    randomise(net, gen)
    net.eval()
    x = torch.randn((3, 3, size, size), generator=gen, dtype=torch.float32)
    with torch.no_grad():
        y = net.double()(x.double()).float()
    net.float()
    out = os.path.join(OUT, name)
    os.makedirs(out, exist_ok=True)
    save_safetensors(net.state_dict(), os.path.join(out, "weights.safetensors"))
    np.save(os.path.join(out, "x.npy"), x.numpy())
    np.save(os.path.join(out, "y.npy"), y.numpy())
    print(name, "max |y|", float(y.abs().max()))


if __name__ == "__main__":
    write("resnet_small", resnet_small(), 61)
    write("mobilenet_small", mobilenet_small(), 62)
    write("narrow_small", narrow_small(), 63, size=32)
    write("bottleneck_small", bottleneck_small(), 64)
