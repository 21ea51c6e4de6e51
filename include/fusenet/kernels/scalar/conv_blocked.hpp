// SPDX-License-Identifier: MIT
// Scalar twin of kernels/conv_blocked.hpp: the same fused conv + bias + activation + pool as plain loops on NCHW.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <type_traits>

#include "fusenet/kernels/conv_blocked.hpp"
#include "fusenet/kernels/scalar/activations.hpp"

namespace fusenet::kernels::scalar {

/// Plain-loop conv K×K (stride 1, zero padding Pad) + bias + activation + optional 2×2 pool on PyTorch layouts.
/// Requires: `in` is NCHW [batch][Cin][H][W], `w` is [Cout][Cin][K][K], `bias` has Cout floats, `out` holds
/// batch·Cout·Ho·Wo floats with Ho = (H + 2Pad − K + 1) / PoolWindow (floor, likewise Wo).
/// Ensures: `out` is NCHW, the value nn.Conv2d(padding=Pad) → [nn.ReLU] → [nn.MaxPool2d(2) | nn.AvgPool2d(2)]
/// computes, up to float summation order; a NaN stays NaN through the ReLU and the max pool, as in PyTorch.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Pad,
          std::size_t PoolWindow, class Pool, class Act, std::size_t Stride = 1>
inline void conv_bias_relu_pool(const float* in, const float* w, const float* bias, float* out, std::size_t batch) {
  static_assert(PoolWindow == 1 || PoolWindow == 2, "fusenet: conv kernel: the pool window must be 1 or 2");
  constexpr std::size_t hout = (H + 2 * Pad - K) / Stride + 1, wout = (W + 2 * Pad - K) / Stride + 1;
  constexpr std::size_t ho = hout / PoolWindow, wo = wout / PoolWindow;
  // conv value at (n, o, y, x) with zero padding, then the activation
  auto conv_at = [&](std::size_t n, std::size_t o, std::size_t oy, std::size_t ox) {
    const std::size_t y = oy * Stride, x = ox * Stride;  // the window's top-left tap, before the padding
    float s = bias[o];
    for (std::size_t i = 0; i < Cin; ++i)
      for (std::size_t ky = 0; ky < K; ++ky)
        for (std::size_t kx = 0; kx < K; ++kx) {
          // input row y + ky − Pad, written without going negative
          if (y + ky < Pad || x + kx < Pad || y + ky - Pad >= H || x + kx - Pad >= W) continue;
          s += w[((o * Cin + i) * K + ky) * K + kx] * in[((n * Cin + i) * H + y + ky - Pad) * W + x + kx - Pad];
        }
    if constexpr (std::is_same_v<Act, act_relu>) s = relu(s);
    return s;
  };
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t o = 0; o < Cout; ++o)
      for (std::size_t y = 0; y < ho; ++y)
        for (std::size_t x = 0; x < wo; ++x) {
          float r;
          if constexpr (PoolWindow == 1) {
            r = conv_at(n, o, y, x);
          } else if constexpr (std::is_same_v<Pool, pool_max>) {
            // the window in row-major order with max_pool2d_forward's rule (`v > best || isnan(v)`)
            r = conv_at(n, o, 2 * y, 2 * x);
            for (const float v : {conv_at(n, o, 2 * y, 2 * x + 1), conv_at(n, o, 2 * y + 1, 2 * x),
                                  conv_at(n, o, 2 * y + 1, 2 * x + 1)})
              if (v > r || v != v) r = v;
          } else {
            r = (conv_at(n, o, 2 * y, 2 * x) + conv_at(n, o, 2 * y, 2 * x + 1) + conv_at(n, o, 2 * y + 1, 2 * x) +
                 conv_at(n, o, 2 * y + 1, 2 * x + 1)) /
                4.0f;
          }
          out[((n * Cout + o) * ho + y) * wo + x] = r;
        }
}

}  // namespace fusenet::kernels::scalar
