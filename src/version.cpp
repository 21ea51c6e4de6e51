// SPDX-License-Identifier: MIT
// The library's version string, compiled once so a binary can report what it linked.
#include <fusenet/config.hpp>

namespace fusenet {
const char* version() noexcept { return FUSENET_VERSION_STRING; }
}  // namespace fusenet
