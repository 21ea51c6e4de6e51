// SPDX-License-Identifier: MIT
// The training epilogue of batch_norm_relu_pool.hpp for a convolution that writes NHWC (the direct kernel,
// conv2d_direct.hpp): the same arithmetic, element for element, with the channels in the vector lanes.
// Forward reads z as NHWC and writes the stage output y as NCHW (the layout between layers); backward reads
// dy as NCHW and writes dz as bordered NHWC, the layout the direct kernel's backward reads, so z and dz are
// never transposed. The 2×2 pool takes four whole pixel vectors: no lane shuffles.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>
#include <xsimd/xsimd.hpp>

#include "fusenet/kernels/batch_norm_relu_pool.hpp"
#include "fusenet/kernels/fma.hpp"

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

/// Threads for_each_item may use (the per-thread scratch to reserve).
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
  detail::normalisation(channels, mean, var, gamma, beta, eps, batch_mean, batch_var, scale.data(), shift.data());
  const std::size_t per_thread = out_pixels * channels;
  const std::size_t threads = detail::epilogue_threads();
  if (workspace.size() < threads * per_thread) workspace.resize(threads * per_thread);
  // Everything the image loop reads is copied into locals first: the code stores go through an unsigned
  // char pointer, which may alias anything, and would otherwise make GCC reload every captured value.
  const float *const mean_f = batch_mean, *const scale_f = scale.data(), *const shift_f = shift.data();
  const std::size_t width = g.width, ho = g.out_h(), plane = g.plane();
  const bool pool = g.pool, relu = g.relu;
  float* const scratch = workspace.data();
  detail::for_each_item(g.batch, g.batch * plane * channels, [=](std::size_t n, std::size_t rank) {
    float* const out = scratch + rank * per_thread;  // this image's y, NHWC
    const float* const zn = z + n * plane * channels;
    std::uint8_t* const cn = code + n * per_thread;
    float* const pn = pool ? picked + n * per_thread : nullptr;  // picked is null without the pool
    const batch zero(0.0f), none(static_cast<float>(no_gradient));
    alignas(64) float at[lanes];
    for (std::size_t oy = 0; oy < ho; ++oy)
      for (std::size_t ox = 0; ox < wo; ++ox) {
        const std::size_t o = oy * wo + ox;
        for (std::size_t c = 0; c < channels; c += lanes) {
          const batch m = batch::load_unaligned(mean_f + c), s = batch::load_unaligned(scale_f + c),
                      t = batch::load_unaligned(shift_f + c);
          batch best, cell(0.0f), src;
          if (pool) {
            // the window's cells in the pool's scan order, with its rule `v > best || isnan(v)`
            const float* p0 = zn + (2 * oy * width + 2 * ox) * channels + c;
            const float* cells[4] = {p0, p0 + channels, p0 + width * channels, p0 + (width + 1) * channels};
            src = batch::load_unaligned(cells[0]);
            best = kernels::fma(src - m, s, t);
            for (std::size_t k = 1; k < 4; ++k) {
              const batch zk = batch::load_unaligned(cells[k]), vk = kernels::fma(zk - m, s, t);
              const auto take = (vk > best) | xsimd::isnan(vk);
              best = xsimd::select(take, vk, best);
              cell = xsimd::select(take, batch(static_cast<float>(k)), cell);
              src = xsimd::select(take, zk, src);
            }
            src.store_unaligned(pn + o * channels + c);
          } else {
            best = kernels::fma(batch::load_unaligned(zn + o * channels + c) - m, s, t);
          }
          if (relu) {
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
/// NCHW, and dz written as bordered NHWC, in two steps so that a convolution can take each image's dz while
/// it is in cache: the constructor makes the pass over the batch that the BatchNorm's sums Σg, Σg·(z − m)
/// need (taken per image in double and added in image order, so results never depend on the thread count)
/// and accumulates dγ, dβ (in the batch tree, batch_sum.hpp); image(n, …) then writes image n's dz, from any
/// thread.
/// Requires: the arguments outlive the object; `grad` (the masked gradient) is not touched while it lives.
template <class Arch = xsimd::default_arch>
class batch_norm_relu_pool_nhwc_gradient {
  using batch = xsimd::batch<float, Arch>;
  static constexpr std::size_t lanes = batch::size;

 public:
  /// Ensures: dgamma, dbeta accumulated (skipped if nullptr); grad grown if smaller.
  batch_norm_relu_pool_nhwc_gradient(const batch_norm_relu_pool_geometry& g, const float* z, const float* gamma,
                                     const float* batch_mean, const float* batch_var, float eps, const float* dy,
                                     const std::uint8_t* code, const float* picked, float* dgamma, float* dbeta,
                                     std::vector<float>& grad, const fusenet::detail::batch_exchange* exchange = nullptr)
      : g_(g), z_(z), mean_(batch_mean), code_(code), a_(g.channels), b_(g.channels), k_(g.channels) {
    const std::size_t channels = g.channels, out_pixels = g.out_plane(), per_image = out_pixels * channels;
    if (grad.size() < g.batch * per_image) grad.resize(g.batch * per_image);
    grad_ = grad.data();
    std::vector<double> sums(2 * g.batch * channels);  // per image: Σg, then Σg·(src − m), per channel
    detail::for_each_item(g.batch, g.batch * per_image, [&](std::size_t n, std::size_t) {
      image_sums(n, dy + n * per_image, g.pool ? picked + n * per_image : z + n * g.plane() * channels,
                 sums.data() + 2 * n * channels);
    });
    // dγ, dβ from this process's images, in the batch tree; the per-channel coefficients of
    // dz = a·g + b·(z − m) + k from the sums added in image order (in synchronized BatchNorm, every process's).
    for (std::size_t c = 0; c < channels; ++c)
      detail::parameter_gradients(sums.data() + c, sums.data() + channels + c, 2 * channels, g.batch, batch_var[c],
                                  eps, dgamma ? dgamma + c : nullptr, dbeta ? dbeta + c : nullptr);
    if (exchange != nullptr) {
      std::vector<double> all;
      exchange->all(sums, all);
      sums.swap(all);
    }
    const std::size_t images = fusenet::detail::global_batch(exchange, g.batch);
    const double count = static_cast<double>(images * g.plane());
    for (std::size_t c = 0; c < channels; ++c) {
      double sum_g = 0.0, sum_gx = 0.0;
      for (std::size_t n = 0; n < images; ++n)
        sum_g += sums[2 * n * channels + c], sum_gx += sums[(2 * n + 1) * channels + c];
      const detail::gradient_coefficients co = detail::backward_coefficients(
          sum_g, sum_gx, count, batch_var[c], eps, gamma ? gamma[c] : 1.0f, nullptr, nullptr);
      a_[c] = co.a, b_[c] = co.b, k_[c] = co.k;
    }
  }

  /// Writes image n's dz into dz: (H + 2·border) × (W + 2·border) × C with a zero border.
  /// dz = b·(z − m) + k everywhere, then + a·g at each output's source cell.
  void image(std::size_t n, float* dz, std::size_t border) const {
    const std::size_t channels = g_.channels, height = g_.height, width = g_.width, wo = g_.out_w();
    const std::size_t out_pixels = g_.out_plane(), row = (width + 2 * border) * channels;
    const std::size_t size = (height + 2 * border) * row;
    const bool pool = g_.pool;
    const float* const zn = z_ + n * height * width * channels;
    const float* const gn = grad_ + n * out_pixels * channels;
    const std::uint8_t* const cn = code_ + n * out_pixels * channels;
    const float *const mean = mean_, *const ca = a_.data(), *const cb = b_.data(), *const ck = k_.data();
    std::fill(dz, dz + border * row, 0.0f);
    std::fill(dz + (border + height) * row, dz + size, 0.0f);
    float* const d0 = dz + border * row + border * channels;  // interior pixel (0, 0)
    for (std::size_t y = 0; y < height; ++y) {
      std::fill(d0 + y * row - border * channels, d0 + y * row, 0.0f);
      std::fill(d0 + y * row + width * channels, d0 + (y + 1) * row - border * channels, 0.0f);
      const float* zr = zn + y * width * channels;
      float* dr = d0 + y * row;
      for (std::size_t x = 0; x < width; ++x)
        for (std::size_t c = 0; c < channels; c += lanes) {
          const batch v = batch::load_unaligned(zr + x * channels + c) - batch::load_unaligned(mean + c);
          kernels::fma(batch::load_unaligned(cb + c), v, batch::load_unaligned(ck + c))
              .store_unaligned(dr + x * channels + c);
        }
    }
    alignas(64) float codes[lanes];
    for (std::size_t oy = 0; oy < g_.out_h(); ++oy)
      for (std::size_t ox = 0; ox < wo; ++ox)
        for (std::size_t c = 0; c < channels; c += lanes) {
          const std::size_t at = (oy * wo + ox) * channels + c;
          // fma(a, 0, t) == t: cells that get no gradient keep the value the unfused backward gives them.
          const batch ag = batch::load_unaligned(ca + c), gv = batch::load_unaligned(gn + at);
          if (!pool) {
            float* p = d0 + oy * row + ox * channels + c;
            kernels::fma(ag, gv, batch::load_unaligned(p)).store_unaligned(p);
            continue;
          }
          for (std::size_t j = 0; j < lanes; ++j) codes[j] = static_cast<float>(cn[at + j] & 3u);
          const batch cell = batch::load_aligned(codes);
          float* const p0 = d0 + 2 * oy * row + 2 * ox * channels + c;
          float* const cells[4] = {p0, p0 + channels, p0 + row, p0 + row + channels};
          for (std::size_t k = 0; k < 4; ++k) {
            const batch old = batch::load_unaligned(cells[k]);
            xsimd::select(cell == batch(static_cast<float>(k)), kernels::fma(ag, gv, old), old)
                .store_unaligned(cells[k]);
          }
        }
  }

 private:
  /// Image n's masked gradient g = dy where the code passes gradient (else 0), NHWC into grad_, and its sums
  /// per channel: sums[c] = Σg, sums[C + c] = Σg·(src − m), float partials of at most 64 terms.
  void image_sums(std::size_t n, const float* dy, const float* src, double* sums) {
    constexpr std::size_t chunk = 64;
    const std::size_t channels = g_.channels, out_pixels = g_.out_plane();
    float* const gn = grad_ + n * out_pixels * channels;
    const std::uint8_t* const cn = code_ + n * out_pixels * channels;
    detail::planes_to_pixels(dy, out_pixels, channels, gn);
    const batch zero(0.0f), none(static_cast<float>(no_gradient));
    alignas(64) float codes[lanes], part_g[lanes], part_gx[lanes];
    for (std::size_t c = 0; c < channels; c += lanes) {
      const batch m = batch::load_unaligned(mean_ + c);
      for (std::size_t j = 0; j < lanes; ++j) sums[c + j] = 0.0, sums[channels + c + j] = 0.0;
      for (std::size_t o0 = 0; o0 < out_pixels; o0 += chunk) {
        batch a(0.0f), q(0.0f);
        for (std::size_t o = o0; o < std::min(out_pixels, o0 + chunk); ++o) {
          const std::size_t at = o * channels + c;
          for (std::size_t j = 0; j < lanes; ++j) codes[j] = cn[at + j];
          const batch gv = xsimd::select(batch::load_aligned(codes) == none, zero, batch::load_unaligned(gn + at));
          gv.store_unaligned(gn + at);
          a += gv;
          q = kernels::fma(gv, batch::load_unaligned(src + at) - m, q);
        }
        a.store_aligned(part_g);
        q.store_aligned(part_gx);
        for (std::size_t j = 0; j < lanes; ++j)
          sums[c + j] += static_cast<double>(part_g[j]), sums[channels + c + j] += static_cast<double>(part_gx[j]);
      }
    }
  }

  batch_norm_relu_pool_geometry g_;
  const float* z_;
  const float* mean_;
  const std::uint8_t* code_;
  float* grad_ = nullptr;
  std::vector<float> a_, b_, k_;
};

/// The whole backward at once: dz for every image, N × (H + 2·border) × (W + 2·border) × C floats.
/// Ensures: dz overwritten; dgamma, dbeta accumulated (skipped if nullptr); grad grown if smaller.
template <class Arch = xsimd::default_arch>
void batch_norm_relu_pool_nhwc_backward(const batch_norm_relu_pool_geometry& g, const float* z, const float* gamma,
                                        const float* batch_mean, const float* batch_var, float eps, const float* dy,
                                        const std::uint8_t* code, const float* picked, float* dz,
                                        std::size_t border, float* dgamma, float* dbeta, std::vector<float>& grad) {
  const batch_norm_relu_pool_nhwc_gradient<Arch> gradient(g, z, gamma, batch_mean, batch_var, eps, dy, code, picked,
                                                          dgamma, dbeta, grad);
  const std::size_t image = (g.height + 2 * border) * (g.width + 2 * border) * g.channels;
  detail::for_each_item(g.batch, g.batch * g.plane() * g.channels,
                         [&](std::size_t n, std::size_t) { gradient.image(n, dz + n * image, border); });
}

}  // namespace fusenet::kernels
