#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Scaling model for data-parallel training on many machines (issue 16): ring-allreduce time of a network's
gradients against the compute time of one training step, giving predicted strong- and weak-scaling efficiency.
One JSON object a line.

usage: dist_scaling.py [--ref-ms-per-image MS] [--resnet18-ms-per-image MS] [--alpha-us US] [--efficiency E]

Assumptions (stated, not measured here):
- ring allreduce of S bytes on N ranks: T = 2(N-1) * alpha + 2(N-1)/N * S / (E * bandwidth): N-1 reduce-scatter and
  N-1 allgather steps, each moving S/N bytes; alpha = per-message latency (default 10 us, TCP over Ethernet), E = the
  fraction of the link rate reached (default 0.8); one rank per machine, one link per machine, no contention.
- compute per step is linear in the per-rank batch: t(b) = b * ms_per_image (the reference network's default is
  bench/dist_bench's 1-process figure at global batch 256, 2 threads on this 2-core machine); ResNet-18 (224x224):
  default 120 ms/image, from ~5.5 GFLOP per image for forward + backward at ~45 GFLOP/s per machine (an estimate,
  not a measurement: fusenet does not train ResNet-18 at 224x224 in its benches).
- overlap: backward is 2/3 of a step and the allreduce can hide behind it (buckets start as stages finish), so the
  exposed time is max(0, T - 2/3 t); "no_overlap" gives the pessimistic bound T.
- strong scaling: global batch fixed (256), per-rank batch 256/N; weak scaling: per-rank batch fixed (64).
  efficiency = t / (t + exposed).
"""
import argparse, json

GRAD_BYTES = {'reference': 1688360, 'resnet18': 46.8e6}  # reference: bench/dist_bench grad_bytes; ResNet-18: 11.7M floats

p = argparse.ArgumentParser()
p.add_argument('--ref-ms-per-image', type=float, default=32.0 / 256)
p.add_argument('--resnet18-ms-per-image', type=float, default=120.0)
p.add_argument('--alpha-us', type=float, default=10.0)
p.add_argument('--efficiency', type=float, default=0.8)
a = p.parse_args()
ms_per_image = {'reference': a.ref_ms_per_image, 'resnet18': a.resnet18_ms_per_image}

for net, size in GRAD_BYTES.items():
    for gbps in (10, 25, 100):
        bw = gbps * 1e9 / 8 * a.efficiency  # bytes/s
        for n in (2, 4, 8, 16, 32, 64, 128, 256):
            ring_ms = 1e3 * (2 * (n - 1) * a.alpha_us * 1e-6 + 2 * (n - 1) / n * size / bw)
            for kind, per_rank in (('strong', 256 / n), ('weak', 64)):
                t = per_rank * ms_per_image[net]
                exposed = max(0.0, ring_ms - 2.0 / 3.0 * t)
                print(json.dumps({'net': net, 'grad_bytes': int(size), 'gbps': gbps, 'ranks': n, 'scaling': kind,
                                  'per_rank_batch': per_rank, 'compute_ms': round(t, 3),
                                  'allreduce_ms': round(ring_ms, 3),
                                  'efficiency': round(t / (t + exposed), 3),
                                  'efficiency_no_overlap': round(t / (t + ring_ms), 3)}))
