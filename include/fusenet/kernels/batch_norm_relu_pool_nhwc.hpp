// SPDX-License-Identifier: MIT
// The training epilogue of batch_norm_relu_pool.hpp for a convolution that writes NHWC (the direct kernel,
// conv2d_direct.hpp): the same arithmetic, element for element, with the channels in the vector lanes.
// Forward reads z as NHWC and writes the stage output y as NCHW (the layout between layers); backward reads
// dy as NCHW and writes dz as bordered NHWC, the layout the direct kernel's backward reads, so z and dz are
// never transposed. The 2×2 pool takes four whole pixel vectors: no lane shuffles.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "fusenet/kernels/batch_norm_relu_pool.hpp"
#include "fusenet/kernels/conv2d_gemm.hpp"

namespace fusenet::kernels {

namespace detail {

/// dst[c·pixels + p] = src[p·channels + c]: one image from pixel-major (NHWC) to channel-major (NCHW).
inline void pixels_to_planes(const float* __restrict src, std::size_t pixels, std::size_t channels,
                             float* __restrict dst) {
  for (std::size_t c = 0; c < channels; ++c)
    for (std::size_t p = 0; p < pixels; ++p) dst[c * pixels + p] = src[p * channels + c];
}

/// dst[p·channels + c] = src[c·pixels + p]: one image from NCHW to NHWC.
inline void planes_to_pixels(const float* __restrict src, std::size_t pixels, std::size_t channels,
                             float* __restrict dst) {
  for (std::size_t p = 0; p < pixels; ++p)
    for (std::size_t c = 0; c < channels; ++c) dst[p * channels + c] = src[c * pixels + p];
}

/// Per-channel float vectors of the forward's normalisation: m' (the float batch mean), scale, shift.
struct channel_affine {
  std::vector<float> mean, scale, shift;
};

/// Runs f(n, rank) for each image n over OpenMP threads (rank: the calling thread's index) when the
/// work is large enough; images are computed alone, so results never depend on the thread count.
template <class F>
void for_each_image(std::size_t batch, std::size_t work, F&& f) {
  [[maybe_unused]] const bool parallel = work >= epilogue_parallel_min;
  const auto count = static_cast<std::ptrdiff_t>(batch);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (std::ptrdiff_t i = 0; i < count; ++i) f(static_cast<std::size_t>(i), conv2d_thread_rank());
}

/// Threads for_each_image may use (the per-thread scratch to reserve).
inline std::size_t epilogue_threads() {
#ifdef _OPENMP
  return static_cast<std::size_t>(omp_get_max_threads());
#else
  return 1;
#endif
}

}  // namespace detail

/// Forward, as batch_norm_relu_pool_forward but with z NHWC (N × H·W × C) and code, picked NHWC over the
/// outputs (N × out_plane × C); y is NCHW. Requires: C a multiple of the vector width.
/// Ensures: y, code, picked, batch_mean, batch_var overwritten; workspace grown if smaller.
template <class Arch = xsimd::default_arch>
void batch_norm_relu_pool_nhwc_forward(const batch_norm_relu_pool_geometry& g, const float* z, const double* mean,
                                       const double* var, const float* gamma, const float* beta, float eps,
                                       float* y, std::uint8_t* code, float* picked, float* batch_mean,
                                       float* batch_var, std::vector<float>& workspace) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = batch::size;
  const std::size_t channels = g.channels, out_pixels = g.out_plane(), wo = g.out_w();
  std::vector<float> scale(channels), shift(channels);
  for (std::size_t c = 0; c < channels; ++c) {
    const double inv_std = 1.0 / std::sqrt(var[c] + static_cast<double>(eps));
    const double ga = gamma ? static_cast<double>(gamma[c]) : 1.0;
    const double be = beta ? static_cast<double>(beta[c]) : 0.0;
    batch_mean[c] = static_cast<float>(mean[c]);
    batch_var[c] = static_cast<float>(var[c]);
    scale[c] = static_cast<float>(ga * inv_std);
    shift[c] = static_cast<float>(be - (mean[c] - static_cast<double>(batch_mean[c])) * ga * inv_std);
  }
  const std::size_t per_thread = out_pixels * channels;
  const std::size_t threads = detail::epilogue_threads();
  if (workspace.size() < threads * per_thread) workspace.resize(threads * per_thread);
  const batch zero(0.0f), none(static_cast<float>(no_gradient));
  detail::for_each_image(g.batch, g.batch * g.plane() * channels, [&](std::size_t n, std::size_t rank) {
    float* const out = workspace.data() + rank * per_thread;  // this image's y, NHWC
    const float* zn = z + n * g.plane() * channels;
    std::uint8_t* cn = code + n * per_thread;
    float* pn = picked + n * per_thread;
    alignas(64) float at[lanes];
    for (std::size_t o = 0; o < out_pixels; ++o) {
      const std::size_t oy = o / wo, ox = o % wo;
      for (std::size_t c = 0; c < channels; c += lanes) {
        const batch m = batch::load_unaligned(batch_mean + c), s = batch::load_unaligned(scale.data() + c),
                    t = batch::load_unaligned(shift.data() + c);
        batch best, cell(0.0f), src;
        if (g.pool) {
          // the window's cells in the pool's scan order, with its rule `v > best || isnan(v)`
          const float* p0 = zn + (2 * oy * g.width + 2 * ox) * channels + c;
          const float* cells[4] = {p0, p0 + channels, p0 + g.width * channels, p0 + (g.width + 1) * channels};
          src = batch::load_unaligned(cells[0]);
          best = xsimd::fma(src - m, s, t);
          for (std::size_t k = 1; k < 4; ++k) {
            const batch zk = batch::load_unaligned(cells[k]), vk = xsimd::fma(zk - m, s, t);
            const auto take = (vk > best) | xsimd::isnan(vk);
            best = xsimd::select(take, vk, best);
            cell = xsimd::select(take, batch(static_cast<float>(k)), cell);
            src = xsimd::select(take, zk, src);
          }
          src.store_unaligned(pn + o * channels + c);
        } else {
          best = xsimd::fma(batch::load_unaligned(zn + o * channels + c) - m, s, t);
        }
        if (g.relu) {
          // ReLU passes gradient only where its input is > 0 (not at 0, not at NaN), as PyTorch.
          cell = xsimd::select(best > zero, cell, none);
          best = xsimd::select(best < zero, zero, best);
        }
        best.store_unaligned(out + o * channels + c);
        cell.store_aligned(at);
        for (std::size_t j = 0; j < lanes; ++j) cn[o * channels + c + j] = static_cast<std::uint8_t>(at[j]);
      }
    }
    detail::pixels_to_planes(out, out_pixels, channels, y + n * per_thread);
  });
}

/// Backward, as batch_norm_relu_pool_backward but with z, code, picked as the NHWC forward wrote them, dy
/// NCHW, and dz written as bordered NHWC: N images of (H + 2·border) × (W + 2·border) × C with a zero border,
/// ready for conv2d_direct's backward. The sums Σg, Σg·(z − m) are taken per image in double and added in
/// image order, so results never depend on the thread count. Ensures: dz overwritten; dgamma, dbeta
/// accumulated (skipped if nullptr); workspace grown if smaller.
template <class Arch = xsimd::default_arch>
void batch_norm_relu_pool_nhwc_backward(const batch_norm_relu_pool_geometry& g, const float* z, const float* gamma,
                                        const float* batch_mean, const float* batch_var, float eps, const float* dy,
                                        const std::uint8_t* code, const float* picked, float* dz,
                                        std::size_t border, float* dgamma, float* dbeta,
                                        std::vector<float>& workspace) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = batch::size, chunk = 64;
  const std::size_t channels = g.channels, out_pixels = g.out_plane(), pixels = g.plane();
  const std::size_t per_image = out_pixels * channels;
  // workspace: the masked gradient g (NHWC, all images); sums: per image Σg, then Σg·(src − m)
  if (workspace.size() < g.batch * per_image) workspace.resize(g.batch * per_image);
  float* const grad = workspace.data();
  std::vector<double> sums_storage(2 * g.batch * channels);
  double* const sums = sums_storage.data();
  const batch zero(0.0f), none(static_cast<float>(no_gradient));

  // Pass 1, per image: g = dy where the code passes gradient (else 0), and its sums.
  detail::for_each_image(g.batch, g.batch * per_image, [&](std::size_t n, std::size_t) {
    float* gn = grad + n * per_image;
    detail::planes_to_pixels(dy + n * per_image, out_pixels, channels, gn);
    const std::uint8_t* cn = code + n * per_image;
    const float* src = g.pool ? picked + n * per_image : z + n * pixels * channels;
    double* sg = sums + 2 * n * channels;
    double* sgx = sg + channels;
    alignas(64) float codes[lanes], part_g[lanes], part_gx[lanes];
    for (std::size_t c = 0; c < channels; c += lanes) {
      const batch m = batch::load_unaligned(batch_mean + c);
      for (std::size_t j = 0; j < lanes; ++j) sg[c + j] = 0.0, sgx[c + j] = 0.0;
      for (std::size_t o0 = 0; o0 < out_pixels; o0 += chunk) {
        batch a(0.0f), q(0.0f);
        for (std::size_t o = o0; o < std::min(out_pixels, o0 + chunk); ++o) {
          const std::size_t at = o * channels + c;
          for (std::size_t j = 0; j < lanes; ++j) codes[j] = cn[at + j];
          const batch gv = xsimd::select(batch::load_aligned(codes) == none, zero, batch::load_unaligned(gn + at));
          gv.store_unaligned(gn + at);
          a += gv;
          q = xsimd::fma(gv, batch::load_unaligned(src + at) - m, q);
        }
        a.store_aligned(part_g);
        q.store_aligned(part_gx);
        for (std::size_t j = 0; j < lanes; ++j)
          sg[c + j] += static_cast<double>(part_g[j]), sgx[c + j] += static_cast<double>(part_gx[j]);
      }
    }
  });

  // The per-channel coefficients of dz = a·g + b·(z − m) + k, from the sums added in image order.
  const double count = static_cast<double>(g.batch * pixels);
  std::vector<float> ca(channels), cb(channels), ck(channels);
  for (std::size_t c = 0; c < channels; ++c) {
    double sum_g = 0.0, sum_gx = 0.0;
    for (std::size_t n = 0; n < g.batch; ++n) sum_g += sums[2 * n * channels + c], sum_gx += sums[(2 * n + 1) * channels + c];
    const double inv_std = 1.0 / std::sqrt(static_cast<double>(batch_var[c]) + static_cast<double>(eps));
    const double sum_g_xhat = sum_gx * inv_std;
    if (dbeta) dbeta[c] += static_cast<float>(sum_g);
    if (dgamma) dgamma[c] += static_cast<float>(sum_g_xhat);
    const double gi = (gamma ? static_cast<double>(gamma[c]) : 1.0) * inv_std;
    ca[c] = static_cast<float>(gi);
    cb[c] = static_cast<float>(-gi / count * sum_g_xhat * inv_std);
    ck[c] = static_cast<float>(-gi / count * sum_g);
  }

  // Pass 2, per image: dz = b·(z − m) + k everywhere, then + a·g at each output's source cell.
  const std::size_t row = (g.width + 2 * border) * channels;
  const std::size_t image = (g.height + 2 * border) * row;
  detail::for_each_image(g.batch, g.batch * pixels * channels, [&](std::size_t n, std::size_t) {
    float* dn = dz + n * image;
    const float* zn = z + n * pixels * channels;
    const float* gn = grad + n * per_image;
    const std::uint8_t* cn = code + n * per_image;
    std::fill(dn, dn + border * row, 0.0f);
    std::fill(dn + (border + g.height) * row, dn + image, 0.0f);
    float* d0 = dn + border * row + border * channels;  // interior pixel (0, 0)
    for (std::size_t yy = 0; yy < g.height; ++yy) {
      std::fill(d0 + yy * row - border * channels, d0 + yy * row, 0.0f);
      std::fill(d0 + yy * row + g.width * channels, d0 + (yy + 1) * row - border * channels, 0.0f);
      for (std::size_t xx = 0; xx < g.width; ++xx)
        for (std::size_t c = 0; c < channels; c += lanes) {
          const batch v = batch::load_unaligned(zn + (yy * g.width + xx) * channels + c) -
                          batch::load_unaligned(batch_mean + c);
          xsimd::fma(batch::load_unaligned(cb.data() + c), v, batch::load_unaligned(ck.data() + c))
              .store_unaligned(d0 + yy * row + xx * channels + c);
        }
    }
    alignas(64) float codes[lanes];
    const std::size_t wo = g.out_w();
    for (std::size_t o = 0; o < out_pixels; ++o) {
      const std::size_t oy = o / wo, ox = o % wo;
      for (std::size_t c = 0; c < channels; c += lanes) {
        const std::size_t at = o * channels + c;
        // fma(a, 0, t) == t: cells that get no gradient keep the value the unfused backward gives them.
        const batch ag = batch::load_unaligned(ca.data() + c), gv = batch::load_unaligned(gn + at);
        if (!g.pool) {
          float* p = d0 + oy * row + ox * channels + c;
          xsimd::fma(ag, gv, batch::load_unaligned(p)).store_unaligned(p);
          continue;
        }
        for (std::size_t j = 0; j < lanes; ++j) codes[j] = static_cast<float>(cn[at + j] & 3u);
        const batch cell = batch::load_aligned(codes);
        float* p0 = d0 + 2 * oy * row + 2 * ox * channels + c;
        float* cells[4] = {p0, p0 + channels, p0 + row, p0 + row + channels};
        for (std::size_t k = 0; k < 4; ++k) {
          const batch old = batch::load_unaligned(cells[k]);
          xsimd::select(cell == batch(static_cast<float>(k)), xsimd::fma(ag, gv, old), old).store_unaligned(cells[k]);
        }
      }
    }
  });
}

}  // namespace fusenet::kernels
