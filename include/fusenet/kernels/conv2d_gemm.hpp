// SPDX-License-Identifier: MIT
// Training-path 2-d convolution (NCHW, float) as im2col + blocked GEMM, forward and backward.
#pragma once

#include <fusenet/kernels/gemm.hpp>
#include <fusenet/kernels/im2col.hpp>
#include <fusenet/kernels/scalar/conv2d.hpp>

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstddef>
#include <vector>

namespace fusenet::kernels {

/// Runtime sizes of one nn.Conv2d call, shared with the scalar twin so both take the same arguments.
using scalar::conv2d_geometry;

namespace detail {

/// The sliding windows of one image and one channel group of g.
inline im2col_geometry conv2d_windows(const conv2d_geometry& g) {
  return {g.in_channels / g.groups, g.in_h, g.in_w, g.kernel, g.stride, g.padding,
          g.dilation, g.out_h(),    g.out_w()};
}

/// True when im2col would copy the input unchanged (1×1 kernel, stride 1, no padding), so the
/// image itself is the GEMM operand and no workspace is needed.
inline bool conv2d_is_pointwise(const conv2d_geometry& g) {
  return g.kernel == 1 && g.stride == 1 && g.padding == 0;
}

}  // namespace detail

/// y = conv2d(x, w) + bias, as torch.nn.functional.conv2d, computed per image and group as
/// y_g (Cout/G × Ho·Wo) = w_g (Cout/G × Cin/G·K²) · im2col(x_g) (Cin/G·K² × Ho·Wo).
/// Requires: x is N×Cin×H×W, w is Cout×(Cin/groups)×K×K, bias is Cout or nullptr, y is N×Cout×Ho×Wo.
/// Ensures: y overwritten; workspace grown to Cin/G·K²·Ho·Wo floats if smaller, never shrunk.
template <class Arch = xsimd::default_arch>
void conv2d_forward(const conv2d_geometry& g, const float* x, const float* w, const float* bias,
                    float* y, std::vector<float>& workspace) {
  const auto win = detail::conv2d_windows(g);
  const std::size_t out_plane = win.out_h * win.out_w, in_plane = g.in_h * g.in_w;
  const std::size_t cout_g = g.out_channels / g.groups;
  const std::size_t rows = win.channels * g.kernel * g.kernel;  // GEMM depth
  const bool pointwise = detail::conv2d_is_pointwise(g);
  if (!pointwise && workspace.size() < rows * out_plane) workspace.resize(rows * out_plane);
  for (std::size_t n = 0; n < g.batch; ++n) {
    for (std::size_t grp = 0; grp < g.groups; ++grp) {
      const float* xg = x + (n * g.in_channels + grp * win.channels) * in_plane;
      float* yg = y + (n * g.out_channels + grp * cout_g) * out_plane;
      const float* col = xg;
      if (!pointwise) {
        im2col(win, xg, workspace.data());
        col = workspace.data();
      }
      gemm<Arch>(transpose::no, transpose::no, cout_g, out_plane, rows, 1.0f, w + grp * cout_g * rows,
                 rows, col, out_plane, 0.0f, yg, out_plane);
    }
    if (bias != nullptr) {
      for (std::size_t co = 0; co < g.out_channels; ++co) {
        float* yp = y + (n * g.out_channels + co) * out_plane;
        for (std::size_t i = 0; i < out_plane; ++i) yp[i] += bias[co];
      }
    }
  }
}

/// Gradients of conv2d_forward given dy, per image and group:
/// dw_g += dy_g · im2col(x_g)ᵀ, dx_g = col2im(w_gᵀ · dy_g), db += Σ over n, oy, ox of dy.
/// Requires: shapes as in conv2d_forward; dy is N×Cout×Ho×Wo.
/// Ensures: dx (N×Cin×H×W) overwritten unless nullptr; dw and db ACCUMULATED (+=) unless nullptr,
/// like PyTorch's .grad; workspace grown to 2·Cin/G·K²·Ho·Wo floats if smaller.
template <class Arch = xsimd::default_arch>
void conv2d_backward(const conv2d_geometry& g, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, std::vector<float>& workspace) {
  const auto win = detail::conv2d_windows(g);
  const std::size_t out_plane = win.out_h * win.out_w, in_plane = g.in_h * g.in_w;
  const std::size_t cout_g = g.out_channels / g.groups;
  const std::size_t rows = win.channels * g.kernel * g.kernel;
  const bool pointwise = detail::conv2d_is_pointwise(g);
  if (!pointwise && workspace.size() < 2 * rows * out_plane) workspace.resize(2 * rows * out_plane);
  float* const col = workspace.data();
  float* const dcol = workspace.data() + rows * out_plane;
  if (db != nullptr) {
    for (std::size_t co = 0; co < g.out_channels; ++co) {
      double sum = 0.0;  // N·Ho·Wo terms: a double sum keeps db as accurate as the scalar twin's
      for (std::size_t n = 0; n < g.batch; ++n) {
        const float* dyp = dy + (n * g.out_channels + co) * out_plane;
        for (std::size_t i = 0; i < out_plane; ++i) sum += static_cast<double>(dyp[i]);
      }
      db[co] += static_cast<float>(sum);
    }
  }
  for (std::size_t n = 0; n < g.batch; ++n) {
    for (std::size_t grp = 0; grp < g.groups; ++grp) {
      const float* xg = x + (n * g.in_channels + grp * win.channels) * in_plane;
      const float* dyg = dy + (n * g.out_channels + grp * cout_g) * out_plane;
      const float* wg = w + grp * cout_g * rows;
      if (dw != nullptr) {
        const float* cols = xg;
        if (!pointwise) {
          im2col(win, xg, col);
          cols = col;
        }
        gemm<Arch>(transpose::no, transpose::yes, cout_g, rows, out_plane, 1.0f, dyg, out_plane, cols,
                   out_plane, 1.0f, dw + grp * cout_g * rows, rows);
      }
      if (dx != nullptr) {
        float* dxg = dx + (n * g.in_channels + grp * win.channels) * in_plane;
        if (pointwise) {  // col2im is the identity: write wᵀ·dy straight into dx
          gemm<Arch>(transpose::yes, transpose::no, rows, out_plane, cout_g, 1.0f, wg, rows, dyg,
                     out_plane, 0.0f, dxg, out_plane);
        } else {
          gemm<Arch>(transpose::yes, transpose::no, rows, out_plane, cout_g, 1.0f, wg, rows, dyg,
                     out_plane, 0.0f, dcol, out_plane);
          std::fill(dxg, dxg + win.channels * in_plane, 0.0f);
          col2im(win, dcol, dxg);
        }
      }
    }
  }
}

}  // namespace fusenet::kernels
