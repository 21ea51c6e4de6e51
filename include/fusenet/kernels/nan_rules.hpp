// SPDX-License-Identifier: MIT
// PyTorch's NaN rules for ReLU and max on SIMD vectors, shared by every kernel that applies them.
#pragma once

#include <xsimd/xsimd.hpp>

namespace fusenet::kernels::detail {

/// relu(a) with NaN kept, as torch.relu and scalar::relu. Not xsimd::max(a, 0): x86's max returns its second
/// operand when either is NaN, so that would turn NaN into 0.
template <class Vec>
[[gnu::always_inline]] inline Vec relu_keep_nan(const Vec& a) {
  const Vec zero(0.0f);
  return xsimd::select(a > zero || xsimd::isnan(a), a, zero);
}

/// max(a, b) with a NaN in either kept, PyTorch's max-pool rule (`v > best || isnan(v)`, as
/// scalar::max_pool2d_forward); xsimd::max would keep b's NaN but drop a's on x86.
template <class Vec>
[[gnu::always_inline]] inline Vec max_keep_nan(const Vec& a, const Vec& b) {
  return xsimd::select(b > a || xsimd::isnan(b), b, a);
}

/// max(a, b) on floats by the same rule (the scalar tails of the vector loops).
inline float max_keep_nan(float a, float b) { return (b > a || b != b) ? b : a; }

}  // namespace fusenet::kernels::detail
