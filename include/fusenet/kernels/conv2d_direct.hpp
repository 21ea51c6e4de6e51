// SPDX-License-Identifier: MIT
// Training-path 2-d convolution on the direct kernel of conv_blocked.hpp: forward, input gradient and
// weight gradient for an undilated, ungrouped K×K convolution at stride S (1 or 2). x and dx are NCHW, the layout between
// layers; the conv output z and its gradient dz are NHWC, the kernel's own layout, which the stage's
// BatchNorm epilogue (batch_norm_relu_pool_nhwc.hpp) reads and writes.
#pragma once

// Why: the im2col + GEMM path (conv2d_gemm.hpp) copies K² times the input per image and multiplies panels
// shaped by the image rather than by the registers; the direct kernel reads the bordered NHWC input in place
// and runs at 84–94 % of FP32 peak in inference. Training keeps NCHW between layers (the pool, dense and
// unfused BatchNorm kernels use it), so each input image is converted to bordered NHWC on the thread that
// convolves it, and kept for the weight gradient.
//
// The three products, for output channel o, input channel i, tap (ky, kx), P = Pad, xp = x zero-padded by P:
//   forward:      z[o][y][x]   = b[o] + Σ_{i,ky,kx} w[o][i][ky][kx] · xp[i][S·y + ky][S·x + kx]
//   input grad:   dx[i][y][x]  = Σ_{o,ky,kx} w[o][i][K−1−ky][K−1−kx] · dzp[o][y + ky][x + kx]
//                 (dzp: dz spread S apart over D = H + 2P − K + 1 rows and columns, the rest zero, then
//                 zero-padded by K−1−P; D = Ho at stride 1. A stride-1 convolution of dzp with the flipped,
//                 transposed weights, so it runs on the same kernel with Cout and Cin exchanged; at stride 2
//                 three of four of its products are with zeros, which the unit-stride kernel's speed still pays)
//   weight grad:  dw[o][i][ky][kx] = Σ_{n,y,x} dz[n][o][y][x] · xp[n][i][S·y + ky][S·x + kx]
//                 (its own register tile below: output channels o in the lanes, a run of (kx, i) pairs of one
//                 kernel row ky in broadcasts; in bordered NHWC those pairs are contiguous, as in the forward)
// Determinism: images are independent in the forward and the input gradient; weight gradients are summed per
// chunk of conv2d_dw_chunk images and the chunks added in the batch tree (batch_sum.hpp), so results never depend
// on the thread count, and a data-parallel shard's sums are subtrees of the whole batch's.

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <utility>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "fusenet/kernels/batch_stats.hpp"
#include "fusenet/kernels/batch_sum.hpp"
#include "fusenet/kernels/conv2d_gemm.hpp"
#include "fusenet/kernels/conv_blocked.hpp"
#include "fusenet/kernels/fma.hpp"
#include "fusenet/kernels/threads.hpp"
#include "fusenet/kernels/layout.hpp"
#include "fusenet/kernels/registers.hpp"

namespace fusenet::kernels {

/// What conv2d_direct's forward computes from the weights and keeps, with the input, for backward (one
/// per layer; the same type for every geometry, so a training stage's record can hold it).
struct conv2d_direct_state {
  aligned_vector<float> forward_weights;     // [Cout/V][K][K][Cin][V]
  aligned_vector<float> input_grad_weights;  // flipped and transposed: [Cin/V][K][K][Cout][V]
  std::vector<float> flipped_weights;        // w flipped and transposed as [Cin][Cout][K][K], before packing
  std::vector<float> zeros;                  // the bias of the input gradient, and of a bias-free conv
  aligned_vector<float> input;               // bordered NHWC x, batch · x_image floats
};

namespace detail {

/// The weight-gradient register tile: Vectors blocks of V output channels × Cols (kx, i) pairs.
template <std::size_t Vectors, std::size_t Cols>
struct dw_tile {
  static constexpr std::size_t vectors = Vectors, cols = Cols;
};

/// Accumulates acc[c][q] += xp[S·y + ky][S·x][j0 + c] · dz[y][x][o0 + q·V] over one image's output pixels, for
/// the (kx, i) pairs j0 .. j0 + Cols of kernel row ky (j = kx·Cin + i) and the Vectors·V channels from o0.
/// `x_row` is bordered row ky of the image at column 0 plus j0, `dz` the first output pixel's channel o0.
/// `part` is [K][K·Cin][Cout] at (ky, j0, o0); it is overwritten when `first`, accumulated otherwise.
template <class Arch, std::size_t Vectors, std::size_t Cols, std::size_t Cin, std::size_t Cout, std::size_t Ho,
          std::size_t Wo, std::size_t XRow, std::size_t DzRow, std::size_t Stride>
[[gnu::always_inline]] inline void dw_run_tile(const float* x_row, const float* dz, float* part, bool first) {
  using vec = xsimd::batch<float, Arch>;
  constexpr std::size_t v = vec::size;
  vec acc[Cols][Vectors];
#pragma GCC unroll 64
  for (std::size_t c = 0; c < Cols; ++c)
#pragma GCC unroll 8
    for (std::size_t q = 0; q < Vectors; ++q) acc[c][q] = first ? vec(0.0f) : vec::load_unaligned(part + c * Cout + q * v);
  for (std::size_t y = 0; y < Ho; ++y) {
    const float* xr = x_row + Stride * y * XRow;
    const float* dr = dz + y * DzRow;
    for (std::size_t x = 0; x < Wo; ++x) {
      vec d[Vectors];
#pragma GCC unroll 8
      for (std::size_t q = 0; q < Vectors; ++q) d[q] = vec::load_unaligned(dr + x * Cout + q * v);
#pragma GCC unroll 64
      for (std::size_t c = 0; c < Cols; ++c) {
        const vec b(xr[Stride * x * Cin + c]);
#pragma GCC unroll 8
        for (std::size_t q = 0; q < Vectors; ++q) acc[c][q] = kernels::fma(b, d[q], acc[c][q]);
      }
    }
  }
#pragma GCC unroll 64
  for (std::size_t c = 0; c < Cols; ++c)
#pragma GCC unroll 8
    for (std::size_t q = 0; q < Vectors; ++q) acc[c][q].store_unaligned(part + c * Cout + q * v);
}

/// The weight-gradient tile for J = K·Cin pairs per kernel row: 2 vectors when the channel blocks pair up,
/// and the column count in [max/2, max] that needs the fewest tiles per row (the last one may be narrower).
template <std::size_t J, std::size_t Cout, class Arch>
constexpr auto pick_dw_tile() {
  constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  constexpr std::size_t nv = (Cout / v) % 2 == 0 ? 2 : 1;
  constexpr std::size_t max_cols = std::min(J, (vector_registers<Arch> - nv - 1) / nv);
  std::size_t best = max_cols, best_tiles = (J + max_cols - 1) / max_cols;
  for (std::size_t c = max_cols; c >= 1 && 2 * c >= max_cols; --c) {
    const std::size_t tiles = (J + c - 1) / c;
    if (tiles < best_tiles) best = c, best_tiles = tiles;
  }
  return std::pair<std::size_t, std::size_t>{nv, best};
}

}  // namespace detail

/// A Cin → Cout, K×K convolution at stride Stride with zero padding Pad on an H×W map, for training, on the direct
/// kernel. InputGrad: the input gradient runs on the direct kernel too (Cout → Cin); else the caller takes it
/// from conv2d_gemm.hpp. Whether a convolution trains here, and with which input gradient, is the plan's
/// decision (plan/rules.hpp: trainable_direct_conv, trainable_direct_input_grad); the kernel checks that the
/// geometry and tiles it is given are ones it can run.
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t K, std::size_t Pad,
          bool InputGrad, std::size_t Stride = 1, class Arch = xsimd::default_arch>
struct conv2d_direct {
  static constexpr std::size_t v = xsimd::batch<float, Arch>::size;
  static constexpr std::size_t ho = (H + 2 * Pad - K) / Stride + 1, wo = (W + 2 * Pad - K) / Stride + 1;
  /// The padding of the spread dz that turns the input gradient into a convolution (K − 1 − Pad), and the
  /// spread dz's size before it (dh × dw: H + 2·Pad − K + 1, which is ho × wo at stride 1).
  static constexpr std::size_t grad_pad = K - 1 - Pad;
  static constexpr std::size_t dh = H + 2 * Pad - K + 1, dw_cols = W + 2 * Pad - K + 1;
  /// The border of the dz images backward takes: the input gradient's padding at stride 1, where the kernel reads
  /// them in place; none at stride 2, where backward spreads each image into its own bordered buffer first.
  static constexpr std::size_t dz_border = Stride == 1 ? grad_pad : 0;

  using forward_tile = default_conv_tile<Cin, Cout, H, W, K, Pad, 1, Arch, Stride>;
  using input_grad_tile = default_conv_tile<Cout, Cin, dh, dw_cols, K, grad_pad, 1, Arch>;
  static constexpr bool direct_input_grad = InputGrad;

  /// Floats of one image: the bordered NHWC input kept for the weight gradient, the NHWC dz backward reads (with
  /// dz_border), and the spread, bordered dz of the input gradient at stride 2 (none at stride 1).
  static constexpr std::size_t x_image = nhwc_image_size<Cin, H, W, Pad>;
  static constexpr std::size_t dz_image = nhwc_image_size<Cout, ho, wo, dz_border>;
  static constexpr std::size_t spread_image = Stride == 1 ? 0 : nhwc_image_size<Cout, dh, dw_cols, grad_pad>;
  static constexpr std::size_t weight_size = Cout * Cin * K * K;

  using state = conv2d_direct_state;

  /// z = conv2d(x, w) + bias as conv2d_forward, but z NHWC (N × Ho·Wo × Cout, what the direct kernel writes;
  /// batch_norm_relu_pool_nhwc.hpp reads it), with each image's channel moments while it is in cache
  /// (moments[n·Cout + c], as conv2d_forward's). Keeps the packed weights and the bordered NHWC input in s.
  /// Requires: x N×Cin×H×W (NCHW), w Cout×Cin×K×K, bias Cout or nullptr, moments N×Cout
  /// or nullptr. Ensures: z (and moments) overwritten, bit-identical for any thread count.
  static void forward(const float* x, const float* w, const float* bias, float* z, std::size_t n, state& s,
                      plane_moments* moments = nullptr) {
    check_geometry();
    prepare(w, s, n);
    const float* b = bias != nullptr ? bias : s.zeros.data();
    [[maybe_unused]] const int team_size = static_cast<int>(detail::team_threads(n));
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(team_size) if (team_size > 1)
#endif
    for (std::size_t i = 0; i < n; ++i) {
      float* const xi = s.input.data() + i * x_image;
      float* const zi = z + i * ho * wo * Cout;
      nchw_to_nhwc<Cin, H, W, Pad>(x + i * Cin * H * W, xi, 1);
      conv_bias_relu_pool_image<forward_tile, Cin, Cout, H, W, K, Pad, 1, pool_max, act_none, 0, Arch, Stride>(
          xi, s.forward_weights.data(), b, zi);
      if (moments != nullptr) moments_of_pixels<Arch>(zi, ho * wo, Cout, moments + i * Cout);
    }
  }

  /// Gradients of the last forward given dz as bordered NHWC (N images of dz_image floats: (Ho + 2·dz_border)
  /// × (Wo + 2·dz_border) × Cout with a zero border, as batch_norm_relu_pool_nhwc_backward writes it), as
  /// conv2d_backward: dx (NCHW) overwritten unless nullptr, dw and db accumulated unless nullptr;
  /// bit-identical for any thread count. Requires: the forward of these n images ran with s; dx == nullptr
  /// unless InputGrad (the caller takes the input gradient from conv2d_backward then).
  static void backward(const float* dz, float* dx, float* dw, float* db, std::size_t n, const state& s,
                       std::vector<float>& workspace) {
    backward_from([dz](std::size_t i, float*) { return dz + i * dz_image; }, dx, dw, db, n, s, workspace);
  }

  /// As backward, with image i's dz from dz_of(i, scratch) (a const float*): the image in an array of the
  /// caller, or `scratch` (dz_image floats of the calling thread) after writing it there, so a producer
  /// such as batch_norm_relu_pool_nhwc_gradient hands each image over while it is in cache. dz_of is called
  /// once per image, from any thread.
  template <class DzOf>
  static void backward_from(DzOf&& dz_of, float* dx, float* dw, float* db, std::size_t n, const state& s,
                            std::vector<float>& workspace) {
    assert(dx == nullptr || InputGrad);
    constexpr std::size_t part_size = K * K * Cin * Cout, per_thread = H * W * Cin + dz_image + spread_image;
    constexpr std::size_t dz_row = (wo + 2 * dz_border) * Cout, dz_first = dz_border * dz_row + dz_border * Cout;
    const std::size_t chunks = (n + conv2d_dw_chunk - 1) / conv2d_dw_chunk;
    const std::size_t threads = detail::team_threads(chunks);
    const std::size_t partials = dw != nullptr ? chunks * part_size : 0, bias_partials = db != nullptr ? n * Cout : 0;
    const std::size_t total = partials + bias_partials + threads * per_thread;
    if (workspace.size() < total) workspace.resize(total);
    float* const parts = workspace.data();
    float* const bias_parts = parts + partials;
    float* const scratch = bias_parts + bias_partials;
    [[maybe_unused]] const int team_size = static_cast<int>(threads);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(team_size) if (team_size > 1)
#endif
    for (std::size_t c = 0; c < chunks; ++c) {
      float* const dx_nhwc = scratch + detail::thread_rank() * per_thread;
      float* const dz_scratch = dx_nhwc + H * W * Cin;
      float* const spread = dz_scratch + dz_image;
      if (spread_image > 0 && dx != nullptr) std::fill(spread, spread + spread_image, 0.0f);  // zeros stay zero
      const std::size_t first = c * conv2d_dw_chunk, last = std::min(n, first + conv2d_dw_chunk);
      for (std::size_t i = first; i < last; ++i) {
        const float* const dzb = dz_of(i, dz_scratch);
        if (db != nullptr) {  // this image's Σ dz per channel: Ho·Wo float terms
          float* bp = bias_parts + i * Cout;
          std::fill(bp, bp + Cout, 0.0f);
          for (std::size_t y = 0; y < ho; ++y)
            for (std::size_t x = 0; x < wo; ++x)
              for (std::size_t o = 0; o < Cout; ++o) bp[o] += dzb[dz_first + y * dz_row + x * Cout + o];
        }
        if (dw != nullptr) weight_grad_image(s.input.data() + i * x_image, dzb, parts + c * part_size, i == first);
        if (dx != nullptr) {
          if constexpr (InputGrad) {
            const float* dzp = dzb;
            if constexpr (Stride > 1) {  // dz[y][x] to (S·y, S·x) of the spread map, inside its border
              constexpr std::size_t spread_row = (dw_cols + 2 * grad_pad) * Cout;
              float* const s0 = spread + grad_pad * spread_row + grad_pad * Cout;
              for (std::size_t y = 0; y < ho; ++y)
                for (std::size_t x = 0; x < wo; ++x)
                  std::copy(dzb + (y * wo + x) * Cout, dzb + (y * wo + x + 1) * Cout,
                            s0 + Stride * y * spread_row + Stride * x * Cout);
              dzp = spread;
            }
            conv_bias_relu_pool_image<input_grad_tile, Cout, Cin, dh, dw_cols, K, grad_pad, 1, pool_max, act_none, 0,
                                      Arch>(dzp, s.input_grad_weights.data(), s.zeros.data(), dx_nhwc);
            nhwc_to_nchw<Cin, H, W, 0>(dx_nhwc, dx + i * Cin * H * W, 1);
          }
        }
      }
    }
    if (db != nullptr) add_image_sums(bias_parts, n, Cout, db);
    if (dw != nullptr) add_conv_weight_partials(parts, chunks, K * K, Cin, Cout, dw);
  }

 private:
  static constexpr void check_geometry() {
    static_assert(Pad < K, "fusenet: conv2d_direct: the padding must be below the kernel size (the input "
                           "gradient pads dz by K - 1 - Pad)");
    static_assert(Stride == 1 || Stride == 2, "fusenet: conv2d_direct: stride 1 or 2");
    detail::check_conv_tile<forward_tile, Cin, Cout, H, W, K, Pad, 1, Arch, Stride>();
    if constexpr (InputGrad)
      detail::check_conv_tile<input_grad_tile, Cout, Cin, dh, dw_cols, K, grad_pad, 1, Arch>();
  }

  /// Packs the weights for this step and sizes the kept input for n images.
  static void prepare(const float* w, state& s, std::size_t n) {
    s.forward_weights.resize(weight_size);
    pack_conv_weights<Cin, Cout, K, Arch>(w, s.forward_weights.data());
    if constexpr (InputGrad) {
      // w'[i][o][ky][kx] = w[o][i][K−1−ky][K−1−kx], then packed like any Cout → Cin weight
      s.flipped_weights.resize(weight_size);  // kept, so no step allocates (and faults in) a fresh array
      float* const flipped = s.flipped_weights.data();
      for (std::size_t o = 0; o < Cout; ++o)
        for (std::size_t i = 0; i < Cin; ++i)
          for (std::size_t ky = 0; ky < K; ++ky)
            for (std::size_t kx = 0; kx < K; ++kx)
              flipped[((i * Cout + o) * K + ky) * K + kx] = w[((o * Cin + i) * K + (K - 1 - ky)) * K + (K - 1 - kx)];
      s.input_grad_weights.resize(weight_size);
      pack_conv_weights<Cout, Cin, K, Arch>(flipped, s.input_grad_weights.data());
    }
    s.zeros.assign(std::max(Cin, Cout), 0.0f);
    if (s.input.size() < n * x_image) s.input.resize(n * x_image);
  }

  /// Adds one image's weight gradient to part ([K][K·Cin][Cout]; overwritten when first): xb is the image's
  /// bordered NHWC input, dzb its bordered NHWC dz.
  static void weight_grad_image(const float* xb, const float* dzb, float* part, bool first) {
    constexpr std::size_t j = K * Cin;
    constexpr auto tile = detail::pick_dw_tile<j, Cout, Arch>();
    constexpr std::size_t nv = tile.first, cols = tile.second, full = j / cols, tail = j % cols;
    constexpr std::size_t x_row = (W + 2 * Pad) * Cin, dz_row = (wo + 2 * dz_border) * Cout;
    static_assert(nv * cols + nv + 1 <= vector_registers<Arch>, "fusenet: conv2d_direct: dw tile would spill");
    const float* dz0 = dzb + dz_border * dz_row + dz_border * Cout;  // dz's first interior pixel
    for (std::size_t ky = 0; ky < K; ++ky) {
      for (std::size_t ob = 0; ob < Cout / (nv * v); ++ob) {
        const float* d = dz0 + ob * nv * v;
        float* p = part + ky * j * Cout + ob * nv * v;
        for (std::size_t t = 0; t < full; ++t)
          detail::dw_run_tile<Arch, nv, cols, Cin, Cout, ho, wo, x_row, dz_row, Stride>(xb + ky * x_row + t * cols, d,
                                                                               p + t * cols * Cout, first);
        if constexpr (tail > 0)
          detail::dw_run_tile<Arch, nv, tail, Cin, Cout, ho, wo, x_row, dz_row, Stride>(xb + ky * x_row + full * cols, d,
                                                                               p + full * cols * Cout, first);
      }
    }
  }
};

}  // namespace fusenet::kernels
