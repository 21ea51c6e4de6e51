#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds fusenet's numeric suites for AVX2 (8 floats per vector; native here may be AVX-512's 16) into
# ./build-avx2 and runs them, so that no kernel or test silently assumes one vector width.
# Extra arguments go to `meson test`. Run scripts/setup.sh first on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

if [[ ! -f build-avx2/build.ninja ]]; then
  meson setup build-avx2 -Disa=avx2 -Dbench=false -Dexamples=false
fi
suites=(kernels model plan reference)
# Build only the executables of those suites (not the static/compile_fail checks or other suites' tests).
targets=$(meson introspect --tests build-avx2 | python3 -c '
import json, os, sys
suites = set(sys.argv[1:])
for t in json.load(sys.stdin):
    if suites & {s.split(":")[-1] for s in t["suite"]} and t["cmd"][0].startswith(os.path.abspath("build-avx2")):
        print(os.path.relpath(t["cmd"][0], "build-avx2"))' "${suites[@]}" | sort -u)
# shellcheck disable=SC2086  # one target per word
ninja -C build-avx2 $targets
args=()
for s in "${suites[@]}"; do args+=(--suite "$s"); done
status=0
meson test -C build-avx2 --no-rebuild --print-errorlogs --num-processes 2 "${args[@]}" "$@" || status=$?
echo "check_isa: $(( $(date +%s) - start )) s"
exit $status
