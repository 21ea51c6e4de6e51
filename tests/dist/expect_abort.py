#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Runs `mpirun ARGS... PROGRAM MODE` and passes when the job ends within the timeout (no hang) with a non-zero status
# and its output contains TEXT. usage: expect_abort.py TEXT MODE -- MPIRUN ARGS... PROGRAM
import subprocess, sys

text, mode = sys.argv[1], sys.argv[2]
cmd = sys.argv[sys.argv.index('--') + 1:] + [mode]
try:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
except subprocess.TimeoutExpired:
    sys.exit(f'FAIL: {mode}: the job hung (no end within 60 s)')
out = p.stdout + p.stderr
print(out)
if p.returncode == 0:
    sys.exit(f'FAIL: {mode}: status 0, expected a failure')
if text not in out:
    sys.exit(f'FAIL: {mode}: the output does not contain {text!r}')
print(f'ok: {mode}: status {p.returncode}, message contains {text!r}')
