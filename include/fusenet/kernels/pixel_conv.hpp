// SPDX-License-Identifier: MIT
// Fused inference convolution with output pixels in the vector lanes (bias, optional ReLU, optional 2×2 pool), for
// convolutions whose few output channels fill no channel vector. NCHW in; NCHW or bordered NHWC out.
#pragma once

// The computation, for output channel o and conv-output pixel (y, x) (nn.Conv2d(Cin, Cout, K, stride=S, padding=P)):
//   z[o][y][x] = bias[o] + Σ_{i,ky,kx} w[o][i][ky][kx] · in[i][S·y + ky − P][S·x + kx − P]   (zero padding)
// then relu (NaN kept, as torch.relu), then for Pool = 2 the 2×2 stride-2 floor-mode max pool (NaN kept, as
// nn.MaxPool2d) or average pool (÷4, as nn.AvgPool2d) of the activated values.
//
// Why pixels in the lanes: the direct kernel (conv_blocked.hpp) puts output channels in the lanes, which needs
// them to fill whole vectors; with LeNet's 6 channels the GEMM path ran instead, whose 14-row register tile holds
// 6 useful rows, and whose im2col, ReLU, pool and NCHW→NHWC passes cost more than the products. Here one vector
// holds V output pixels of one row and every FMA is full width whatever Cout is.
//
// How it stays FMA-bound: each image is first copied into a scratch holding every zero-padded input row split
// into its Pool·S column phases (phase p holds padded columns p, p + Pool·S, …). The input pixels that conv-output
// pixels Pool·x + dx (x = 0, 1, …) read at tap kx are then consecutive floats of one phase row, so one unaligned
// load serves V output pixels, and it feeds the FMAs of every output channel of the tile, with the weight as a
// broadcast. With Pool = 2 the tile accumulates the four pool offsets (dy, dx) separately and reduces them in
// registers before the one store, so the un-pooled conv output is never written.
// Threads: one team, over images when there are at least as many as threads, else over (image, output row)
// items; never nested. The split never changes which code computes an output value.

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "fusenet/detail/pixel_conv_tile.hpp"
#include "fusenet/kernels/conv_blocked.hpp"
#include "fusenet/kernels/fma.hpp"
#include "fusenet/kernels/layout.hpp"
#include "fusenet/kernels/nan_rules.hpp"
#include "fusenet/kernels/registers.hpp"
#include "fusenet/kernels/threads.hpp"

namespace fusenet::kernels {

/// A pixel-lane register tile: Channels output channels × Vectors vectors of output pixels of one row.
template <std::size_t Channels, std::size_t Vectors>
struct pixel_tile {
  /// Output channels per tile (the last channel block may be narrower).
  static constexpr std::size_t channels = Channels;
  /// Vectors of output pixels per tile (the last tile of a row computes lanes past the row's end and drops them).
  static constexpr std::size_t vectors = Vectors;
};

/// Floats of the packed weights of a Cout×Cin×K×K convolution ([Cin][K][K][Cout]: one tap's output channels
/// contiguous, so a tile's broadcasts read consecutive floats).
template <std::size_t Cin, std::size_t Cout, std::size_t K>
inline constexpr std::size_t pixel_packed_size = Cin * K * K * Cout;

/// Repacks a PyTorch weight [Cout][Cin][K][K] into the kernel layout [Cin][K][K][Cout].
template <std::size_t Cin, std::size_t Cout, std::size_t K>
inline void pack_pixel_weights(const float* oikk, float* packed) {
  for (std::size_t o = 0; o < Cout; ++o)
    for (std::size_t i = 0; i < Cin; ++i)
      for (std::size_t t = 0; t < K * K; ++t) packed[(i * K * K + t) * Cout + o] = oikk[(o * Cin + i) * K * K + t];
}

namespace detail {

/// The compile-time geometry of one pixel-lane stage. ho, cout, out_border, out_row and out_image follow
/// conv_geometry's names, so that conv_zero_border serves it.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride,
          std::size_t Pad, std::size_t Pool, bool OutNhwc, std::size_t OutBorder, class Tile, class Arch>
struct pixel_geometry {
  using vec = xsimd::batch<float, Arch>;
  static constexpr std::size_t v = vec::size;
  static constexpr std::size_t cin = Cin, cout = Cout, k = K, s = Stride, pool = Pool;
  static constexpr std::size_t hc = K <= H + 2 * Pad ? (H + 2 * Pad - K) / Stride + 1 : 0;  // conv output
  static constexpr std::size_t wc = K <= W + 2 * Pad ? (W + 2 * Pad - K) / Stride + 1 : 0;
  static constexpr std::size_t ho = hc / Pool, wo = wc / Pool;  // after the pool
  static constexpr std::size_t tile_pixels = Tile::vectors * v;
  static constexpr std::size_t row_tiles = (wo + tile_pixels - 1) / tile_pixels;
  static constexpr fusenet::detail::pixel_scratch_shape scratch =
      fusenet::detail::pixel_scratch(H, W, K, Stride, Pad, Pool, tile_pixels);
  static constexpr std::size_t in_image = Cin * H * W;
  static constexpr std::size_t scratch_image = scratch.image_floats(Cin);
  static constexpr bool out_nhwc = OutNhwc;
  static constexpr std::size_t out_border = OutNhwc ? OutBorder : 0;
  static constexpr std::size_t out_row = (wo + 2 * out_border) * Cout;
  static constexpr std::size_t out_image = OutNhwc ? (ho + 2 * out_border) * out_row : Cout * ho * wo;
};

/// Copies one NCHW image into the phase-split, zero-padded scratch (layout [Cin][H+2P][step][row_floats]): per
/// phase row, the zeros left of the image, every step-th pixel of the input row, the zeros right of it.
template <class Geo, std::size_t H, std::size_t W, std::size_t Pad>
inline void pixel_split_phases(const float* in, float* scratch) {
  constexpr auto sh = Geo::scratch;
  constexpr std::size_t step = sh.step, len = sh.row_floats;
  for (std::size_t i = 0; i < Geo::cin; ++i)
    for (std::size_t r = 0; r < sh.rows; ++r) {
      float* dst = scratch + (i * sh.rows + r) * step * len;
      if (r < Pad || r >= Pad + H) {
        std::fill(dst, dst + step * len, 0.0f);
        continue;
      }
      const float* src = in + (i * H + r - Pad) * W;
      for (std::size_t ph = 0; ph < step; ++ph, dst += len) {
        // phase ph, entry j holds padded column j·step + ph, which is input column j·step + ph − Pad
        const std::size_t lo = Pad > ph ? (Pad - ph + step - 1) / step : 0;
        const std::size_t hi = std::min(len, (Pad + W - ph + step - 1) / step);
        std::fill(dst, dst + lo, 0.0f);
        for (std::size_t j = lo; j < hi; ++j) dst[j] = src[j * step + ph - Pad];
        std::fill(dst + hi, dst + len, 0.0f);
      }
    }
}

/// Accumulates one tile (Channels output channels from c0, Vectors pixel vectors from pooled column px0 of pooled
/// row py) and stores it after the epilogue. `scratch` is the image's phase-split input.
template <class Geo, std::size_t Channels, std::size_t Vectors, class PoolOp, class Act>
[[gnu::always_inline]] inline void pixel_run_tile(const float* scratch, const float* w, const float* bias, float* out,
                                                  std::size_t py, std::size_t px0, std::size_t c0) {
  using vec = typename Geo::vec;
  constexpr std::size_t v = Geo::v, p = Geo::pool, k = Geo::k, s = Geo::s, cout = Geo::cout;
  constexpr auto sh = Geo::scratch;
  vec acc[p * p][Channels][Vectors];
#pragma GCC unroll 64
  for (std::size_t c = 0; c < Channels; ++c) {
    const vec b(bias[c0 + c]);
#pragma GCC unroll 4
    for (std::size_t o = 0; o < p * p; ++o)
#pragma GCC unroll 4
      for (std::size_t q = 0; q < Vectors; ++q) acc[o][c][q] = b;
  }
  // Each output value receives its taps in the order input channel, ky, kx whatever the tile, so the result does
  // not depend on the tile, the thread split or the row's tail.
  for (std::size_t i = 0; i < Geo::cin; ++i) {
#pragma GCC unroll 16
    for (std::size_t ky = 0; ky < k; ++ky) {
#pragma GCC unroll 2
      for (std::size_t dy = 0; dy < p; ++dy) {
        const std::size_t row = (p * py + dy) * s + ky;  // padded input row
        const float* phases = scratch + (i * sh.rows + row) * sh.step * sh.row_floats + px0;
#pragma GCC unroll 16
        for (std::size_t kx = 0; kx < k; ++kx) {
          const float* wt = w + ((i * k + ky) * k + kx) * cout + c0;
#pragma GCC unroll 2
          for (std::size_t dx = 0; dx < p; ++dx) {
            const std::size_t off = dx * s + kx;  // padded column of output pixel px, minus step·px
            const float* src = phases + (off % sh.step) * sh.row_floats + off / sh.step;
            vec x[Vectors];
#pragma GCC unroll 4
            for (std::size_t q = 0; q < Vectors; ++q) x[q] = vec::load_unaligned(src + q * v);
#pragma GCC unroll 64
            for (std::size_t c = 0; c < Channels; ++c) {
              const vec wv(wt[c]);
#pragma GCC unroll 4
              for (std::size_t q = 0; q < Vectors; ++q)
                acc[dy * p + dx][c][q] = kernels::fma(wv, x[q], acc[dy * p + dx][c][q]);
            }
          }
        }
      }
    }
  }
  alignas(64) float lanes[v];
#pragma GCC unroll 64
  for (std::size_t c = 0; c < Channels; ++c)
#pragma GCC unroll 4
    for (std::size_t q = 0; q < Vectors; ++q) {
      const std::size_t first = px0 + q * v;
      if (first >= Geo::wo) continue;  // lanes wholly past the row's end (the last tile)
      const std::size_t valid = std::min(v, Geo::wo - first);
      vec a[p * p];
#pragma GCC unroll 4
      for (std::size_t o = 0; o < p * p; ++o)
        a[o] = std::is_same_v<Act, act_relu> ? relu_keep_nan(acc[o][c][q]) : acc[o][c][q];
      vec r = a[0];
      if constexpr (p == 2) {
        if constexpr (std::is_same_v<PoolOp, pool_max>)
          r = max_keep_nan(max_keep_nan(max_keep_nan(a[0], a[1]), a[2]), a[3]);
        else
          r = (a[0] + a[1] + a[2] + a[3]) * vec(0.25f);
      }
      if constexpr (Geo::out_nhwc) {
        r.store_aligned(lanes);
        float* dst = out + ((Geo::out_border + py) * (Geo::wo + 2 * Geo::out_border) + Geo::out_border + first) *
                               cout + c0 + c;
        for (std::size_t l = 0; l < valid; ++l) dst[l * cout] = lanes[l];
      } else {
        float* dst = out + ((c0 + c) * Geo::ho + py) * Geo::wo + first;
        if (valid == v) {
          r.store_unaligned(dst);
        } else {
          r.store_aligned(lanes);
          std::copy(lanes, lanes + valid, dst);
        }
      }
    }
}

/// The channel blocks of one row tile: full blocks of Tile::channels from C0, then the narrower rest.
template <class Geo, class Tile, class PoolOp, class Act, std::size_t C0 = 0>
[[gnu::always_inline]] inline void pixel_run_channels(const float* scratch, const float* w, const float* bias,
                                                      float* out, std::size_t py, std::size_t px0) {
  if constexpr (C0 < Geo::cout) {
    constexpr std::size_t cb = std::min(Tile::channels, Geo::cout - C0);
    pixel_run_tile<Geo, cb, Tile::vectors, PoolOp, Act>(scratch, w, bias, out, py, px0, C0);
    pixel_run_channels<Geo, Tile, PoolOp, Act, C0 + cb>(scratch, w, bias, out, py, px0);
  }
}

/// One work item: pooled output row py of one image, every channel.
template <class Geo, class Tile, class PoolOp, class Act>
inline void pixel_run_row(const float* scratch, const float* w, const float* bias, float* out, std::size_t py) {
  for (std::size_t t = 0; t < Geo::row_tiles; ++t)
    pixel_run_channels<Geo, Tile, PoolOp, Act>(scratch, w, bias, out, py, t * Geo::tile_pixels);
}

template <class Geo>
inline void pixel_zero_border(float* out) {
  if constexpr (Geo::out_nhwc) conv_zero_border<Geo>(out);
}

/// The compile-time checks of the pixel-lane kernel on its geometry and tile.
template <class Geo, class Tile, class PoolOp, class Act, class Arch>
constexpr void check_pixel_conv() {
  static_assert(Geo::k >= 1 && Geo::s >= 1, "fusenet: pixel conv kernel: kernel size and stride must be at least 1");
  static_assert(Geo::hc > 0 && Geo::wc > 0, "fusenet: pixel conv kernel: the kernel must fit the padded input");
  static_assert(Geo::pool == 1 || Geo::pool == 2, "fusenet: pixel conv kernel: the fused pool is 2x2 or none");
  static_assert(Geo::ho > 0 && Geo::wo > 0, "fusenet: pixel conv kernel: the pool leaves no output");
  static_assert(std::is_same_v<Act, act_relu> || std::is_same_v<Act, act_none>,
                "fusenet: pixel conv kernel: Act must be act_relu or act_none");
  static_assert(std::is_same_v<PoolOp, pool_max> || std::is_same_v<PoolOp, pool_avg>,
                "fusenet: pixel conv kernel: PoolOp must be pool_max or pool_avg");
  static_assert(Tile::channels > 0 && Tile::vectors > 0 &&
                    fusenet::detail::pixel_tile_registers(Tile::channels, Tile::vectors, Geo::pool) <=
                        vector_registers<Arch>,
                "fusenet: pixel conv kernel: the register tile (pool^2 x channels x vectors accumulators + one "
                "load + one broadcast) does not fit the vector register file and would spill");
}

}  // namespace detail

/// The register tile the pixel-lane kernel uses by default for these sizes on Arch.
template <std::size_t Cout, std::size_t W, std::size_t K, std::size_t Stride, std::size_t Pad, std::size_t Pool,
          class Arch = xsimd::default_arch>
using default_pixel_tile = pixel_tile<
    fusenet::detail::pixel_default_tile(Cout, K <= W + 2 * Pad ? ((W + 2 * Pad - K) / Stride + 1) / Pool : 0, Pool,
                                        xsimd::batch<float, Arch>::size, vector_registers<Arch>)
        .channels,
    fusenet::detail::pixel_default_tile(Cout, K <= W + 2 * Pad ? ((W + 2 * Pad - K) / Stride + 1) / Pool : 0, Pool,
                                        xsimd::batch<float, Arch>::size, vector_registers<Arch>)
        .vectors>;

/// Floats of scratch per image the pixel-lane kernel needs on Arch with Tile (by default its default tile).
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride,
          std::size_t Pad, std::size_t Pool, class Arch = xsimd::default_arch,
          class Tile = default_pixel_tile<Cout, W, K, Stride, Pad, Pool, Arch>>
inline constexpr std::size_t pixel_conv_scratch =
    fusenet::detail::pixel_scratch(H, W, K, Stride, Pad, Pool, Tile::vectors * xsimd::batch<float, Arch>::size)
        .image_floats(Cin);

/// Fused conv K×K (stride Stride, zero padding Pad) + bias + activation (act_none / act_relu) + optional 2×2 pool
/// (Pool 1 or 2, PoolOp pool_max / pool_avg), with an explicit tile.
/// Requires: `in` is NCHW [n][Cin][H][W]; `packed_w` comes from pack_pixel_weights<Cin, Cout, K>; `bias` has Cout
/// floats; `scratch` holds n · pixel_conv_scratch<Cin, Cout, H, W, K, Stride, Pad, Pool, Arch, Tile> floats; `out` holds
/// n images of Cout × Ho × Wo (after the pool) as NCHW, or as bordered NHWC with OutBorder when OutNhwc.
/// Ensures: `out` holds the result (a bordered NHWC output with a zero border); the result does not depend on the
/// number of threads.
template <class Tile, std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K,
          std::size_t Stride, std::size_t Pad, std::size_t Pool, class PoolOp, class Act, bool OutNhwc,
          std::size_t OutBorder, class Arch = xsimd::default_arch>
inline void pixel_conv_tiled(const float* in, const float* packed_w, const float* bias, float* out, std::size_t n,
                             float* scratch) {
  using geo = detail::pixel_geometry<Cin, Cout, H, W, K, Stride, Pad, Pool, OutNhwc, OutBorder, Tile, Arch>;
  detail::check_pixel_conv<geo, Tile, PoolOp, Act, Arch>();
  auto image = [&](std::size_t i) {
    float* s = scratch + i * geo::scratch_image;
    detail::pixel_split_phases<geo, H, W, Pad>(in + i * geo::in_image, s);
    detail::pixel_zero_border<geo>(out + i * geo::out_image);
  };
  const std::size_t items = n * geo::ho;
  const std::size_t team = detail::team_threads(items);
  if (team <= 1) {
    for (std::size_t i = 0; i < n; ++i) {
      image(i);
      for (std::size_t py = 0; py < geo::ho; ++py)
        detail::pixel_run_row<geo, Tile, PoolOp, Act>(scratch + i * geo::scratch_image, packed_w, bias,
                                                      out + i * geo::out_image, py);
    }
    return;
  }
#ifdef _OPENMP
  // Images when there are enough for every thread, else (image, row) items so that batch 1 uses the whole team;
  // every output value is computed by the same code in either split, so results are bit-identical.
  const bool by_image = n >= team;
  const auto images = static_cast<std::ptrdiff_t>(n), work = static_cast<std::ptrdiff_t>(items);
#pragma omp parallel num_threads(static_cast<int>(team))
  {
    if (by_image) {
#pragma omp for schedule(static)
      for (std::ptrdiff_t i = 0; i < images; ++i) {
        const auto u = static_cast<std::size_t>(i);
        image(u);
        for (std::size_t py = 0; py < geo::ho; ++py)
          detail::pixel_run_row<geo, Tile, PoolOp, Act>(scratch + u * geo::scratch_image, packed_w, bias,
                                                        out + u * geo::out_image, py);
      }
    } else {
#pragma omp for schedule(static)
      for (std::ptrdiff_t i = 0; i < images; ++i) image(static_cast<std::size_t>(i));
#pragma omp for schedule(static)
      for (std::ptrdiff_t item = 0; item < work; ++item) {
        const auto u = static_cast<std::size_t>(item);
        const std::size_t i = u / geo::ho, py = u % geo::ho;
        detail::pixel_run_row<geo, Tile, PoolOp, Act>(scratch + i * geo::scratch_image, packed_w, bias,
                                                      out + i * geo::out_image, py);
      }
    }
  }
#endif
}

/// Whether the pixel-lane kernel handles this geometry on Arch with its default tile.
template <std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride, std::size_t Pad,
          std::size_t Pool, class Arch = xsimd::default_arch>
inline constexpr bool pixel_conv_supported =
    K >= 1 && Stride >= 1 && (Pool == 1 || Pool == 2) && K <= H + 2 * Pad && K <= W + 2 * Pad &&
    ((H + 2 * Pad - K) / Stride + 1) / Pool > 0 && default_pixel_tile<Cout, W, K, Stride, Pad, Pool, Arch>::channels > 0;

/// The pixel-lane convolution with its default tile on Arch. Requires / Ensures: as pixel_conv_tiled, with
/// `scratch` holding n · pixel_conv_scratch<...> floats.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride,
          std::size_t Pad, std::size_t Pool, class PoolOp, class Act, bool OutNhwc, std::size_t OutBorder,
          class Arch = xsimd::default_arch>
inline void pixel_conv(const float* in, const float* packed_w, const float* bias, float* out, std::size_t n,
                       float* scratch) {
  pixel_conv_tiled<default_pixel_tile<Cout, W, K, Stride, Pad, Pool, Arch>, Cin, Cout, H, W, K, Stride, Pad, Pool,
                   PoolOp, Act, OutNhwc, OutBorder, Arch>(in, packed_w, bias, out, n, scratch);
}

}  // namespace fusenet::kernels
