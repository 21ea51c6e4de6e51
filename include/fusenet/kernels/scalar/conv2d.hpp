// SPDX-License-Identifier: MIT
// Plain reference loops for 2-d convolution (NCHW, runtime sizes): the oracle faster kernels are tested against.
#pragma once

#include <algorithm>
#include <cstddef>

#include <fusenet/kernels/scalar/support.hpp>

namespace fusenet::kernels::scalar {

/// Runtime sizes of one nn.Conv2d call: square kernel, same stride/padding/dilation on both axes.
///
/// Requires: in_channels and out_channels divisible by groups; out_h() and out_w() at least 1.
struct conv2d_geometry {
  std::size_t batch;         ///< N
  std::size_t in_channels;   ///< Cin
  std::size_t in_h;          ///< H
  std::size_t in_w;          ///< W
  std::size_t out_channels;  ///< Cout
  std::size_t kernel;        ///< K (kernel is K×K)
  std::size_t stride;        ///< stride on both axes
  std::size_t padding;       ///< zero padding on every side
  std::size_t dilation;      ///< spacing between kernel taps
  std::size_t groups;        ///< channel groups (Cin/groups inputs feed Cout/groups outputs)

  /// Output height, PyTorch's formula: (H + 2*padding - dilation*(K-1) - 1) / stride + 1.
  constexpr std::size_t out_h() const {
    return (in_h + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
  }
  /// Output width, same formula as out_h().
  constexpr std::size_t out_w() const {
    return (in_w + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
  }
};

/// y = conv2d(x, w) + bias, as torch.nn.functional.conv2d (cross-correlation, zero padding).
///
/// Requires: x is N×Cin×H×W, w is Cout×(Cin/groups)×K×K, bias is Cout or nullptr, y is N×Cout×Ho×Wo.
/// Ensures: y is overwritten.
template <class T>
void conv2d_forward(const conv2d_geometry& g, const T* x, const T* w, const T* bias, T* y) {
  const std::size_t ho = g.out_h(), wo = g.out_w();
  const std::size_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const std::size_t in_plane = g.in_h * g.in_w, out_plane = ho * wo;
  for (std::size_t n = 0; n < g.batch; ++n) {
    for (std::size_t co = 0; co < g.out_channels; ++co) {
      T* yp = y + (n * g.out_channels + co) * out_plane;
      std::fill(yp, yp + out_plane, bias ? bias[co] : T(0));
      const std::size_t ci0 = (co / cout_g) * cin_g;  // first input channel of this group
      for (std::size_t cl = 0; cl < cin_g; ++cl) {
        const T* xp = x + (n * g.in_channels + ci0 + cl) * in_plane;
        const T* wk = w + (co * cin_g + cl) * g.kernel * g.kernel;
        for (std::size_t ky = 0; ky < g.kernel; ++ky) {
          const auto rows = detail::valid_outputs(ho, g.in_h, g.stride, g.padding, ky * g.dilation);
          for (std::size_t kx = 0; kx < g.kernel; ++kx) {
            const auto cols = detail::valid_outputs(wo, g.in_w, g.stride, g.padding, kx * g.dilation);
            const T wv = wk[ky * g.kernel + kx];
            // Taps that fall on the zero padding contribute nothing, so only valid rows/cols are visited.
            for (std::size_t oy = rows.begin; oy < rows.end; ++oy) {
              const T* xr = xp + detail::input_index(oy, g.stride, g.padding, ky * g.dilation) * g.in_w;
              T* yr = yp + oy * wo;
              for (std::size_t ox = cols.begin; ox < cols.end; ++ox) {
                yr[ox] += wv * xr[detail::input_index(ox, g.stride, g.padding, kx * g.dilation)];
              }
            }
          }
        }
      }
    }
  }
}

/// Gradients of conv2d_forward given dy = dL/dy.
///
/// dx = sum over taps of w * dy scattered back to the input position (the transposed convolution);
/// dw[co][ci][ky][kx] = sum over n, oy, ox of dy * x at the tap; db[co] = sum of dy over n, oy, ox.
/// Requires: shapes as in conv2d_forward; dy is N×Cout×Ho×Wo.
/// Ensures: dx (N×Cin×H×W) is overwritten unless nullptr; dw and db (nullptr skips) are ACCUMULATED (+=),
/// like PyTorch's .grad.
template <class T>
void conv2d_backward(const conv2d_geometry& g, const T* x, const T* w, const T* dy, T* dx, T* dw,
                     T* db) {
  using acc_t = detail::accumulator_t<T>;
  const std::size_t ho = g.out_h(), wo = g.out_w();
  const std::size_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const std::size_t in_plane = g.in_h * g.in_w, out_plane = ho * wo;
  if (dx) std::fill(dx, dx + g.batch * g.in_channels * in_plane, T(0));
  if (db) {
    for (std::size_t co = 0; co < g.out_channels; ++co) {
      acc_t s = 0;
      for (std::size_t n = 0; n < g.batch; ++n) {
        const T* dyp = dy + (n * g.out_channels + co) * out_plane;
        for (std::size_t i = 0; i < out_plane; ++i) s += dyp[i];
      }
      db[co] += static_cast<T>(s);
    }
  }
  for (std::size_t co = 0; co < g.out_channels; ++co) {
    const std::size_t ci0 = (co / cout_g) * cin_g;
    for (std::size_t cl = 0; cl < cin_g; ++cl) {
      const T* wk = w + (co * cin_g + cl) * g.kernel * g.kernel;
      T* dwk = dw ? dw + (co * cin_g + cl) * g.kernel * g.kernel : nullptr;
      for (std::size_t ky = 0; ky < g.kernel; ++ky) {
        const auto rows = detail::valid_outputs(ho, g.in_h, g.stride, g.padding, ky * g.dilation);
        for (std::size_t kx = 0; kx < g.kernel; ++kx) {
          const auto cols = detail::valid_outputs(wo, g.in_w, g.stride, g.padding, kx * g.dilation);
          const T wv = wk[ky * g.kernel + kx];
          acc_t s = 0;
          for (std::size_t n = 0; n < g.batch; ++n) {
            const std::size_t xoff = (n * g.in_channels + ci0 + cl) * in_plane;
            const T* dyp = dy + (n * g.out_channels + co) * out_plane;
            for (std::size_t oy = rows.begin; oy < rows.end; ++oy) {
              const std::size_t row = detail::input_index(oy, g.stride, g.padding, ky * g.dilation) * g.in_w;
              const T* xr = x + xoff + row;
              const T* dyr = dyp + oy * wo;
              T* dxr = dx ? dx + xoff + row : nullptr;
              for (std::size_t ox = cols.begin; ox < cols.end; ++ox) {
                const std::size_t ix = detail::input_index(ox, g.stride, g.padding, kx * g.dilation);
                s += static_cast<acc_t>(dyr[ox]) * static_cast<acc_t>(xr[ix]);
                if (dxr) dxr[ix] += wv * dyr[ox];
              }
            }
          }
          if (dwk) dwk[ky * g.kernel + kx] += static_cast<T>(s);
        }
      }
    }
  }
}

}  // namespace fusenet::kernels::scalar
