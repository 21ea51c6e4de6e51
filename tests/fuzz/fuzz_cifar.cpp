// SPDX-License-Identifier: MIT
// libFuzzer target: the CIFAR binary reader (data_harness.hpp, cifar_input) must only ever throw fusenet::file_error.
#include <cstddef>
#include <cstdint>

#include "data_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    fusenet::fuzz::cifar_input({reinterpret_cast<const char*>(data), size});
  } catch (const fusenet::file_error&) {
    // A rejected file is the expected outcome; any other exception escapes and libFuzzer reports it as a crash.
  }
  return 0;
}
