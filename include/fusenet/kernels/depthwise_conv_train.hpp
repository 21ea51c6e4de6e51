// SPDX-License-Identifier: MIT
// Training-path depthwise convolution (groups = channels = C, channel multiplier 1, any stride) with the channels
// in the SIMD lanes: forward on the inference kernel of depthwise_conv.hpp, input gradient and weight gradient
// here. x and dx are NCHW, the layout between training layers; z and dz are NHWC, which the stage's BatchNorm
// epilogue (batch_norm_relu_pool_nhwc.hpp) reads and writes.
#pragma once

// Why: im2col + GEMM runs a depthwise conv as C GEMMs with a single output channel each (one dot product of K²
// terms per output pixel), so packing dominates; with channels in the lanes every tap is one vector FMA over V
// channels, and each pixel's V channels are one contiguous load in NHWC.
//
// The three products, for channel c, tap (ky, kx), stride S, xp = x zero-padded by P:
//   forward:      z[c][y][x]        = b[c] + Σ_{ky,kx} w[c][ky][kx] · xp[c][S·y + ky][S·x + kx]
//   input grad:   dxp[c][S·y + ky][S·x + kx] += w[c][ky][kx] · dz[c][y][x]   (scattered, then cropped to dx)
//   weight grad:  dw[c][ky][kx]     = Σ_{n,y,x} dz[n][c][y][x] · xp[n][c][S·y + ky][S·x + kx]
// The scatter serves every stride with one loop and no parity cases; its read-modify-writes stay in L1 (a few
// bordered rows of C channels). The weight gradient keeps a tap row's accumulators in registers over all pixels.
// Determinism: images are independent in the forward and the input gradient; weight and bias gradients are
// summed per chunk of batch_chunk images and the chunks added in the batch tree (batch_sum.hpp), as in
// conv2d_direct.hpp, so results never depend on the thread count.

#include <algorithm>
#include <cstddef>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "fusenet/kernels/batch_stats.hpp"
#include "fusenet/kernels/batch_sum.hpp"
#include "fusenet/kernels/conv2d_direct.hpp"
#include "fusenet/kernels/depthwise_conv.hpp"
#include "fusenet/kernels/fma.hpp"
#include "fusenet/kernels/layout.hpp"
#include "fusenet/kernels/registers.hpp"
#include "fusenet/kernels/threads.hpp"

namespace fusenet::kernels {

namespace detail {

/// Tap rows a gradient pass keeps in registers: K accumulators (or weights) a row, plus the dz vector and a
/// temporary, within Arch's register file.
template <std::size_t K, class Arch>
inline constexpr std::size_t depthwise_grad_rows = std::min(K, (vector_registers<Arch> - 2) / K);

}  // namespace detail

/// A C-channel depthwise K×K convolution with stride Stride and zero padding Pad on an H×W map, for training.
/// Whether a convolution trains here is the plan's decision (plan/rules.hpp: trainable_depthwise_conv); the kernel
/// checks that it can run the geometry it is given. Its state is conv2d_direct_state: forward_weights holds the
/// packed [K][K][C] weights, input the bordered NHWC input kept for the weight gradient.
template <std::size_t C, std::size_t H, std::size_t W, std::size_t K, std::size_t Stride, std::size_t Pad,
          class Arch = xsimd::default_arch>
struct depthwise_conv_train {
  using vec = xsimd::batch<float, Arch>;
  static constexpr std::size_t v = vec::size;
  using geometry = detail::depthwise_geometry<C, H, W, K, Stride, Pad, 0, Arch>;
  using tile = default_depthwise_tile<C, H, W, K, Stride, Pad, Arch>;
  static constexpr std::size_t ho = geometry::ho, wo = geometry::wo;
  /// Floats of one image: the bordered NHWC input (kept; also the shape of the scattered input gradient) and z.
  static constexpr std::size_t x_image = geometry::in_image, z_image = ho * wo * C;
  static constexpr std::size_t weight_size = C * K * K;
  /// backward_from reads each image's dz without a border.
  static constexpr std::size_t dz_border = 0;

  using state = conv2d_direct_state;

  /// z = conv2d(x, w, groups = C) + bias, z NHWC (N × Ho·Wo × C), with each image's channel moments while it is
  /// in cache (moments[n·C + c]). Keeps the packed weights and the bordered NHWC input in s.
  /// Requires: x N×C×H×W (NCHW), w C×1×K×K, bias C or nullptr, moments N×C or nullptr.
  /// Ensures: z (and moments) overwritten, bit-identical for any thread count.
  static void forward(const float* x, const float* w, const float* bias, float* z, std::size_t n, state& s,
                      plane_moments* moments = nullptr) {
    detail::check_depthwise<tile, C, H, W, K, Stride, Pad, act_none, Arch>();
    s.forward_weights.resize(weight_size);
    pack_depthwise_weights<C, K>(w, s.forward_weights.data());
    s.zeros.assign(C, 0.0f);
    if (s.input.size() < n * x_image) s.input.resize(n * x_image);
    const float* b = bias != nullptr ? bias : s.zeros.data();
    [[maybe_unused]] const int team_size = static_cast<int>(detail::team_threads(n));
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(team_size) if (team_size > 1)
#endif
    for (std::size_t i = 0; i < n; ++i) {
      float* const xi = s.input.data() + i * x_image;
      float* const zi = z + i * z_image;
      nchw_to_nhwc<C, H, W, Pad>(x + i * C * H * W, xi, 1);
      detail::depthwise_run_image<geometry, tile, act_none>(xi, s.forward_weights.data(), b, zi);
      if (moments != nullptr) moments_of_pixels<Arch>(zi, ho * wo, C, moments + i * C);
    }
  }

  /// Gradients of the last forward, with image i's dz (NHWC, Ho·Wo × C, no border) from dz_of(i, scratch): the
  /// image in an array of the caller, or `scratch` (z_image floats of the calling thread) after writing it there.
  /// dx (NCHW) is overwritten unless nullptr, dw (C×1×K×K) and db (C) accumulated unless nullptr; bit-identical
  /// for any thread count. Requires: the forward of these n images ran with s. dz_of is called once per image,
  /// from any thread.
  template <class DzOf>
  static void backward_from(DzOf&& dz_of, float* dx, float* dw, float* db, std::size_t n, const state& s,
                            std::vector<float>& workspace) {
    constexpr std::size_t part_size = K * K * C, per_thread = x_image + z_image;
    const std::size_t chunks = batch_chunks(n);
    const std::size_t threads = detail::team_threads(chunks);
    const std::size_t partials = dw != nullptr ? chunks * part_size : 0, bias_partials = db != nullptr ? n * C : 0;
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
      float* const dxp = scratch + detail::thread_rank() * per_thread;
      float* const dz_scratch = dxp + x_image;
      const std::size_t first = c * batch_chunk, last = std::min(n, first + batch_chunk);
      for (std::size_t i = first; i < last; ++i) {
        const float* const dzi = dz_of(i, dz_scratch);
        if (db != nullptr) bias_grad_image(dzi, bias_parts + i * C);
        if (dw != nullptr) weight_grad_image(s.input.data() + i * x_image, dzi, parts + c * part_size, i == first);
        if (dx != nullptr) {
          input_grad_image(s.forward_weights.data(), dzi, dxp);
          nhwc_to_nchw<C, H, W, Pad>(dxp, dx + i * C * H * W, 1);
        }
      }
    }
    if (db != nullptr) add_image_sums(bias_parts, n, C, db);
    if (dw != nullptr) add_conv_weight_partials(parts, chunks, K * K, 1, C, dw);
  }

 private:
  static constexpr std::size_t rows = detail::depthwise_grad_rows<K, Arch>;
  static_assert(rows >= 1, "fusenet: depthwise_conv_train: a kernel row's taps do not fit the register file");
  static_assert(C % v == 0, "fusenet: depthwise_conv_train: the channels must fill whole SIMD vectors");
  static constexpr std::size_t x_row = geometry::in_row;  // floats of one bordered input row

  /// out[c] = Σ over the image's pixels of dz[.][c] (Ho·Wo float terms).
  static void bias_grad_image(const float* dz, float* out) {
    for (std::size_t c0 = 0; c0 < C; c0 += v) {
      vec acc(0.0f);
      for (std::size_t p = 0; p < ho * wo; ++p) acc += vec::load_unaligned(dz + p * C + c0);
      acc.store_unaligned(out + c0);
    }
  }

  /// part[ky][kx][c] (+)= Σ_{y,x} dz[y][x][c] · xp[S·y + ky][S·x + kx][c], overwritten when `first`: per channel
  /// vector, `rows` tap rows' accumulators stay in registers over the whole image.
  static void weight_grad_image(const float* xp, const float* dz, float* part, bool first) {
    for (std::size_t c0 = 0; c0 < C; c0 += v) {
      for (std::size_t ky0 = 0; ky0 < K; ky0 += rows) {
        constexpr std::size_t cap = rows;
        const std::size_t nr = std::min(rows, K - ky0);
        vec acc[cap][K];
#pragma GCC unroll 16
        for (std::size_t r = 0; r < cap; ++r)
#pragma GCC unroll 16
          for (std::size_t kx = 0; kx < K; ++kx) acc[r][kx] = vec(0.0f);
        for (std::size_t y = 0; y < ho; ++y) {
          const float* xr = xp + (Stride * y + ky0) * x_row + c0;
          const float* dr = dz + y * wo * C + c0;
          for (std::size_t x = 0; x < wo; ++x) {
            const vec d = vec::load_unaligned(dr + x * C);
            const float* xq = xr + Stride * x * C;
#pragma GCC unroll 16
            for (std::size_t r = 0; r < cap; ++r) {
              if (r >= nr) break;
#pragma GCC unroll 16
              for (std::size_t kx = 0; kx < K; ++kx)
                acc[r][kx] = kernels::fma(d, vec::load_unaligned(xq + r * x_row + kx * C), acc[r][kx]);
            }
          }
        }
        for (std::size_t r = 0; r < nr; ++r)
          for (std::size_t kx = 0; kx < K; ++kx) {
            float* p = part + ((ky0 + r) * K + kx) * C + c0;
            (first ? acc[r][kx] : acc[r][kx] + vec::load_unaligned(p)).store_unaligned(p);
          }
      }
    }
  }

  /// dxp (bordered NHWC, x_image floats) = the scatter of dz through the packed weights pw ([K][K][C]); per
  /// channel vector, `rows` tap rows' weights stay in registers.
  static void input_grad_image(const float* pw, const float* dz, float* dxp) {
    std::fill(dxp, dxp + x_image, 0.0f);
    for (std::size_t c0 = 0; c0 < C; c0 += v) {
      for (std::size_t ky0 = 0; ky0 < K; ky0 += rows) {
        constexpr std::size_t cap = rows;
        const std::size_t nr = std::min(rows, K - ky0);
        vec wt[cap][K];
#pragma GCC unroll 16
        for (std::size_t r = 0; r < cap; ++r)
#pragma GCC unroll 16
          for (std::size_t kx = 0; kx < K; ++kx)
            wt[r][kx] = r < nr ? vec::load_aligned(pw + ((ky0 + r) * K + kx) * C + c0) : vec(0.0f);
        for (std::size_t y = 0; y < ho; ++y) {
          float* xr = dxp + (Stride * y + ky0) * x_row + c0;
          const float* dr = dz + y * wo * C + c0;
          for (std::size_t x = 0; x < wo; ++x) {
            const vec d = vec::load_unaligned(dr + x * C);
            float* xq = xr + Stride * x * C;
#pragma GCC unroll 16
            for (std::size_t r = 0; r < cap; ++r) {
              if (r >= nr) break;
#pragma GCC unroll 16
              for (std::size_t kx = 0; kx < K; ++kx) {
                float* q = xq + r * x_row + kx * C;
                kernels::fma(wt[r][kx], d, vec::load_unaligned(q)).store_unaligned(q);
              }
            }
          }
        }
      }
    }
  }
};

}  // namespace fusenet::kernels
