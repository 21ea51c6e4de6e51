#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# fashion_mnist train under mpirun -np 2: one epoch on 2000 images; exactly one "test accuracy" line (rank 0 alone
# prints) and a CSV log with one epoch row written by rank 0; an indivisible --batch is a clear error, no hang.
# Checkpoints: 1 epoch with --checkpoint (rank 0 writes it), then --resume for a 2nd (every rank reads it), writes
# the same --save file, byte for byte, as one process training 2 epochs in one go (2 x 32 images per step train
# bit for bit as 1 x 64, so this is also the uninterrupted data-parallel run's file).
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
    common = ['--limit', '512', '--batch', '64', '--threads', '1', '--schedule', 'constant']
    def train(launcher, *args):
        p = subprocess.run(launcher + [exe, 'train'] + common + list(args), capture_output=True, text=True,
                           timeout=100)
        print(p.stdout, p.stderr)
        assert p.returncode == 0, f'status {p.returncode}'
        return p
    single, resumed = (os.path.join(tmp, n + '.safetensors') for n in ('single', 'resumed'))
    ckpt = os.path.join(tmp, 'ckpt.safetensors')
    train([], '--epochs', '2', '--save', single)
    train(mpirun, '--epochs', '1', '--checkpoint', ckpt)
    p = train(mpirun, '--epochs', '2', '--resume', ckpt, '--save', resumed)
    assert p.stdout.count('test accuracy:') == 1 and p.stderr.count('resuming') == 1, 'rank 0 alone reports'
    data_of = lambda path: open(path, 'rb').read()
    assert data_of(resumed) == data_of(single), 'a resumed data-parallel run must end as the uninterrupted one'
    p = subprocess.run(mpirun + [exe, 'train', '--batch', '65', '--limit', '2000'], capture_output=True, text=True,
                       timeout=60)
    print(p.stdout, p.stderr)
    assert p.returncode != 0 and 'divisible by the 2 processes' in p.stderr, 'indivisible --batch must be an error'
print('ok')
