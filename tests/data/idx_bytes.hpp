// SPDX-License-Identifier: MIT
// Bytes of hand-made IDX files for the data tests.
#pragma once

#include <cstdint>
#include <string>

namespace fusenet::test {

/// v as 4 big-endian bytes, as IDX stores its magic and dimensions.
inline std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 8) & 0xff),
          static_cast<char>(v & 0xff)};
}

}  // namespace fusenet::test
