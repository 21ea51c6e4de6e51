#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds every executing test suite with AddressSanitizer + UndefinedBehaviorSanitizer into ./build-asan
# and runs them; any sanitizer report aborts the test (and so fails this script).
# Extra arguments go to `meson test` (e.g. --suite io). Run scripts/setup.sh first on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

# b_lundef=false: Meson refuses -Wl,--no-undefined together with the sanitizer runtimes.
# -fno-sanitize-recover=all: UBSan reports become fatal instead of printing and continuing.
# debugoptimized (-O2 -g): the kernels' loops stay fast enough, and stack traces keep line numbers.
if [[ ! -f build-asan/build.ninja ]]; then
  meson setup build-asan \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dcpp_args=-fno-sanitize-recover=all \
    -Dbuildtype=debugoptimized -Dbench=false
fi
ninja -C build-asan

export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:print_stacktrace=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
# compile_fail and static only compile; everything else runs code under the sanitizers.
suites=(kernels model train io data reference gradcheck plan examples)
args=()
for s in "${suites[@]}"; do args+=(--suite "$s"); done
status=0
# Sanitized code is several times slower: give each test 10x its usual timeout.
meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 10 "${args[@]}" "$@" || status=$?
echo "check_sanitizers: $(( $(date +%s) - start )) s"
exit $status
