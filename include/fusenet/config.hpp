// SPDX-License-Identifier: MIT
// Version and FUSENET_* configuration switches.
#pragma once

#define FUSENET_VERSION_MAJOR 0
#define FUSENET_VERSION_MINOR 1
#define FUSENET_VERSION_PATCH 0
#define FUSENET_VERSION_STRING "0.1.0"

namespace fusenet {
/// The version of the compiled fusenet library this program links against.
const char* version() noexcept;
}  // namespace fusenet
