# SPDX-License-Identifier: MIT
"""The PyTorch twin of bench/zoo/nets.hpp: the same six networks in torch.nn, timed in eval mode.

For each network, batch and thread count it times three variants -- eager under torch.inference_mode,
torch.jit.freeze(torch.jit.script(m)) and torch.jit.optimize_for_inference(torch.jit.script(m)) -- and prints
one JSON line with fusenet_bench's keys (name, batch, threads, ms, ms_min, ms_max, gflops) for the fastest
variant, plus "impl": "torch", "variant" and every variant's median in "variants".

    /usr/bin/python3 bench/torch/zoo.py [--filter REGEX] [--threads 1,2] [--reps 20]

Bench-only: never a build or test dependency. bench/compare_zoo.py runs it next to fusenet_bench.
"""

import argparse
import ctypes
import json
import os
import re
import statistics
import sys
import time

import torch
from torch import nn


class Residual(nn.Module):
    """fusenet's residual<block..., shortcut<projection...>>: y = block(x) + shortcut(x).

    A missing projection is nn.Identity rather than None, so that TorchScript sees one module type.
    """

    def __init__(self, block, shortcut=None):
        super().__init__()
        self.block = nn.Sequential(*block)
        self.shortcut = nn.Sequential(*shortcut) if shortcut is not None else nn.Identity()

    def forward(self, x):
        return self.block(x) + self.shortcut(x)


def conv_bn_relu(cin, cout, k, stride=1, padding=0, groups=1, bias=False):
    return [nn.Conv2d(cin, cout, k, stride=stride, padding=padding, groups=groups, bias=bias),
            nn.BatchNorm2d(cout), nn.ReLU()]


def basic_block(c):
    """zoo::basic_block<C>, then the ReLU after the addition (the next layer in fusenet)."""
    return [Residual([nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                      nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)]), nn.ReLU()]


def basic_block_down(cin, c):
    """zoo::basic_block_down<C>: stride-2 first conv, 1x1 stride-2 projection conv + BN on the shortcut."""
    return [Residual([nn.Conv2d(cin, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                      nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)],
                     [nn.Conv2d(cin, c, 1, stride=2, bias=False), nn.BatchNorm2d(c)]), nn.ReLU()]


def reference():
    return nn.Sequential(
        *conv_bn_relu(1, 32, 3, padding=1, bias=True), nn.MaxPool2d(2),
        *conv_bn_relu(32, 64, 3, padding=1, bias=True), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 10))


def resnet18():
    layers = [*conv_bn_relu(3, 64, 7, stride=2, padding=3), nn.MaxPool2d(3, stride=2, padding=1)]
    layers += basic_block(64) + basic_block(64)
    for cin, c in ((64, 128), (128, 256), (256, 512)):
        layers += basic_block_down(cin, c) + basic_block(c)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000))


def cifar_resnet20():
    layers = conv_bn_relu(3, 16, 3, padding=1)
    layers += basic_block(16) + basic_block(16) + basic_block(16)
    for cin, c in ((16, 32), (32, 64)):
        layers += basic_block_down(cin, c) + basic_block(c) + basic_block(c)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def mobilenet():
    layers = conv_bn_relu(3, 32, 3, padding=1)
    # (channels in, channels out, depthwise stride) of each depthwise-separable block
    for cin, cout, s in ((32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2),
                         (512, 512, 1)):
        layers += conv_bn_relu(cin, cin, 3, stride=s, padding=1, groups=cin) + conv_bn_relu(cin, cout, 1)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10))


def vgg():
    layers = []
    cin = 3
    for c in (64, 128, 256):
        layers += conv_bn_relu(cin, c, 3, padding=1, bias=True) + conv_bn_relu(c, c, 3, padding=1, bias=True)
        layers.append(nn.MaxPool2d(2))
        cin = c
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(256 * 4 * 4, 10))


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


# name -> (constructor, per-sample input shape, batch sizes); the same points as bench/zoo/*.cpp
NETS = {
    "reference": (reference, (1, 28, 28), (1, 64)),
    "lenet5": (lenet5, (1, 28, 28), (1, 64)),
    "cifar_resnet20": (cifar_resnet20, (3, 32, 32), (1, 64)),
    "mobilenet": (mobilenet, (3, 32, 32), (1, 64)),
    "vgg": (vgg, (3, 32, 32), (1, 64)),
    "resnet18": (resnet18, (3, 224, 224), (1,)),
}


def mac_count(model, sample_shape):
    """Multiply-accumulates of one sample, counted as fusenet's mac_count: convolutions and linear layers."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            total += output[0].numel() * (module.in_channels // module.groups) * k
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.inference_mode():
        model(torch.zeros(1, *sample_shape))
    for h in hooks:
        h.remove()
    return total


def variants(model, x):
    """The three ways to run an eval model, each a callable taking x; a variant that fails is left out."""
    out = {}

    def eager(t):
        with torch.inference_mode():
            return model(t)

    out["eager"] = eager
    for name in ("freeze", "optimize"):
        try:
            with torch.no_grad():
                scripted = torch.jit.script(model)
                scripted.eval()
                compiled = torch.jit.freeze(scripted) if name == "freeze" else \
                    torch.jit.optimize_for_inference(scripted)

            def run(t, compiled=compiled):
                with torch.no_grad():
                    return compiled(t)

            run(x)  # the first call compiles; fail here rather than in the timing
            out[name] = run
        except Exception as e:  # noqa: BLE001 -- report and time the others
            print(f"zoo.py: {name} variant failed: {type(e).__name__}: {e}", file=sys.stderr)
    return out


def time_call(call, x, reps):
    """Median, min and max milliseconds of `reps` calls, after a warm-up that lets the JIT profile and optimise."""
    warm_until = time.perf_counter() + 0.2
    for i in range(100):
        call(x)
        if i >= 4 and time.perf_counter() > warm_until:
            break
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        call(x)
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    return statistics.median(ms), ms[0], ms[-1]


def blas_in_use():
    """The BLAS library this process mapped (OpenBLAS when LD_LIBRARY_PATH points at Debian's openblas-pthread)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower()}
        return sorted(libs)
    except OSError:
        return []


def set_blas_threads(n):
    """Caps OpenBLAS's own pthread pool at n: this torch (BLAS_INFO=generic) does not tell it torch's count."""
    try:
        blas = ctypes.CDLL("libblas.so.3")  # the copy already mapped, found through LD_LIBRARY_PATH as torch's
        if hasattr(blas, "openblas_set_num_threads"):
            blas.openblas_set_num_threads(ctypes.c_int(n))
    except OSError:
        pass


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--filter", default=".*", help="regex over the names, as fusenet_bench's --filter")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--reps", type=int, default=20)
    a = p.parse_args()
    pattern = re.compile(a.filter)
    threads = [max(1, int(t)) for t in a.threads.split(",") if t]
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    print(json.dumps({"name": "torch/config", "torch": torch.__version__, "blas": blas_in_use(),
                      "mkldnn": torch.backends.mkldnn.is_available(),
                      "ld_library_path": os.environ.get("LD_LIBRARY_PATH", "")}), file=sys.stderr)

    for net, (make, sample_shape, batches) in NETS.items():
        name = "infer/zoo/" + net
        if not pattern.search(name):
            continue
        model = make().eval()
        macs = mac_count(model, sample_shape)
        for t in threads:
            torch.set_num_threads(t)
            set_blas_threads(t)
            for batch in batches:
                x = torch.randn(batch, *sample_shape)
                results = {}
                for variant, call in variants(model, x).items():
                    results[variant] = time_call(call, x, a.reps)
                best = min(results, key=lambda v: results[v][0])
                ms, ms_min, ms_max = results[best]
                print(json.dumps({
                    "name": name, "batch": batch, "threads": t, "ms": round(ms, 4), "ms_min": round(ms_min, 4),
                    "ms_max": round(ms_max, 4), "gflops": round(2.0 * macs * batch / ms / 1e6, 2), "impl": "torch",
                    "variant": best, "variants": {v: round(r[0], 4) for v, r in results.items()}}), flush=True)


if __name__ == "__main__":
    main()
