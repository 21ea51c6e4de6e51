// SPDX-License-Identifier: MIT
// Global average pooling of NHWC images (channels in the vector lanes), as nn.AdaptiveAvgPool2d(1).
#pragma once

// y[n][c] = (1 / (H·W)) · Σ_p x[n][p][c]. With the channels contiguous, each step adds one pixel's channel vector
// to the running sums, so no horizontal sum is needed. The NCHW case is scalar::global_avg_pool_forward (the twin).

#include <cstddef>
#include <xsimd/xsimd.hpp>

namespace fusenet::kernels {

/// y (n × C) = the mean over the H·W pixels of each of the n unbordered NHWC images of x (n × H·W × C).
/// Requires: y does not overlap x. Ensures: y overwritten.
template <std::size_t C, std::size_t Pixels, class Arch = xsimd::default_arch>
void global_avg_pool_nhwc(const float* x, float* y, std::size_t n) {
  using vec = xsimd::batch<float, Arch>;
  constexpr std::size_t v = vec::size, full = C / v * v;
  constexpr float scale = 1.0f / static_cast<float>(Pixels);
  for (std::size_t i = 0; i < n; ++i) {
    const float* xi = x + i * Pixels * C;
    float* yi = y + i * C;
    for (std::size_t c = 0; c < full; c += v) {
      vec s(0.0f);
      for (std::size_t p = 0; p < Pixels; ++p) s += vec::load_unaligned(xi + p * C + c);
      (s * vec(scale)).store_unaligned(yi + c);
    }
    for (std::size_t c = full; c < C; ++c) {
      float s = 0.0f;
      for (std::size_t p = 0; p < Pixels; ++p) s += xi[p * C + c];
      yi[c] = s * scale;
    }
  }
}

}  // namespace fusenet::kernels
