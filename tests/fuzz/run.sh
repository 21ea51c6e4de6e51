#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang++ (ASan + UBSan) in build-fuzz and runs each for SECONDS, or without SECONDS
# for its own budget (below), two at a time,
# starting from the committed seeds in tests/fuzz/corpus/<name>. Exits non-zero if any fuzzer finds a crash, a
# sanitizer report, an exception other than fusenet::file_error, a leak, a timeout or an allocation above 2 GB.
# New inputs go to build-fuzz/fuzz-work/<name>/ (not to the committed corpus); crash inputs to
# build-fuzz/fuzz-work/crash-<name>-*. Copy a crash into tests/fuzz/corpus/<name>/ to make it a regression test.
# Usage: bash tests/fuzz/run.sh [SECONDS]      (env BUILD_DIR to use another build directory)
set -euo pipefail
seconds="${1:-}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD_DIR:-$root/build-fuzz}"
cd "$root"

if ! command -v clang++ > /dev/null; then
  echo "run.sh: clang++ not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
if [ ! -f "$build/build.ninja" ]; then
  # The fuzz targets live under tests/, so tests stay on; only the two fuzzers are built below.
  CXX=clang++ meson setup "$build" -Dfuzz=true -Dtests=true -Dexamples=false -Dbench=false \
    --buildtype=debugoptimized > "$build.setup.log" 2>&1 || { cat "$build.setup.log" >&2; exit 2; }
else
  meson configure "$build" -Dfuzz=true > /dev/null
fi
ninja -C "$build" -j2 tests/fuzz/fuzz_safetensors tests/fuzz/fuzz_idx tests/fuzz/fuzz_png tests/fuzz/fuzz_jpeg \
  tests/fuzz/fuzz_cifar tests/fuzz/fuzz_csv > "$build/fuzz-build.log" 2>&1 ||
  { grep -E 'error|FAILED' "$build/fuzz-build.log" | head -30 >&2; exit 2; }

# Largest useful input: the valid seeds are about 2.7 kB (safetensors) and 100 bytes (IDX); images under 2 kB, two
# CIFAR-100 records 6148 bytes, CSV tables under 200 bytes.
declare -A max_len=([safetensors]=8192 [idx]=2048 [png]=4096 [jpeg]=4096 [cifar]=8192 [csv]=2048)
# Runs one fuzzer; its report goes to $build/fuzz-work/<name>.report and its exit status to <name>.status.
fuzz_one() {
  local name=$1 seconds=$2 work="$build/fuzz-work/$1" log="$build/fuzz-work/$1.log" report="$build/fuzz-work/$1.report"
  local stamp="$build/fuzz-work/.start-$1" rc runs rate cov crashes
  mkdir -p "$work"
  touch "$stamp"
  {
    echo "== fuzz_$name for ${seconds}s (log: $log)"
    set +e
    "$build/tests/fuzz/fuzz_$name" "$work" "tests/fuzz/corpus/$name" \
      -max_total_time="$seconds" -max_len="${max_len[$name]}" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/fuzz-work/crash-$name-" > "$log" 2>&1
    rc=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    # After a crash there are no final stats: take the count of libFuzzer's last status line ("#4539 DONE ...").
    [ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$log" | tail -1)
    echo "   executions: ${runs:-?}  exec/s: ${rate:-?}  ${cov}"
    # libFuzzer stops at its first finding and writes it (crash-, leak-, timeout-, oom-) to the artifact prefix.
    crashes=$(find "$build/fuzz-work" -maxdepth 1 -name "crash-$name-*" -newer "$stamp" | wc -l)
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi  # a finding that wrote no input
    # One line per target for .ci/run's summary.
    echo "fuzz: $name: ${runs:-?} executions, $crashes crashes"
    if [ "$rc" -ne 0 ]; then
      echo "   FAILED (exit $rc):"
      grep -E 'ERROR|SUMMARY|terminate|what\(\)|Test unit written' "$log" | head -10
    fi
  } > "$report" 2>&1
  echo "$rc" > "$build/fuzz-work/$name.status"
}

# Budgets without SECONDS, from when each target last found new coverage in a 60 s CI run from the committed seeds
# (executions at its last NEW line / its exec/s): safetensors 53 s, csv 39 s, jpeg 37 s, idx 29 s, png and cifar
# under 1 s (png's coverage never grew past its seeds in 5.9 million executions). So the three still growing near
# the end keep most of a minute, idx twice its last find, png and cifar 15 s (still about a million executions).
# Cut by a third to keep CI under 20 minutes: the three still growing keep 30-40 s (past two thirds of their last
# finds), idx 25 s, png and cifar 10 s (over half a million executions each). Sum 145 s on two lanes: about 75 s
# of wall time.
declare -A budget=([safetensors]=40 [jpeg]=30 [csv]=30 [idx]=25 [png]=10 [cifar]=10)
targets=(safetensors jpeg csv idx png cifar)  # longest budget first, for the lanes below
# Two lanes, one per core: each target goes to the lane with less work so far, and a lane runs its targets in turn.
lane=("" "")
load=(0 0)
for name in "${targets[@]}"; do
  t=${seconds:-${budget[$name]}}
  l=0; [ "${load[1]}" -lt "${load[0]}" ] && l=1
  lane[l]+=" $name"
  load[l]=$((load[l] + t))
done
status=0
mkdir -p "$build/fuzz-work"
for l in 0 1; do
  ( for name in ${lane[l]}; do fuzz_one "$name" "${seconds:-${budget[$name]}}"; done ) &
done
wait
for name in "${targets[@]}"; do
  cat "$build/fuzz-work/$name.report"
  [ "$(cat "$build/fuzz-work/$name.status")" -eq 0 ] || status=1
done
exit "$status"
