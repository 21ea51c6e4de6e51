#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets up, builds, and runs every test suite (static, compile_fail, kernels, model, train, io, data,
# reference, gradcheck, examples).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
meson test -C build --print-errorlogs --num-processes 2 "$@"
