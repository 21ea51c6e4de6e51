// SPDX-License-Identifier: MIT
// The register budget every register-tiled kernel checks its tile against.
#pragma once

#include <cstddef>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "fusenet/target.hpp"

namespace fusenet::kernels {

/// Number of vector registers the compiler may use for batches of Arch in this translation unit.
/// AVX-512 has 32; AVX2/SSE code also gets 32 when AVX-512VL is enabled (EVEX encoding), otherwise 16.
/// A tile whose accumulators + loaded vectors + 1 broadcast exceed it spills in the inner loop,
/// silently, at about half speed: kernels static_assert against this.
template <class Arch>
inline constexpr std::size_t vector_registers =
#if defined(__AVX512VL__)
    32;
#else
    std::is_base_of_v<xsimd::avx512f, Arch> ? 32 : 16;
#endif

/// Arch's vector width and register budget, as a plan's target.
template <class Arch = xsimd::default_arch>
inline constexpr target target_of{xsimd::batch<float, Arch>::size, vector_registers<Arch>};

static_assert(target_of<> == build_target,
              "fusenet: the plan's build_target (target.hpp) disagrees with xsimd's default architecture");

}  // namespace fusenet::kernels
