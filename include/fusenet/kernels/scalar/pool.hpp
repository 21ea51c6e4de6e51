// SPDX-License-Identifier: MIT
// Plain reference loops for 2-d max, average and global average pooling (NCHW), forward and backward.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include <fusenet/kernels/scalar/support.hpp>

namespace fusenet::kernels::scalar {

/// Runtime sizes of one nn.MaxPool2d / nn.AvgPool2d call: square window, floor mode.
///
/// Requires: padding <= kernel / 2 (PyTorch's rule, so every window holds at least one real cell).
struct pool2d_geometry {
  std::size_t batch;     ///< N
  std::size_t channels;  ///< C
  std::size_t in_h;      ///< H
  std::size_t in_w;      ///< W
  std::size_t kernel;    ///< window size K (K×K)
  std::size_t stride;    ///< window step on both axes
  std::size_t padding;   ///< implicit padding on every side

  /// Output height, PyTorch's floor-mode formula: (H + 2*padding - K) / stride + 1.
  constexpr std::size_t out_h() const { return (in_h + 2 * padding - kernel) / stride + 1; }
  /// Output width, same formula as out_h().
  constexpr std::size_t out_w() const { return (in_w + 2 * padding - kernel) / stride + 1; }
};

/// y = maximum over each window; padding cells count as -inf, so they are never chosen.
///
/// Ties keep the first maximum in row-major scan order and a NaN wins, as PyTorch's CPU kernel
/// (`val > max || isnan(val)`). Ensures: y and argmax (N*C*Ho*Wo each) overwritten; argmax holds the index
/// h*W + w of the chosen cell within its input plane.
template <class T>
void max_pool2d_forward(const pool2d_geometry& g, const T* x, T* y, std::uint32_t* argmax) {
  const std::size_t ho = g.out_h(), wo = g.out_w(), in_plane = g.in_h * g.in_w;
  for (std::size_t p = 0; p < g.batch * g.channels; ++p) {
    const T* xp = x + p * in_plane;
    for (std::size_t oy = 0; oy < ho; ++oy) {
      // Clamp the window [oy*stride - padding, + kernel) to the real rows.
      const std::size_t y0 = oy * g.stride > g.padding ? oy * g.stride - g.padding : 0;
      const std::size_t y1 = std::min(oy * g.stride + g.kernel - g.padding, g.in_h);
      for (std::size_t ox = 0; ox < wo; ++ox) {
        const std::size_t x0 = ox * g.stride > g.padding ? ox * g.stride - g.padding : 0;
        const std::size_t x1 = std::min(ox * g.stride + g.kernel - g.padding, g.in_w);
        T best = -std::numeric_limits<T>::infinity();
        std::size_t best_i = y0 * g.in_w + x0;
        for (std::size_t iy = y0; iy < y1; ++iy) {
          for (std::size_t ix = x0; ix < x1; ++ix) {
            const T v = xp[iy * g.in_w + ix];
            if (v > best || std::isnan(v)) {
              best = v;
              best_i = iy * g.in_w + ix;
            }
          }
        }
        y[p * ho * wo + oy * wo + ox] = best;
        argmax[p * ho * wo + oy * wo + ox] = static_cast<std::uint32_t>(best_i);
      }
    }
  }
}

/// dx = dy scattered to the cells chosen by max_pool2d_forward (summed where windows overlap).
///
/// Ensures: dx (N×C×H×W) overwritten: zeroed, then scattered.
template <class T>
void max_pool2d_backward(const pool2d_geometry& g, const T* dy, const std::uint32_t* argmax, T* dx) {
  const std::size_t out_plane = g.out_h() * g.out_w(), in_plane = g.in_h * g.in_w;
  std::fill(dx, dx + g.batch * g.channels * in_plane, T(0));
  for (std::size_t p = 0; p < g.batch * g.channels; ++p) {
    for (std::size_t o = 0; o < out_plane; ++o) {
      dx[p * in_plane + argmax[p * out_plane + o]] += dy[p * out_plane + o];
    }
  }
}

namespace detail {
/// PyTorch's count_include_pad=True divisor: the window clipped to the PADDED input, so padding counts.
constexpr std::size_t avg_pool_divisor(const pool2d_geometry& g, std::size_t oy, std::size_t ox) {
  const std::size_t hs = oy * g.stride, ws = ox * g.stride;  // window start in padded coordinates
  const std::size_t he = std::min(hs + g.kernel, g.in_h + 2 * g.padding);
  const std::size_t we = std::min(ws + g.kernel, g.in_w + 2 * g.padding);
  return (he - hs) * (we - ws);
}
}  // namespace detail

/// y = mean over each window, padding cells counted as zeros (nn.AvgPool2d, count_include_pad=True).
///
/// Ensures: y (N×C×Ho×Wo) overwritten.
template <class T>
void avg_pool2d_forward(const pool2d_geometry& g, const T* x, T* y) {
  const std::size_t ho = g.out_h(), wo = g.out_w(), in_plane = g.in_h * g.in_w;
  for (std::size_t p = 0; p < g.batch * g.channels; ++p) {
    const T* xp = x + p * in_plane;
    for (std::size_t oy = 0; oy < ho; ++oy) {
      const std::size_t y0 = oy * g.stride > g.padding ? oy * g.stride - g.padding : 0;
      const std::size_t y1 = std::min(oy * g.stride + g.kernel - g.padding, g.in_h);
      for (std::size_t ox = 0; ox < wo; ++ox) {
        const std::size_t x0 = ox * g.stride > g.padding ? ox * g.stride - g.padding : 0;
        const std::size_t x1 = std::min(ox * g.stride + g.kernel - g.padding, g.in_w);
        T s = 0;
        for (std::size_t iy = y0; iy < y1; ++iy) {
          for (std::size_t ix = x0; ix < x1; ++ix) s += xp[iy * g.in_w + ix];
        }
        y[p * ho * wo + oy * wo + ox] = s / static_cast<T>(detail::avg_pool_divisor(g, oy, ox));
      }
    }
  }
}

/// dx[cell] = Σ over windows covering the cell of dy / divisor. Ensures: dx (N×C×H×W) overwritten.
template <class T>
void avg_pool2d_backward(const pool2d_geometry& g, const T* dy, T* dx) {
  const std::size_t ho = g.out_h(), wo = g.out_w(), in_plane = g.in_h * g.in_w;
  std::fill(dx, dx + g.batch * g.channels * in_plane, T(0));
  for (std::size_t p = 0; p < g.batch * g.channels; ++p) {
    T* dxp = dx + p * in_plane;
    for (std::size_t oy = 0; oy < ho; ++oy) {
      const std::size_t y0 = oy * g.stride > g.padding ? oy * g.stride - g.padding : 0;
      const std::size_t y1 = std::min(oy * g.stride + g.kernel - g.padding, g.in_h);
      for (std::size_t ox = 0; ox < wo; ++ox) {
        const std::size_t x0 = ox * g.stride > g.padding ? ox * g.stride - g.padding : 0;
        const std::size_t x1 = std::min(ox * g.stride + g.kernel - g.padding, g.in_w);
        const T d = dy[p * ho * wo + oy * wo + ox] / static_cast<T>(detail::avg_pool_divisor(g, oy, ox));
        for (std::size_t iy = y0; iy < y1; ++iy) {
          for (std::size_t ix = x0; ix < x1; ++ix) dxp[iy * g.in_w + ix] += d;
        }
      }
    }
  }
}

/// y[n][c] = mean of x[n][c][·] over `spatial` cells (nn.AdaptiveAvgPool2d(1), then flattened to N×C).
template <class T>
void global_avg_pool_forward(std::size_t batch, std::size_t channels, std::size_t spatial, const T* x, T* y) {
  using acc_t = detail::accumulator_t<T>;
  for (std::size_t p = 0; p < batch * channels; ++p) {
    acc_t s = 0;
    for (std::size_t i = 0; i < spatial; ++i) s += x[p * spatial + i];
    y[p] = static_cast<T>(s / static_cast<acc_t>(spatial));
  }
}

/// dx[n][c][·] = dy[n][c] / spatial. Ensures: dx (N×C×spatial) overwritten.
template <class T>
void global_avg_pool_backward(std::size_t batch, std::size_t channels, std::size_t spatial, const T* dy, T* dx) {
  for (std::size_t p = 0; p < batch * channels; ++p) {
    const T d = dy[p] / static_cast<T>(spatial);
    for (std::size_t i = 0; i < spatial; ++i) dx[p * spatial + i] = d;
  }
}

}  // namespace fusenet::kernels::scalar
