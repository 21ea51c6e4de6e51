// SPDX-License-Identifier: MIT
// Max and average pooling (any window, stride and padding) of NHWC images, channels in the vector lanes.
#pragma once

// As nn.MaxPool2d / nn.AvgPool2d in floor mode (the twins are scalar::max_pool2d_forward / avg_pool2d_forward):
//   y[oy][ox][c] = max (or mean) of x[iy][ix][c] over the window rows oy·S − P … oy·S − P + K − 1 (likewise ix),
//   clipped to the real input; padding never wins a max (it counts as −inf) and counts as zeros in the mean
//   (count_include_pad=True: the divisor is the window clipped to the padded input).
// A NaN in a window wins the max, as PyTorch's `v > best || isnan(v)`. The input is unbordered NHWC; the output is
// written inside a zero border of OutBorder pixels, ready for a convolution.

#include <algorithm>
#include <cstddef>
#include <limits>
#include <xsimd/xsimd.hpp>

#include "fusenet/kernels/nan_rules.hpp"

namespace fusenet::kernels {

/// Pool tag for pool_nhwc: the window's maximum.
struct window_max {};
/// Pool tag for pool_nhwc: the window's mean, padding counted as zeros.
struct window_mean {};

/// Pools n NHWC images of C×H×W with a K×K window, stride Stride and padding Pad (Pool: window_max or window_mean).
/// Requires: x is n unbordered NHWC images; y holds n · (Ho + 2·OutBorder)·(Wo + 2·OutBorder)·C floats with
/// Ho = (H + 2·Pad − K) / Stride + 1 (likewise Wo); Pad ≤ K / 2. Ensures: y written, border included.
template <class Pool, std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride, std::size_t Pad,
          std::size_t OutBorder, class Arch = xsimd::default_arch>
void pool_nhwc(const float* x, float* y, std::size_t n) {
  using vec = xsimd::batch<float, Arch>;
  constexpr std::size_t v = vec::size, full = C / v * v;
  constexpr std::size_t ho = (H + 2 * Pad - K) / Stride + 1, wo = (W + 2 * Pad - K) / Stride + 1;
  constexpr std::size_t out_w = wo + 2 * OutBorder, out_image = (ho + 2 * OutBorder) * out_w * C;
  constexpr bool max = std::is_same_v<Pool, window_max>;
  static_assert(max || std::is_same_v<Pool, window_mean>, "fusenet: pool_nhwc: Pool is window_max or window_mean");
  static_assert(2 * Pad <= K, "fusenet: pool_nhwc: padding must be at most half the window");
  const auto items = static_cast<std::ptrdiff_t>(n * ho);
  [[maybe_unused]] const bool parallel = n * ho * wo * C * K * K >= (std::size_t{1} << 16);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (std::ptrdiff_t item = 0; item < items; ++item) {
    const std::size_t i = static_cast<std::size_t>(item) / ho, oy = static_cast<std::size_t>(item) % ho;
    const float* xi = x + i * H * W * C;
    float* yi = y + i * out_image;
    if (oy == 0 && OutBorder > 0) {  // the image's border, once per image
      std::fill(yi, yi + OutBorder * out_w * C, 0.0f);
      std::fill(yi + (OutBorder + ho) * out_w * C, yi + out_image, 0.0f);
    }
    float* row = yi + (OutBorder + oy) * out_w * C;
    std::fill(row, row + OutBorder * C, 0.0f);
    std::fill(row + (OutBorder + wo) * C, row + out_w * C, 0.0f);
    const std::size_t y0 = oy * Stride > Pad ? oy * Stride - Pad : 0, y1 = std::min(oy * Stride + K - Pad, H);
    for (std::size_t ox = 0; ox < wo; ++ox) {
      const std::size_t x0 = ox * Stride > Pad ? ox * Stride - Pad : 0, x1 = std::min(ox * Stride + K - Pad, W);
      // count_include_pad: the window clipped to the padded input
      const std::size_t divisor = (std::min(oy * Stride + K, H + 2 * Pad) - oy * Stride) *
                                  (std::min(ox * Stride + K, W + 2 * Pad) - ox * Stride);
      float* out = row + (OutBorder + ox) * C;
      for (std::size_t c = 0; c < full; c += v) {
        vec acc(max ? -std::numeric_limits<float>::infinity() : 0.0f);
        for (std::size_t iy = y0; iy < y1; ++iy)
          for (std::size_t ix = x0; ix < x1; ++ix) {
            const vec val = vec::load_unaligned(xi + (iy * W + ix) * C + c);
            if constexpr (max) acc = detail::max_keep_nan(acc, val);
            else acc += val;
          }
        if constexpr (!max) acc = acc / vec(static_cast<float>(divisor));
        acc.store_unaligned(out + c);
      }
      for (std::size_t c = full; c < C; ++c) {
        float acc = max ? -std::numeric_limits<float>::infinity() : 0.0f;
        for (std::size_t iy = y0; iy < y1; ++iy)
          for (std::size_t ix = x0; ix < x1; ++ix) {
            const float val = xi[(iy * W + ix) * C + c];
            if constexpr (max) acc = detail::max_keep_nan(acc, val);
            else acc += val;
          }
        if constexpr (!max) acc /= static_cast<float>(divisor);
        out[c] = acc;
      }
    }
  }
}

}  // namespace fusenet::kernels
