// SPDX-License-Identifier: MIT
// Training-path batch normalisation (float; BatchNorm1d on N×C, BatchNorm2d on N×C×H×W), forward
// and backward with xsimd plane reductions, threaded over channels, with the scalar twin's results.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>
#include <fusenet/kernels/batch_stats.hpp>
#include <fusenet/kernels/batch_sum.hpp>
#include <fusenet/kernels/scalar/batch_norm.hpp>
#include <xsimd/xsimd.hpp>

#include "fusenet/kernels/fma.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusenet::kernels {

/// Runtime sizes of one batch-norm call, shared with the scalar twin so both take the same
/// arguments.
using scalar::batch_norm_geometry;

namespace detail {

/// Elements below which a batch-norm call stays on one thread: forking costs more than the work.
inline constexpr std::size_t batch_norm_parallel_min = std::size_t{1} << 15;

/// Channels summed together on the stack in the BatchNorm1d (spatial = 1) loops.
inline constexpr std::size_t batch_norm_channel_block = 64;

/// Σ (p[i] - shift) and Σ (p[i] - shift)² over one plane, added to sum and sq (see shifted_sums).
template <class Arch>
inline void plane_sums(const float* p, std::size_t len, float shift, double& sum, double& sq) {
  double s = 0.0, q = 0.0;
  shifted_sums<Arch>(p, len, shift, s, q);
  sum += s;
  sq += q;
}

/// Σ dy and Σ dy·(x - mean) over one plane, float vector partials added in double by the caller.
template <class Arch>
inline void plane_grad_sums(const float* x, const float* dy, std::size_t len, float mean,
                            double& sum_dy, double& sum_dy_xc) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = batch::size;
  const batch m(mean);
  batch a0(0.0f), a1(0.0f), q0(0.0f), q1(0.0f);
  std::size_t i = 0;
  for (; i + 2 * lanes <= len; i += 2 * lanes) {
    const batch g0 = batch::load_unaligned(dy + i), g1 = batch::load_unaligned(dy + i + lanes);
    a0 += g0;
    a1 += g1;
    q0 = kernels::fma(g0, batch::load_unaligned(x + i) - m, q0);
    q1 = kernels::fma(g1, batch::load_unaligned(x + i + lanes) - m, q1);
  }
  float ts = 0.0f, tq = 0.0f;
  for (; i < len; ++i) {  // explicit FMAs, as shifted_sums (batch_stats.hpp): never left to contraction
    ts += dy[i];
    tq = std::fma(dy[i], x[i] - mean, tq);
  }
  sum_dy += static_cast<double>(xsimd::hadd(a0 + a1)) + static_cast<double>(ts);
  sum_dy_xc += static_cast<double>(xsimd::hadd(q0 + q1)) + static_cast<double>(tq);
}

}  // namespace detail

/// Training-mode forward, as scalar::batch_norm_train_forward: y = (x - mean) * inv_std * gamma +
/// beta with the batch mean and BIASED variance. Statistics take two passes (mean, then squared
/// deviations from it: no E[x²] - E[x]² cancellation), each plane summed in float lanes and the
/// planes in double, in a fixed order. BatchNorm2d spreads channels over OpenMP threads (a channel
/// of a batch-64 28×28 map is 200 KB, so its later passes hit L2); results never depend on the
/// thread count.
/// Requires: gamma and beta are C or both nullptr. Ensures: y, batch_mean, batch_var overwritten.
template <class Arch = xsimd::default_arch>
void batch_norm_train_forward(const batch_norm_geometry& g, const float* x, const float* gamma,
                              const float* beta, float eps, float* y, float* batch_mean,
                              float* batch_var) {
  const std::size_t cs = g.channels * g.spatial;
  const double count = static_cast<double>(g.batch * g.spatial);
  if (g.spatial == 1) {  // N×C rows: channels in the vector lanes, blocks of them on the stack
    for (std::size_t c0 = 0; c0 < g.channels; c0 += detail::batch_norm_channel_block) {
      const std::size_t cn = std::min(detail::batch_norm_channel_block, g.channels - c0);
      double sum[detail::batch_norm_channel_block] = {}, sq[detail::batch_norm_channel_block] = {};
      for (std::size_t n = 0; n < g.batch; ++n) {
        const float* xr = x + n * cs + c0;
        for (std::size_t c = 0; c < cn; ++c) sum[c] += static_cast<double>(xr[c]);
      }
      for (std::size_t c = 0; c < cn; ++c) sum[c] /= count;  // now the mean
      for (std::size_t n = 0; n < g.batch; ++n) {
        const float* xr = x + n * cs + c0;
        for (std::size_t c = 0; c < cn; ++c) {
          const double d = static_cast<double>(xr[c]) - sum[c];
          sq[c] += d * d;
        }
      }
      float scale[detail::batch_norm_channel_block], shift[detail::batch_norm_channel_block];
      for (std::size_t c = 0; c < cn; ++c) {
        const double var = sq[c] / count;
        const double inv_std = 1.0 / std::sqrt(var + static_cast<double>(eps));
        const double ga = gamma ? static_cast<double>(gamma[c0 + c]) : 1.0;
        const double be = beta ? static_cast<double>(beta[c0 + c]) : 0.0;
        scale[c] = static_cast<float>(ga * inv_std);
        shift[c] = static_cast<float>(be - sum[c] * ga * inv_std);
        batch_mean[c0 + c] = static_cast<float>(sum[c]);
        batch_var[c0 + c] = static_cast<float>(var);
      }
      for (std::size_t n = 0; n < g.batch; ++n) {
        const float* xr = x + n * cs + c0;
        float* yr = y + n * cs + c0;
        for (std::size_t c = 0; c < cn; ++c) yr[c] = std::fma(xr[c], scale[c], shift[c]);
      }
    }
    return;
  }
  [[maybe_unused]] const bool parallel = g.batch * cs >= detail::batch_norm_parallel_min;
  const auto channels = static_cast<std::ptrdiff_t>(g.channels);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (std::ptrdiff_t ci = 0; ci < channels; ++ci) {
    const auto c = static_cast<std::size_t>(ci);
    double sum = 0.0, unused = 0.0;
    for (std::size_t n = 0; n < g.batch; ++n) {
      detail::plane_sums<Arch>(x + n * cs + c * g.spatial, g.spatial, 0.0f, sum, unused);
    }
    const double mean = sum / count;
    // Deviations from the float-rounded mean: Σ(x - m')² = Σ(x - m)² + n(m - m')², the second
    // term far below float precision.
    const auto mean_f = static_cast<float>(mean);
    double dev = 0.0, sq = 0.0;
    for (std::size_t n = 0; n < g.batch; ++n) {
      detail::plane_sums<Arch>(x + n * cs + c * g.spatial, g.spatial, mean_f, dev, sq);
    }
    const double var = std::max(0.0, sq / count - (dev / count) * (dev / count));
    const double inv_std = 1.0 / std::sqrt(var + static_cast<double>(eps));
    const double ga = gamma ? static_cast<double>(gamma[c]) : 1.0;
    const double be = beta ? static_cast<double>(beta[c]) : 0.0;
    // y = (x - mean') * scale + beta, with mean' the float mean: keeps x - mean exact-ish in float.
    const auto scale = static_cast<float>(ga * inv_std);
    const auto shift = static_cast<float>(be - (mean - static_cast<double>(mean_f)) * ga * inv_std);
    for (std::size_t n = 0; n < g.batch; ++n) {
      const float* xp = x + n * cs + c * g.spatial;
      float* yp = y + n * cs + c * g.spatial;
      for (std::size_t s = 0; s < g.spatial; ++s) yp[s] = std::fma(xp[s] - mean_f, scale, shift);
    }
    batch_mean[c] = mean_f;
    batch_var[c] = static_cast<float>(var);
  }
}

/// Running-statistics update, as scalar::batch_norm_update_running (C elements: no fast path needed).
template <class Arch = xsimd::default_arch>
void batch_norm_update_running(const batch_norm_geometry& g, const float* batch_mean,
                               const float* batch_var, float momentum, float* running_mean,
                               float* running_var) {
  scalar::batch_norm_update_running(g, batch_mean, batch_var, momentum, running_mean, running_var);
}

/// Evaluation-mode forward, as scalar::batch_norm_eval_forward: one multiply-add per element with
/// per-channel scale = gamma / sqrt(running_var + eps) and shift = beta - running_mean * scale.
template <class Arch = xsimd::default_arch>
void batch_norm_eval_forward(const batch_norm_geometry& g, const float* x, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var,
                             float eps, float* y) {
  const std::size_t cs = g.channels * g.spatial;
  [[maybe_unused]] const bool parallel = g.batch * cs >= detail::batch_norm_parallel_min;
  const auto batch = static_cast<std::ptrdiff_t>(g.batch);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (std::ptrdiff_t ni = 0; ni < batch; ++ni) {
    const auto n = static_cast<std::size_t>(ni);
    for (std::size_t c = 0; c < g.channels; ++c) {
      const float inv_std = 1.0f / std::sqrt(running_var[c] + eps);
      const float scale = (gamma ? gamma[c] : 1.0f) * inv_std;
      const float shift = beta ? beta[c] : 0.0f;
      const float m = running_mean[c];
      const float* xp = x + n * cs + c * g.spatial;
      float* yp = y + n * cs + c * g.spatial;
      for (std::size_t s = 0; s < g.spatial; ++s) yp[s] = std::fma(xp[s] - m, scale, shift);
    }
  }
}

/// Training-mode backward, as scalar::batch_norm_backward: with xhat = (x - mean) * inv_std and
/// n = batch*spatial, dbeta += Σ dy, dgamma += Σ dy*xhat (over the images in the batch tree, batch_sum.hpp), and
/// dx = gamma*inv_std * dy - gamma*inv_std/n * (Σ dy + xhat * Σ dy*xhat), evaluated per element as
/// a*dy + b*(x - mean) + c with a, b, c per channel in double. Sums as in the forward; channels
/// spread over OpenMP threads; results never depend on the thread count.
/// Requires: batch_mean and batch_var as written by batch_norm_train_forward on the same x.
/// Ensures: dx overwritten (skip if nullptr); dgamma and dbeta accumulated (skip if nullptr).
template <class Arch = xsimd::default_arch>
void batch_norm_backward(const batch_norm_geometry& g, const float* x, const float* gamma,
                         const float* batch_mean, const float* batch_var, float eps, const float* dy,
                         float* dx, float* dgamma, float* dbeta) {
  const std::size_t cs = g.channels * g.spatial;
  const double count = static_cast<double>(g.batch * g.spatial);
  auto coefficients = [&](std::size_t c, double sum_dy, double sum_dy_xc, float& a, float& b,
                          float& k) {
    const double inv_std =
        1.0 / std::sqrt(static_cast<double>(batch_var[c]) + static_cast<double>(eps));
    const double sum_dy_xhat = sum_dy_xc * inv_std;
    const double gi = (gamma ? static_cast<double>(gamma[c]) : 1.0) * inv_std;
    a = static_cast<float>(gi);
    b = static_cast<float>(-gi / count * sum_dy_xhat * inv_std);
    k = static_cast<float>(-gi / count * sum_dy);
  };
  if (g.spatial == 1) {
    std::vector<double> terms;
    for (std::size_t c0 = 0; c0 < g.channels; c0 += detail::batch_norm_channel_block) {
      const std::size_t cn = std::min(detail::batch_norm_channel_block, g.channels - c0);
      // Each value's two terms stored, then added in image order: the products rounded as the synchronized
      // BatchNorm's (dist/sync_batch_norm.hpp) are, never contracted into the sum.
      terms.resize(2 * g.batch * cn);
      for (std::size_t n = 0; n < g.batch; ++n) {
        const float* xr = x + n * cs + c0;
        const float* dr = dy + n * cs + c0;
        for (std::size_t c = 0; c < cn; ++c) {
          terms[2 * (n * cn + c)] = static_cast<double>(dr[c]);
          terms[2 * (n * cn + c) + 1] = static_cast<double>(dr[c]) *
                   (static_cast<double>(xr[c]) - static_cast<double>(batch_mean[c0 + c]));
        }
      }
      double sd[detail::batch_norm_channel_block] = {}, sx[detail::batch_norm_channel_block] = {};
      for (std::size_t n = 0; n < g.batch; ++n)
        for (std::size_t c = 0; c < cn; ++c) sd[c] += terms[2 * (n * cn + c)], sx[c] += terms[2 * (n * cn + c) + 1];
      float a[detail::batch_norm_channel_block], b[detail::batch_norm_channel_block],
          k[detail::batch_norm_channel_block];
      for (std::size_t c = 0; c < cn; ++c) {
        coefficients(c0 + c, sd[c], sx[c], a[c], b[c], k[c]);
        detail::parameter_gradients(terms.data() + 2 * c, terms.data() + 2 * c + 1, 2 * cn, g.batch,
                                    batch_var[c0 + c], eps, dgamma ? dgamma + c0 + c : nullptr,
                                    dbeta ? dbeta + c0 + c : nullptr);
      }
      if (!dx) continue;
      for (std::size_t n = 0; n < g.batch; ++n) {
        const float* xr = x + n * cs + c0;
        const float* dr = dy + n * cs + c0;
        float* out = dx + n * cs + c0;
        for (std::size_t c = 0; c < cn; ++c) {
          out[c] = std::fma(a[c], dr[c], std::fma(b[c], xr[c] - batch_mean[c0 + c], k[c]));
        }
      }
    }
    return;
  }
  [[maybe_unused]] const bool parallel = g.batch * cs >= detail::batch_norm_parallel_min;
  const auto channels = static_cast<std::ptrdiff_t>(g.channels);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (std::ptrdiff_t ci = 0; ci < channels; ++ci) {
    const auto c = static_cast<std::size_t>(ci);
    const float m = batch_mean[c];
    // each image's sums, then added in image order (as the synchronized BatchNorm adds every process's)
    std::vector<double> terms(2 * g.batch);
    double sum_dy = 0.0, sum_dy_xc = 0.0;
    for (std::size_t n = 0; n < g.batch; ++n) {
      const std::size_t off = n * cs + c * g.spatial;
      detail::plane_grad_sums<Arch>(x + off, dy + off, g.spatial, m, terms[2 * n], terms[2 * n + 1]);
      sum_dy += terms[2 * n], sum_dy_xc += terms[2 * n + 1];
    }
    float a = 0.0f, b = 0.0f, k = 0.0f;
    coefficients(c, sum_dy, sum_dy_xc, a, b, k);
    detail::parameter_gradients(terms.data(), terms.data() + 1, 2, g.batch, batch_var[c], eps,
                                dgamma ? dgamma + c : nullptr, dbeta ? dbeta + c : nullptr);
    if (!dx) continue;
    for (std::size_t n = 0; n < g.batch; ++n) {
      const std::size_t off = n * cs + c * g.spatial;
      const float* xp = x + off;
      const float* dyp = dy + off;
      float* dxp = dx + off;
      for (std::size_t s = 0; s < g.spatial; ++s) dxp[s] = std::fma(a, dyp[s], std::fma(b, xp[s] - m, k));
    }
  }
}

/// Evaluation-mode backward, as scalar::batch_norm_eval_backward (not on the training path).
template <class Arch = xsimd::default_arch>
void batch_norm_eval_backward(const batch_norm_geometry& g, const float* x, const float* gamma,
                              const float* running_mean, const float* running_var, float eps,
                              const float* dy, float* dx, float* dgamma, float* dbeta) {
  scalar::batch_norm_eval_backward(g, x, gamma, running_mean, running_var, eps, dy, dx, dgamma, dbeta);
}

}  // namespace fusenet::kernels
