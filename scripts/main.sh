#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: set up, build, train the reference CNN on Fashion-MNIST and print its test accuracy.
# Extra arguments go to `fashion_mnist train` (default: one epoch), e.g. scripts/main.sh --epochs 10.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh examples/fashion_mnist  # only what the main job runs, not the tests and benchmarks
./build/examples/fashion_mnist summary
./build/examples/fashion_mnist train --epochs 1 "$@"
