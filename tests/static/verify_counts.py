#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Prints, from PyTorch, every number the static tests assert: output shapes, parameter, MAC and activation counts.
#
# Run with the Python that has torch: /usr/bin/python3 tests/static/verify_counts.py
# Each printed line is "<name>: <value>"; the static_asserts in tests/static/*.cpp quote these lines.
# Counting conventions (the same as fusenet's introspection.hpp, computed here from torch's modules only):
#   params      sum(p.numel() for p in module.parameters())   (BatchNorm running stats are buffers, not counted)
#   MACs        per sample: Conv2d out.numel() * in_channels/groups * kH*kW, Linear in_features*out_features
#   activations per sample: numel of every leaf module's output, plus every Residual's sum output (float32 bytes)
import torch
from torch import nn


class Residual(nn.Module):
    """y = block(x) + shortcut(x), shortcut = identity when no projection is given."""

    def __init__(self, block, shortcut=None):
        super().__init__()
        self.block = nn.Sequential(*block)
        self.shortcut = nn.Sequential(*shortcut) if shortcut else nn.Identity()

    def forward(self, x):
        return self.block(x) + self.shortcut(x)


def analyse(net, input_shape):
    """Per-top-level-layer output shapes, params and MACs, and totals, for one sample."""
    macs = {}
    acts = [0]

    def leaf_hook(mod, inp, out):
        n = 0
        if isinstance(mod, nn.Conv2d):
            n = out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            n = mod.in_features * mod.out_features
        macs[id(mod)] = n
        if not isinstance(mod, nn.Identity):
            acts[0] += out.numel()

    def residual_hook(mod, inp, out):
        acts[0] += out.numel()

    handles = []
    for m in net.modules():
        if isinstance(m, Residual):
            handles.append(m.register_forward_hook(residual_hook))
        elif len(list(m.children())) == 0:
            handles.append(m.register_forward_hook(leaf_hook))
    net.eval()
    rows = []
    x = torch.zeros(1, *input_shape)
    with torch.no_grad():
        for layer in net:
            x = layer(x)
            p = sum(q.numel() for q in layer.parameters())
            mac = sum(macs.get(id(m), 0) for m in layer.modules())
            rows.append((tuple(x.shape[1:]), p, mac))
    for h in handles:
        h.remove()
    return rows, sum(r[1] for r in rows), sum(r[2] for r in rows), acts[0] * 4


def report(name, net, input_shape, per_layer=True):
    rows, params, macs, act_bytes = analyse(net, input_shape)
    if per_layer:
        for i, (shape, p, mac) in enumerate(rows):
            print(f"{name}[{i}]: shape {list(shape)} params {p} macs {mac}")
    print(f"{name}: output {list(rows[-1][0])} params {params} macs {macs} activation_bytes {act_bytes}")


def seed():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(3136, 128), nn.BatchNorm1d(128), nn.ReLU(),
        nn.Linear(128, 10))


def basic_block(cin, cout, stride):
    block = [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
             nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout)]
    proj = None
    if stride != 1 or cin != cout:
        proj = [nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)]
    return [Residual(block, proj), nn.ReLU()]


def resnet18():
    # torchvision.models.resnet18 (not installed here) as a flat list; same modules, same parameter count.
    layers = [nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, stride=2, padding=1)]
    cin = 64
    for cout, stride in [(64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)]:
        layers += basic_block(cin, cout, stride)
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers)


def single(name, module, input_shape):
    report(name, nn.Sequential(module), input_shape, per_layer=False)


if __name__ == "__main__":
    report("seed", seed(), (1, 28, 28))
    report("resnet18", resnet18(), (3, 224, 224), per_layer=False)
    # Options of conv2d, in the order tests/static/layers/conv2d.cpp lists them.
    single("conv_stride_padding", nn.Conv2d(3, 16, 3, stride=2, padding=1), (3, 32, 32))
    single("conv_dilation", nn.Conv2d(8, 16, 5, stride=3, padding=3, dilation=2), (8, 20, 20))
    single("conv_groups_nobias", nn.Conv2d(8, 4, 3, padding=2, groups=4, bias=False), (8, 10, 12))
    single("conv_kernel_equals_input", nn.Conv2d(3, 5, 7), (3, 7, 7))
    single("conv_depthwise", nn.Conv2d(16, 32, 3, stride=2, dilation=3, groups=16), (16, 9, 9))
    single("conv_1x1_stride", nn.Conv2d(6, 6, 1, stride=4), (6, 9, 10))
    # Pools, in the order tests/static/layers/pool.cpp lists them.
    single("max_pool_3_s2_p1", nn.MaxPool2d(3, stride=2, padding=1), (64, 112, 112))
    single("avg_pool_2_odd", nn.AvgPool2d(2), (5, 7, 7))
    single("max_pool_3_s1", nn.MaxPool2d(3, stride=1), (2, 5, 6))
    single("avg_pool_4_s3_p2", nn.AvgPool2d(4, stride=3, padding=2), (3, 10, 11))
    single("max_pool_window_equals_input", nn.MaxPool2d(5), (4, 5, 5))
    single("global_avg_pool", nn.AdaptiveAvgPool2d(1), (7, 5, 3))
    # Dense heads and residual blocks (tests/static/layers/dense.cpp, residual.cpp).
    report("flatten_dense", nn.Sequential(nn.Flatten(), nn.Linear(60, 10)), (3, 4, 5))
    report("dense_nobias", nn.Sequential(nn.Linear(20, 7, bias=False)), (20,))
    report("residual_identity", nn.Sequential(
        Residual([nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1)])),
        (8, 6, 6))
    report("residual_projection", nn.Sequential(*basic_block(8, 16, 2)), (8, 7, 7))
