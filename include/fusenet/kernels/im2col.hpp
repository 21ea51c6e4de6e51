// SPDX-License-Identifier: MIT
// im2col / col2im: unfold convolution windows into a matrix so a convolution becomes one GEMM.
#pragma once

#include <algorithm>
#include <cstddef>
#include <xsimd/xsimd.hpp>

namespace fusenet::kernels {

/// Sizes of one image's sliding windows: square kernel, same stride/padding/dilation on both axes.
struct im2col_geometry {
  std::size_t channels;  ///< input channels unfolded (one group's Cin/groups)
  std::size_t in_h;      ///< input height
  std::size_t in_w;      ///< input width
  std::size_t kernel;    ///< K (kernel is K×K)
  std::size_t stride;    ///< stride on both axes
  std::size_t padding;   ///< zero padding on every side
  std::size_t dilation;  ///< spacing between kernel taps
  std::size_t out_h;     ///< output height
  std::size_t out_w;     ///< output width
};

namespace detail {

/// First and one-past-last output position o in [0, out) whose input o*stride - padding + offset
/// lies in [0, in): begin = ceil((padding - offset) / stride), end =
/// floor((in-1+padding-offset)/stride)+1.
struct window_range {
  std::size_t begin;  ///< first output position reading inside the input
  std::size_t end;    ///< one past the last such position (begin == end: none)
};

/// The window_range of one kernel tap at offset `offset` (= tap index × dilation).
constexpr window_range valid_window(std::size_t out, std::size_t in, std::size_t stride,
                                    std::size_t padding, std::size_t offset) {
  const std::ptrdiff_t lead =
      static_cast<std::ptrdiff_t>(padding) - static_cast<std::ptrdiff_t>(offset);
  const auto s = static_cast<std::ptrdiff_t>(stride);
  const std::ptrdiff_t begin = lead > 0 ? (lead + s - 1) / s : 0;
  const std::ptrdiff_t last =
      static_cast<std::ptrdiff_t>(in) - 1 + lead;  // largest o*stride allowed
  const std::ptrdiff_t end =
      last < 0 ? 0 : std::min(static_cast<std::ptrdiff_t>(out), last / s + 1);
  if (end <= begin) return {0, 0};
  return {static_cast<std::size_t>(begin), static_cast<std::size_t>(end)};
}

}  // namespace detail

/// Unfolds one image into col, a (channels·K·K) × (out_h·out_w) row-major matrix:
/// col[(c·K + ky)·K + kx][oy·out_w + ox] = x[c][oy·stride − padding + ky·dilation][ox·stride −
/// padding + kx·dilation], 0 where the tap falls on the padding. Rows follow PyTorch's weight
/// layout Cout × Cin × K × K, so y = w · col is the convolution. Requires: x is channels × in_h ×
/// in_w (one image, one group), col holds channels·K²·out_h·out_w floats.
inline void im2col(const im2col_geometry& g, const float* x, float* col) {
  const std::size_t out_plane = g.out_h * g.out_w;
  for (std::size_t c = 0; c < g.channels; ++c) {
    const float* xc = x + c * g.in_h * g.in_w;
    for (std::size_t ky = 0; ky < g.kernel; ++ky) {
      const auto rows = detail::valid_window(g.out_h, g.in_h, g.stride, g.padding, ky * g.dilation);
      for (std::size_t kx = 0; kx < g.kernel; ++kx) {
        const auto cols =
            detail::valid_window(g.out_w, g.in_w, g.stride, g.padding, kx * g.dilation);
        float* dst = col + ((c * g.kernel + ky) * g.kernel + kx) * out_plane;
        std::fill(dst, dst + rows.begin * g.out_w, 0.0f);
        for (std::size_t oy = rows.begin; oy < rows.end; ++oy) {
          const float* xr = xc + (oy * g.stride + ky * g.dilation - g.padding) * g.in_w;
          float* dr = dst + oy * g.out_w;
          std::fill(dr, dr + cols.begin, 0.0f);
          const std::size_t x0 = cols.begin * g.stride + kx * g.dilation - g.padding;
          if (cols.begin == cols.end) {
            // the whole row of this tap is padding: nothing to copy (x0 is meaningless)
          } else if (g.stride == 1) {
            std::copy(xr + x0, xr + x0 + (cols.end - cols.begin), dr + cols.begin);
          } else {
            for (std::size_t ox = cols.begin; ox < cols.end; ++ox) {
              dr[ox] = xr[x0 + (ox - cols.begin) * g.stride];
            }
          }
          std::fill(dr + cols.end, dr + g.out_w, 0.0f);
        }
        std::fill(dst + rows.end * g.out_w, dst + out_plane, 0.0f);
      }
    }
  }
}

/// Floats of the zero-bordered image copy im2col_bordered needs (with slack for whole-vector reads).
template <class Arch = xsimd::default_arch>
constexpr std::size_t im2col_bordered_size(const im2col_geometry& g) {
  return g.channels * (g.in_h + 2 * g.padding) * (g.in_w + 2 * g.padding) + xsimd::batch<float, Arch>::size;
}

/// Floats im2col_bordered may write into col: the matrix plus one vector of slack.
template <class Arch = xsimd::default_arch>
constexpr std::size_t im2col_col_size(const im2col_geometry& g) {
  return g.channels * g.kernel * g.kernel * g.out_h * g.out_w + xsimd::batch<float, Arch>::size;
}

/// im2col through a zero-bordered copy of the image: each row of col is then one run of the
/// bordered image, copied in whole vectors (stride 1) that may run past the row's end into the next
/// row — rows are written in address order, so the next row overwrites the excess. The bordered
/// copy is built the same way, borders as vector stores of zeros. Small images (14×14) make
/// thousands of rows per image; this way they cost a few vector moves each instead of a memcpy and
/// two memset calls. Same col as im2col.
/// Requires: bordered holds im2col_bordered_size(g) floats and col im2col_col_size(g) floats.
template <class Arch = xsimd::default_arch>
void im2col_bordered(const im2col_geometry& g, const float* x, float* bordered, float* col) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = batch::size;
  const batch zero(0.0f);
  const std::size_t hp = g.in_h + 2 * g.padding, wp = g.in_w + 2 * g.padding;
  const std::size_t out_plane = g.out_h * g.out_w;
  const float* const x_end = x + g.channels * g.in_h * g.in_w;
  auto zeros = [&](float* p, std::size_t count) {
    if (count == 0) return;
    if (count <= lanes) {
      zero.store_unaligned(p);  // the side borders: one store (a loop here becomes a memset call)
    } else {
      std::fill(p, p + count, 0.0f);
    }
  };
  for (std::size_t c = 0; c < g.channels; ++c) {
    float* bc = bordered + c * hp * wp;
    zeros(bc, g.padding * wp);
    for (std::size_t r = 0; r < g.in_h; ++r) {
      float* br = bc + (g.padding + r) * wp;
      const float* xr = x + (c * g.in_h + r) * g.in_w;
      zeros(br, g.padding);
      if (xr + (g.in_w + lanes - 1) / lanes * lanes <= x_end) {
        for (std::size_t i = 0; i < g.in_w; i += lanes) batch::load_unaligned(xr + i).store_unaligned(br + g.padding + i);
      } else {  // the image's last rows: whole vectors would read past it
        std::copy(xr, xr + g.in_w, br + g.padding);
      }
      zeros(br + g.padding + g.in_w, g.padding);
    }
    zeros(bc + (g.padding + g.in_h) * wp, g.padding * wp);
  }
  // Past the last plane: read (never used) by the last rows' whole-vector copies.
  zeros(bordered + g.channels * hp * wp, 1);
  for (std::size_t c = 0; c < g.channels; ++c) {
    for (std::size_t ky = 0; ky < g.kernel; ++ky) {
      for (std::size_t kx = 0; kx < g.kernel; ++kx) {
        float* dst = col + ((c * g.kernel + ky) * g.kernel + kx) * out_plane;
        const float* src = bordered + c * hp * wp + ky * g.dilation * wp + kx * g.dilation;
        for (std::size_t oy = 0; oy < g.out_h; ++oy) {
          const float* sr = src + oy * g.stride * wp;
          float* dr = dst + oy * g.out_w;
          if (g.stride == 1) {
            for (std::size_t ox = 0; ox < g.out_w; ox += lanes) batch::load_unaligned(sr + ox).store_unaligned(dr + ox);
          } else {
            for (std::size_t ox = 0; ox < g.out_w; ++ox) dr[ox] = sr[ox * g.stride];
          }
        }
      }
    }
  }
}

/// Folds col back onto the image, the adjoint of im2col: every entry of col is ADDED to the input
/// position it was read from (entries from the padding are dropped). With col = wᵀ · dy this is dx.
/// Requires: shapes as in im2col. Ensures: x += fold(col); x is not cleared first.
inline void col2im(const im2col_geometry& g, const float* col, float* x) {
  const std::size_t out_plane = g.out_h * g.out_w;
  for (std::size_t c = 0; c < g.channels; ++c) {
    float* xc = x + c * g.in_h * g.in_w;
    for (std::size_t ky = 0; ky < g.kernel; ++ky) {
      const auto rows = detail::valid_window(g.out_h, g.in_h, g.stride, g.padding, ky * g.dilation);
      for (std::size_t kx = 0; kx < g.kernel; ++kx) {
        const auto cols =
            detail::valid_window(g.out_w, g.in_w, g.stride, g.padding, kx * g.dilation);
        if (cols.begin >= cols.end) continue;  // the tap reads only padding; x0 below would wrap around
        const float* src = col + ((c * g.kernel + ky) * g.kernel + kx) * out_plane;
        for (std::size_t oy = rows.begin; oy < rows.end; ++oy) {
          float* xr = xc + (oy * g.stride + ky * g.dilation - g.padding) * g.in_w;
          const float* sr = src + oy * g.out_w;
          const std::size_t x0 = cols.begin * g.stride + kx * g.dilation - g.padding;
          if (g.stride == 1) {  // contiguous on both sides: the loop GCC vectorises
            float* __restrict xd = xr + x0;
            const float* __restrict sd = sr + cols.begin;
            for (std::size_t i = 0; i < cols.end - cols.begin; ++i) xd[i] += sd[i];
          } else {
            for (std::size_t ox = cols.begin; ox < cols.end; ++ox) {
              xr[x0 + (ox - cols.begin) * g.stride] += sr[ox];
            }
          }
        }
      }
    }
  }
}

}  // namespace fusenet::kernels
