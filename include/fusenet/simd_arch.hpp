// SPDX-License-Identifier: MIT
// simd_arch(): the SIMD instruction set the calling translation unit's kernels were compiled for.
#pragma once

#include <cstddef>
#include <string>

#include "fusenet/kernels/registers.hpp"

namespace fusenet {

/// The instruction set fusenet's kernels use in one translation unit.
struct simd_info {
  const char* arch;               ///< xsimd's name for it: "avx512bw", "fma3+avx2", "sse4.2", "sse2", ...
  std::size_t floats_per_vector;  ///< 16 for AVX-512, 8 for AVX2, 4 for SSE
  std::size_t vector_registers;   ///< the register budget the kernels' tiles are planned for
  /// "fma3+avx2, 8 floats per vector, 16 registers".
  std::string text() const {
    return std::string(arch) + ", " + std::to_string(floats_per_vector) + " floats per vector, " +
           std::to_string(vector_registers) + " registers";
  }
};

/// The SIMD architecture the calling translation unit was compiled for: the kernels follow the compiler's
/// -m/-march flags, not the machine, so a consumer built without -march=native (or -mavx2 -mfma) runs SSE2
/// kernels, several times slower. Print it at start-up to make a slow build visible.
/// A template on xsimd's default architecture, so each TU gets its own instantiation (no ODR clash between TUs
/// built for different ISAs). Example: tests/consumer/consumer.cpp
template <class Arch = xsimd::default_arch>
constexpr simd_info simd_arch() noexcept {
  return {Arch::name(), xsimd::batch<float, Arch>::size, kernels::vector_registers<Arch>};
}

}  // namespace fusenet
