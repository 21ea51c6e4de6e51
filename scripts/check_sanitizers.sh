#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the executing test suites with AddressSanitizer + UndefinedBehaviorSanitizer into ./build-asan, with
# clang++ (or $SAN_CXX), and runs them; any sanitizer report aborts the test (and so fails this script).
# Extra arguments go to `meson test` (e.g. --suite io). Run scripts/setup.sh first on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

# b_lundef=false: Meson refuses -Wl,--no-undefined together with the sanitizer runtimes.
# -fno-sanitize-recover=all: UBSan reports become fatal instead of printing and continuing.
# clang, not GCC: its UBSan checks pointer arithmetic that GCC's does not (a null pointer plus an offset, an offset
# that wraps around), which found two such bugs here, and it builds this stage's 57 targets in 173 s instead of
# 231 s (2-core Zen 3), with the same test time. GCC builds and runs every suite unsanitized in the README's tests.
# -O0 and -g1 (after the buildtype's -O2 -g, so they win): compiling dominates this stage, and at -O1 the
# instrumentation of the fully unrolled, always-inline kernel tiles is very slow (GCC: tests/kernels/direct/
# conv_blocked.cpp took 266 CPU s and 2.2 GB at -O1, 12.7 s and 0.4 GB at -O0). ASan and UBSan check every access
# and operation at -O0 too (more of them: nothing is kept in registers).
# -g1: stack traces keep function names and line numbers, but no variable or type information.
san_cxx=${SAN_CXX:-clang++}
if [[ ! -f build-asan/build.ninja ]]; then
  CXX=$san_cxx meson setup build-asan \
    -Db_sanitize=address,undefined -Db_lundef=false \
    "-Dcpp_args=['-fno-sanitize-recover=all', '-O0', '-g1']" \
    -Dbuildtype=debugoptimized -Dbench=false
fi
ninja -C build-asan build.ninja  # regenerate first, so that meson-info lists the current tests

# compile_fail and static only compile, headers only compiles (64 TUs, no code runs); everything else runs
# code under the sanitizers.
suites=(kernels model train io data reference gradcheck plan examples)
# Left out, as they add no sanitizer coverage:
#   model/infer_alloc  runs the reference, mixed and ResNet nets through model<infer>::forward, as model/infer
#                      does; its extra batches (17, and 1 and 3 after 64) run inside buffers grown for 64, where
#                      an overrun stays inside the allocation and ASan cannot see it. model/infer runs batches
#                      1, 3, 64 in buffers grown to each size in turn. (It also replaces operator new.)
#   model/zoo          runs five whole networks through model<infer> against eval_forward; its TU takes 870 s to
#                      compile sanitized. reference/infer runs the same executors (residual with identity and
#                      projection shortcuts, stride 2, depthwise, pool, global pool) sanitized on small nets.
#   model/threads      runs the forwards of model/infer again, counting pthread_create by defining it, which
#                      would stand in front of ASan's own interceptor of that function.
#   train/reproducible runs the reference net's training step, as reference/model and model/infer (Adam steps,
#                      default threads) do; it repeats it 7 times to compare bits, 57 s under the sanitizers.
#   examples/fashion_mnist non-finite loss and reference/checkpoint fashion_mnist eval run the example on the
#                      whole dataset (decoding 70,000 gzipped images per run, evaluating 10,000): 531 s and
#                      205 s sanitized. The code they reach runs sanitized elsewhere: the IDX reader and dataset
#                      in the data suite and the fuzz stage, safetensors in io, training and model<infer> in
#                      model and reference/model, the example's own code in examples/fashion_mnist summary and
#                      bad flag.
#   examples/fashion_mnist resume and signals, progress bar width, examples/bn_ablation tiny study
#                      run the examples on the whole dataset too (each decodes the 70,000 images before training on
#                      a subset). The loop, checkpoints, resume and CSV log they reach run sanitized in train/fit.
#   kernels/direct/*_avx2 (built on AVX-512 machines only) are their base tests compiled for AVX2, whose paths
#                      scripts/check_isa.sh runs; sanitized, the two conv_blocked builds alone took 100 s.
#   data/image_folder_cli trains the image_folder example for 4 epochs (200 s sanitized); the loaders, transforms
#                      and pipeline it runs are sanitized in the data suite's own tests.
skip=(model/infer_alloc model/zoo model/threads train/reproducible "examples/fashion_mnist non-finite loss"
      "reference/checkpoint fashion_mnist eval" "examples/fashion_mnist resume and signals"
      "examples/fashion_mnist progress bar width" "examples/bn_ablation tiny study" data/image_folder_cli
      kernels/direct/conv_blocked_avx2 kernels/direct/depthwise_conv_avx2 kernels/direct/pool_nhwc_avx2
      kernels/direct/pixel_conv_avx2 kernels/direct/pointwise_conv_avx2)
# Build only what those tests run (their executables, and fashion_mnist for the checkpoint test), not the
# header, static and compile_fail checks or the tests left out.
selection=$(python3 - build-asan "${#suites[@]}" "${suites[@]}" "${skip[@]}" <<'PY'
import json, os, sys
build, count = sys.argv[1], int(sys.argv[2])
suites, skip = set(sys.argv[3:3 + count]), set(sys.argv[3 + count:])
info = os.path.join(build, "meson-info")
targets = {t["id"]: t["filename"][0] for t in json.load(open(os.path.join(info, "intro-targets.json")))}
build_abs = os.path.abspath(build)
tests, files = [], set()
for t in json.load(open(os.path.join(info, "intro-tests.json"))):
    if t["name"] in skip or not suites & {s.split(":")[-1] for s in t["suite"]}:
        continue
    tests.append(t["name"])
    files.update(os.path.relpath(targets[d], build_abs) for d in t["depends"] if d in targets)
for f in sorted(files):
    print("target\t" + f)
for name in tests:
    print("test\t" + name)
PY
)
mapfile -t targets < <(sed -n 's/^target\t//p' <<< "$selection")
mapfile -t tests < <(sed -n 's/^test\t//p' <<< "$selection")
echo "check_sanitizers: building ${#targets[@]} targets for ${#tests[@]} tests"
ninja -C build-asan "${targets[@]}"

export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:print_stacktrace=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
status=0
# Sanitized code is several times slower: give each test 10x its usual timeout.
meson test -C build-asan --no-rebuild --print-errorlogs --num-processes 2 --timeout-multiplier 10 "$@" \
  "${tests[@]}" || status=$?
echo "check_sanitizers: $(( $(date +%s) - start )) s"
exit $status
