// SPDX-License-Identifier: MIT
// The facts about the instruction set that execution plans depend on: vector width and register count.
#pragma once

#include <cstddef>

namespace fusenet {

/// What a plan needs to know of the machine code it is planned for: floats per SIMD vector and the number of
/// vector registers a kernel's register tile may use.
struct target {
  std::size_t vector_width = 0;
  std::size_t vector_registers = 0;
  friend constexpr bool operator==(const target&, const target&) = default;
};

/// Named targets, for tests and documentation that show a plan for another machine than the build's.
namespace targets {
/// AVX-512 (16 floats, 32 registers).
inline constexpr target avx512{16, 32};
/// AVX2 + FMA with VEX encoding (8 floats, 16 registers).
inline constexpr target avx2{8, 16};
/// SSE2 / SSE4 (4 floats, 16 registers).
inline constexpr target sse{4, 16};
}  // namespace targets

/// The target this translation unit is compiled for, read from the compiler's instruction-set macros (the same
/// ones xsimd's default architecture follows; kernels/registers.hpp checks that the two agree).
inline constexpr target build_target{
#if defined(__AVX512F__)
    16,
#elif defined(__AVX__)
    8,
#else
    4,
#endif
#if defined(__AVX512F__)
    32,
#else
    16,
#endif
};

}  // namespace fusenet
