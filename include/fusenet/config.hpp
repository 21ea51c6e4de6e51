// SPDX-License-Identifier: MIT
// Version, the C++20 requirement and FUSENET_* configuration switches.
#pragma once

// fusenet.hpp and network.hpp skip everything else below C++20, so this is the only error a C++17 build sees.
#if !defined(__cplusplus) || __cplusplus < 202002L
#error "fusenet needs C++20: compile with -std=c++20 (pkg-config --cflags fusenet, find_package(fusenet) and fusenet_dep carry it)"
#define FUSENET_CXX20 0
#else
#define FUSENET_CXX20 1
#endif

#define FUSENET_VERSION_MAJOR 0
#define FUSENET_VERSION_MINOR 1
#define FUSENET_VERSION_PATCH 0
#define FUSENET_VERSION_STRING "0.1.0"

namespace fusenet {
/// The version of the compiled fusenet library this program links against.
const char* version() noexcept;
}  // namespace fusenet
