# SPDX-License-Identifier: MIT
"""PyTorch's training step of a bench/torch/zoo.py network, beside fusenet_bench's train/zoo/NAME.

One step is forward in train mode, cross-entropy, zero_grad, backward and an Adam update (lr 1e-3), as
fusenet_bench's train/zoo/NAME times it. Prints one JSON line per thread count with fusenet_bench's keys (name,
batch, threads, ms = median, ms_min, ms_max) plus "impl": "torch".

    LD_LIBRARY_PATH=<openblas-pthread folder> /usr/bin/python3 bench/torch/train_step.py [--net reference]
        [--batch 64] [--threads 1,2] [--reps 20]

(compare_zoo.py unpacks OpenBLAS into build/openblas/root/usr/lib/x86_64-linux-gnu/openblas-pthread.)
Bench-only: never a build or test dependency.
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zoo  # noqa: E402  (the networks, defined once)

INPUTS = {"reference": (1, 28, 28), "lenet5": (1, 28, 28), "cifar_resnet20": (3, 32, 32), "mobilenet": (3, 32, 32),
          "vgg": (3, 32, 32)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--net", default="reference", choices=sorted(INPUTS))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--reps", type=int, default=20)
    a = p.parse_args()
    torch.manual_seed(1)
    net = getattr(zoo, a.net)()
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(a.batch, *INPUTS[a.net])
    y = torch.randint(0, 10, (a.batch,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for t in (int(s) for s in a.threads.split(",")):
        torch.set_num_threads(t)
        for _ in range(3):  # warm-up: allocations, OpenMP team
            step()
        ms = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            step()
            ms.append((time.perf_counter() - t0) * 1e3)
        print(json.dumps({"name": f"train/zoo/{a.net}", "batch": a.batch, "threads": t, "ms": round(statistics.median(ms), 4),
                          "ms_min": round(min(ms), 4), "ms_max": round(max(ms), 4), "impl": "torch"}), flush=True)


if __name__ == "__main__":
    main()
