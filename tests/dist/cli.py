#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# fashion_mnist train under mpirun -np 2: one epoch on 2000 images; exactly one "test accuracy" line (rank 0 alone
# prints) and a CSV log with one epoch row written by rank 0; an indivisible --batch is a clear error, no hang.
# usage: cli.py FASHION_MNIST MPIRUN ARGS...   (exit 77 = skipped when the Fashion-MNIST files are absent)
import os, subprocess, sys, tempfile

exe, mpirun = sys.argv[1], sys.argv[2:]
data = os.environ.get('FUSENET_DATA', '/usr/share/datasets/fashion-mnist')
if not os.path.isdir(data):
    sys.exit(77)
with tempfile.TemporaryDirectory() as tmp:
    log = os.path.join(tmp, 'log.csv')
    p = subprocess.run(mpirun + [exe, 'train', '--epochs', '1', '--limit', '2000', '--batch', '64', '--threads', '1',
                                 '--log', log], capture_output=True, text=True, timeout=100)
    print(p.stdout, p.stderr)
    assert p.returncode == 0, f'status {p.returncode}'
    assert p.stdout.count('test accuracy:') == 1, 'expected one report, from rank 0'
    acc = float(p.stdout.split('test accuracy:')[1].split()[0])
    assert acc > 0.6, f'accuracy {acc} after an epoch of 2000 images'
    rows = open(log).read().strip().split('\n')
    assert len(rows) == 2 and rows[1].startswith('1,32,'), rows  # header + epoch 1 of 2000/64 -> 32 steps
    p = subprocess.run(mpirun + [exe, 'train', '--batch', '65', '--limit', '2000'], capture_output=True, text=True,
                       timeout=60)
    print(p.stdout, p.stderr)
    assert p.returncode != 0 and 'divisible by the 2 processes' in p.stderr, 'indivisible --batch must be an error'
print('ok')
