#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The second ISA and the second compiler in one build: fusenet's numeric suites, and the cheap static and train
# suites, compiled by clang++ (GCC builds everything else) for AVX2 (8 floats per vector; native here may be
# AVX-512's 16) into ./build-clang-avx2, and run, so that no kernel or test silently assumes one vector width and
# the library and its tests stay clang-clean under -Wall -Wextra -Werror. Then checks that the ISAs agree:
# tests/isa/dump_outputs (fixed-seed logits, loss and gradients of the nets.hpp networks) from the native GCC build
# (./build, or $ISA_REFERENCE_BUILD), the clang AVX2 build and a portable (SSE2, GCC) build in ./build-portable must
# match within 1e-5 relative (tests/isa/compare.py states the floor for values near zero).
# $ISA_CXX picks another compiler for the AVX2 build (and its own build-<name>-avx2 folder).
# Extra arguments go to `meson test`. Run scripts/setup.sh first on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
reference_build=${ISA_REFERENCE_BUILD:-build}

isa_cxx=${ISA_CXX:-clang++}
if ! command -v "$isa_cxx" > /dev/null; then
  echo "check_isa: $isa_cxx not found (scripts/setup.sh installs clang; or set ISA_CXX=g++)" >&2
  exit 1
fi
avx2=build-$(basename "$isa_cxx" | sed 's/++.*//')-avx2  # build-clang-avx2
# -O1: this build checks a second compiler's diagnostics and a second vector width, and its tests take seconds, but
# clang's -O3 doubles its compile time (tests/model/zoo.cpp: 60 s at -O3, 31 s at -O1, 2-core Zen 3). Cross-ISA
# agreement does not depend on it: every FMA is explicit and nothing is built with -ffast-math.
isa_opt=(-Doptimization=1 -Ddebug=false)
if [[ ! -f $avx2/build.ninja ]]; then
  CXX=$isa_cxx meson setup "$avx2" -Disa=avx2 -Dbench=false -Dexamples=false "${isa_opt[@]}"
fi
ninja -C "$avx2" build.ninja  # regenerate first, so that the introspection below lists the current tests
# kernels, model (with api/), plan and reference: every ISA-dependent path; static and train add the front end's facts
# (the option forms clang takes), the optimizers and fit. io and data compile with clang too, but would add ~60 s of
# CI time (their 15 executables: 78 job-s), over the 20 min budget; ISA_SUITES="kernels model plan reference static
# train io data" builds them. gradcheck, headers, examples and bench are GCC-only here; compile_fail runs clang's
# diagnostics itself.
read -r -a suites <<< "${ISA_SUITES:-kernels model plan reference static train}"
# Build only the executables of those suites (not the compile_fail checks or other suites' tests), and leave
# out the kernels/direct/*_avx2 twins: they are their base tests compiled with -mno-avx512f, which changes nothing
# in this -mavx2 -mfma build (they would be second copies of conv_blocked, depthwise_conv and pool_nhwc; their
# compiles took 45 of the 495 s of ninja job time here). They run in the native and sanitizer builds.
selection=$(meson introspect --tests "$avx2" | python3 -c '
import json, os, sys
build, suites = sys.argv[1], set(sys.argv[2:])
for t in json.load(sys.stdin):
    if t["name"].startswith("kernels/direct/") and t["name"].endswith("_avx2"):
        continue
    if suites & {s.split(":")[-1] for s in t["suite"]} and t["cmd"][0].startswith(os.path.abspath(build)):
        print("target\t" + os.path.relpath(t["cmd"][0], build))
        print("test\t" + t["name"])' "$avx2" "${suites[@]}")
mapfile -t targets < <(sed -n 's/^target\t//p' <<< "$selection" | sort -u)
mapfile -t tests < <(sed -n 's/^test\t//p' <<< "$selection")
ninja -C "$avx2" "${targets[@]}" tests/isa/dump_outputs
status=0
meson test -C "$avx2" --no-rebuild --print-errorlogs --num-processes 2 "$@" "${tests[@]}" || status=$?

# Cross-ISA agreement. The portable build holds only dump_outputs and the library it links (4 TUs, ~1 min).
if [[ ! -f build-portable/build.ninja ]]; then
  meson setup build-portable -Disa=portable -Dbench=false -Dexamples=false "${isa_opt[@]}"
fi
if [[ ! -f $reference_build/build.ninja ]]; then
  echo "check_isa: $reference_build is not configured; run scripts/setup.sh (or set ISA_REFERENCE_BUILD)" >&2
  exit 1
fi
ninja -C build-portable tests/isa/dump_outputs
ninja -C "$reference_build" tests/isa/dump_outputs  # nothing to do after scripts/setup.sh built it
for b in "$reference_build" "$avx2" build-portable; do
  rm -rf "$b/isa-dump"
  "$b/tests/isa/dump_outputs" "$b/isa-dump" || status=$?
done
python3 tests/isa/compare.py "$reference_build/isa-dump" "$avx2/isa-dump" "native vs avx2 ($isa_cxx)" || status=$?
python3 tests/isa/compare.py "$reference_build/isa-dump" build-portable/isa-dump "native vs portable" || status=$?
echo "check_isa: $(( $(date +%s) - start )) s"
exit $status
