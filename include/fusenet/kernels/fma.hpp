// SPDX-License-Identifier: MIT
// The vector fused multiply-add every kernel uses.
#pragma once

// Why not xsimd::fma alone: xsimd 8.1 has no AVX-512 kernel for it and computes x·y + z, which is one fused
// instruction only where GCC chooses to contract it. It does in optimised builds, but not everywhere (not
// under the sanitizers, for one), so results and speed would depend on the build. On AVX-512 this calls the
// instruction; elsewhere xsimd::fma is already the FMA instruction where the target has one (AVX2 + FMA3),
// and x·y + z rounded twice where it has none (SSE2).

#include <type_traits>
#include <xsimd/xsimd.hpp>

namespace fusenet::kernels {

/// x·y + z, rounded once wherever the instruction set has a fused multiply-add.
template <class Arch>
[[gnu::always_inline]] inline xsimd::batch<float, Arch> fma(const xsimd::batch<float, Arch>& x,
                                                            const xsimd::batch<float, Arch>& y,
                                                            const xsimd::batch<float, Arch>& z) {
#if defined(__AVX512F__)
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) return _mm512_fmadd_ps(x, y, z);
#endif
  return xsimd::fma(x, y, z);
}

}  // namespace fusenet::kernels
