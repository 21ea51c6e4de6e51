// SPDX-License-Identifier: MIT
// libFuzzer target: IDX image and label reading, raw and gzipped, must only ever throw fusenet::file_error.
#include <cstddef>
#include <cstdint>

#include "harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // idx_input catches file_error itself; any other exception escapes and libFuzzer reports it as a crash.
  fusenet::fuzz::idx_input({reinterpret_cast<const char*>(data), size});
  return 0;
}
