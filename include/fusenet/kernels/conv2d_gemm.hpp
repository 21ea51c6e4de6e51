// SPDX-License-Identifier: MIT
// Training-path 2-d convolution (NCHW, float) as im2col + blocked GEMM, forward and backward.
#pragma once

#include <algorithm>
#include <cstddef>
#include <fusenet/kernels/batch_stats.hpp>
#include <fusenet/kernels/batch_sum.hpp>
#include <fusenet/kernels/gemm.hpp>
#include <fusenet/kernels/im2col.hpp>
#include <fusenet/kernels/scalar/conv2d.hpp>
#include <fusenet/kernels/threads.hpp>
#include <vector>
#include <xsimd/xsimd.hpp>


namespace fusenet::kernels {

/// Runtime sizes of one nn.Conv2d call, shared with the scalar twin so both take the same
/// arguments.
using scalar::conv2d_geometry;

namespace detail {

/// The sliding windows of one image and one channel group of g.
constexpr im2col_geometry conv2d_windows(const conv2d_geometry& g) {
  return {g.in_channels / g.groups,
          g.in_h,
          g.in_w,
          g.kernel,
          g.stride,
          g.padding,
          g.dilation,
          g.out_h(),
          g.out_w()};
}

/// True when im2col would copy the input unchanged (1×1 kernel, stride 1, no padding), so the
/// image itself is the GEMM operand and no im2col buffer is needed.
constexpr bool conv2d_is_pointwise(const conv2d_geometry& g) {
  return g.kernel == 1 && g.stride == 1 && g.padding == 0;
}

}  // namespace detail

/// Floats of workspace conv2d_forward needs per thread: the im2col matrix and the bordered image
/// (none for a pointwise conv, which reads the image itself).
template <class Arch = xsimd::default_arch>
constexpr std::size_t conv2d_forward_scratch(const conv2d_geometry& g) {
  if (detail::conv2d_is_pointwise(g)) return 0;
  const auto win = detail::conv2d_windows(g);
  return im2col_col_size<Arch>(win) + im2col_bordered_size<Arch>(win);
}

/// Images whose weight gradients are summed into one partial before the partials are added to dw
/// in the batch tree (batch_sum.hpp): a constant, so dw never depends on the thread count.
inline constexpr std::size_t conv2d_dw_chunk = batch_chunk;

/// y = conv2d(x, w) + bias, as torch.nn.functional.conv2d, computed per image and group as
/// y_g (Cout/G × Ho·Wo) = w_g (Cout/G × Cin/G·K²) · im2col(x_g) (Cin/G·K² × Ho·Wo).
/// With OpenMP, images are spread over threads (one fork per call, one im2col buffer per thread);
/// a single image leaves the threading to the GEMM.
/// With `moments` (BatchNorm training after this conv), each output plane's moments are taken right
/// after its image is computed, while it is still in cache: moments[n·Cout + c] (see batch_stats.hpp).
/// Requires: x is N×Cin×H×W, w is Cout×(Cin/groups)×K×K, bias is Cout or nullptr, y is
/// N×Cout×Ho×Wo, moments is N×Cout or nullptr. Ensures: y (and moments) overwritten, bit-identical
/// for any thread count; workspace grown to threads·Cin/G·K²·Ho·Wo floats if smaller, never shrunk.
template <class Arch = xsimd::default_arch>
void conv2d_forward(const conv2d_geometry& g, const float* x, const float* w, const float* bias,
                    float* y, std::vector<float>& workspace, plane_moments* moments = nullptr) {
  const auto win = detail::conv2d_windows(g);
  const std::size_t out_plane = win.out_h * win.out_w, in_plane = g.in_h * g.in_w;
  const std::size_t cout_g = g.out_channels / g.groups;
  const std::size_t rows = win.channels * g.kernel * g.kernel;  // GEMM depth
  const bool pointwise = detail::conv2d_is_pointwise(g);
  const std::size_t threads = detail::team_threads(g.batch);
  const std::size_t col_size = im2col_col_size<Arch>(win);
  const std::size_t per_thread = conv2d_forward_scratch<Arch>(g);
  if (workspace.size() < threads * per_thread) workspace.resize(threads * per_thread);
  float* const scratch = workspace.data();
  auto image = [&](std::size_t n) {
    float* const col_buffer = scratch + detail::thread_rank() * per_thread;
    for (std::size_t grp = 0; grp < g.groups; ++grp) {
      const float* xg = x + (n * g.in_channels + grp * win.channels) * in_plane;
      float* yg = y + (n * g.out_channels + grp * cout_g) * out_plane;
      const float* col = xg;
      if (!pointwise) {
        im2col_bordered<Arch>(win, xg, col_buffer + col_size, col_buffer);
        col = col_buffer;
      }
      gemm<Arch>(transpose::no, transpose::no, cout_g, out_plane, rows, 1.0f,
                 w + grp * cout_g * rows, rows, col, out_plane, 0.0f, yg, out_plane);
    }
    if (bias != nullptr) {
      for (std::size_t co = 0; co < g.out_channels; ++co) {
        float* yp = y + (n * g.out_channels + co) * out_plane;
        for (std::size_t i = 0; i < out_plane; ++i) yp[i] += bias[co];
      }
    }
    if (moments != nullptr) {
      for (std::size_t co = 0; co < g.out_channels; ++co) {
        moments[n * g.out_channels + co] =
            moments_of_plane<Arch>(y + (n * g.out_channels + co) * out_plane, out_plane);
      }
    }
  };
  // One image per thread when there are enough images. Otherwise no team at all: an inactive one-thread region
  // would make the GEMM's own team a nested one, which libgomp creates afresh, thread by thread, on every call.
  if (threads <= 1) {
    for (std::size_t n = 0; n < g.batch; ++n) image(n);
    return;
  }
  [[maybe_unused]] const int team_size = static_cast<int>(threads);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(team_size)
#endif
  for (std::size_t n = 0; n < g.batch; ++n) image(n);
}

/// Gradients of conv2d_forward given dy, per image and group:
/// dw_g += dy_g · im2col(x_g)ᵀ, dx_g = col2im(w_gᵀ · dy_g), db += Σ over n, oy, ox of dy.
/// dw is summed per chunk of conv2d_dw_chunk images into a partial, and the partials are added to
/// dw in the batch tree, so chunks run on separate OpenMP threads without changing the result.
/// Requires: shapes as in conv2d_forward; dy is N×Cout×Ho×Wo.
/// Ensures: dx (N×Cin×H×W) overwritten unless nullptr; dw and db ACCUMULATED (+=) unless nullptr,
/// like PyTorch's .grad; results bit-identical for any thread count; workspace grown to
/// chunks·|dw| + threads·(2·im2col_col_size + im2col_bordered_size) floats if smaller.
template <class Arch = xsimd::default_arch>
void conv2d_backward(const conv2d_geometry& g, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, std::vector<float>& workspace) {
  const auto win = detail::conv2d_windows(g);
  const std::size_t out_plane = win.out_h * win.out_w, in_plane = g.in_h * g.in_w;
  const std::size_t cout_g = g.out_channels / g.groups;
  const std::size_t rows = win.channels * g.kernel * g.kernel;
  const std::size_t dw_size = g.out_channels * rows;
  const bool pointwise = detail::conv2d_is_pointwise(g);
  const std::size_t chunks = (g.batch + conv2d_dw_chunk - 1) / conv2d_dw_chunk;
  const std::size_t threads = detail::team_threads(chunks);
  const std::size_t partials = dw != nullptr ? chunks * dw_size : 0;
  const std::size_t col_size = im2col_col_size<Arch>(win);
  // col, dcol and the bordered image
  const std::size_t per_thread = pointwise ? 0 : 2 * col_size + im2col_bordered_size<Arch>(win);
  if (workspace.size() < partials + threads * per_thread) {
    workspace.resize(partials + threads * per_thread);
  }
  float* const partial_dw = workspace.data();
  float* const scratch = workspace.data() + partials;
  if (db != nullptr) {
    for (std::size_t co = 0; co < g.out_channels; ++co) {
      batch_sum sum;  // each image's plane in double, the images in the batch tree
      for (std::size_t n = 0; n < g.batch; ++n) {
        const float* dyp = dy + (n * g.out_channels + co) * out_plane;
        double plane = 0.0;
        for (std::size_t i = 0; i < out_plane; ++i) plane += static_cast<double>(dyp[i]);
        sum.add(plane);
      }
      db[co] += sum.total();
    }
  }
  auto chunk = [&](std::size_t c) {
    float* const col = scratch + detail::thread_rank() * per_thread;
    float* const dcol = col + col_size;
    float* const bordered = dcol + col_size;
    const std::size_t first = c * conv2d_dw_chunk,
                      last = std::min(g.batch, first + conv2d_dw_chunk);
    for (std::size_t n = first; n < last; ++n) {
      for (std::size_t grp = 0; grp < g.groups; ++grp) {
        const float* xg = x + (n * g.in_channels + grp * win.channels) * in_plane;
        const float* dyg = dy + (n * g.out_channels + grp * cout_g) * out_plane;
        const float* wg = w + grp * cout_g * rows;
        if (dw != nullptr) {
          const float* cols = xg;
          if (!pointwise) {
            im2col_bordered<Arch>(win, xg, bordered, col);
            cols = col;
          }
          gemm<Arch>(transpose::no, transpose::yes, cout_g, rows, out_plane, 1.0f, dyg, out_plane,
                     cols, out_plane, n == first ? 0.0f : 1.0f,
                     partial_dw + c * dw_size + grp * cout_g * rows, rows);
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
  };
  // No team for one chunk: the GEMMs inside then run their own team rather than a nested one (see the forward).
  if (threads <= 1) {
    for (std::size_t c = 0; c < chunks; ++c) chunk(c);
  } else {
    [[maybe_unused]] const int team_size = static_cast<int>(threads);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(team_size)
#endif
    for (std::size_t c = 0; c < chunks; ++c) chunk(c);
  }
  if (dw != nullptr && chunks > 0) {
    add_pairwise(partial_dw, chunks, dw_size, dw_size);
    for (std::size_t i = 0; i < dw_size; ++i) dw[i] += partial_dw[i];
  }
}

}  // namespace fusenet::kernels
