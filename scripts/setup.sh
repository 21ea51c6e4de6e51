#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what fusenet needs on Debian 12 (when root), then configures and builds into ./build
# (usage: bash scripts/setup.sh [NINJA_TARGET...]).
# Sourced by main.sh and test.sh; safe to run again (it only installs what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ meson ninja-build pkg-config cmake libboost-dev xtensor-dev libxsimd-dev doctest-dev
          zlib1g-dev nlohmann-json3-dev libpng-dev libjpeg62-turbo-dev dataset-fashion-mnist python3 clang
          libclang-rt-14-dev python3-matplotlib openmpi-bin libopenmpi-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "fusenet: installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "fusenet: missing packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if [[ ! -f build/build.ninja ]]; then
  meson setup build --buildtype=release
fi
# Arguments name the targets to build (main.sh builds only the example it runs); none: everything.
ninja -C build "$@"
