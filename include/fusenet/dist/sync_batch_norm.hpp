// SPDX-License-Identifier: MIT
// Synchronized BatchNorm for a batch_norm layer trained on its own (not fused
// after a conv or dense): the statistics and the two backward sums of the
// global batch of a data-parallel step, with the per-plane partial sums of
// kernels/batch_norm.hpp exchanged between processes and added in global image
// order, so that each process gets the sums a single process holding the whole
// batch computes, bit for bit. No MPI here: the exchange is a hook.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "fusenet/detail/batch_exchange.hpp"
#include "fusenet/kernels/batch_norm.hpp"
#include "fusenet/kernels/batch_sum.hpp"

namespace fusenet::dist::detail {

/// Sums part[n·C + c] (and part2 likewise) over the gathered images n in order,
/// per channel c.
inline void add_in_image_order(const std::vector<double> &all,
                               std::size_t images, std::size_t channels,
                               std::size_t stride, std::size_t offset,
                               double *out) {
  for (std::size_t c = 0; c < channels; ++c) {
    double s = 0.0;
    for (std::size_t n = 0; n < images; ++n)
      s += all[(n * channels + c) * stride + offset];
    out[c] = s;
  }
}

/// As kernels::batch_norm_train_forward over the global batch: this process
/// holds g.batch of its images.
template <class Arch = xsimd::default_arch>
void sync_batch_norm_train_forward(const kernels::batch_norm_geometry &g,
                                   const float *x, const float *gamma,
                                   const float *beta, float eps, float *y,
                                   float *batch_mean, float *batch_var,
                                   const fusenet::detail::batch_exchange &ex) {
  const std::size_t channels = g.channels, cs = channels * g.spatial,
                    images = ex.ranks * g.batch;
  const double count = static_cast<double>(images * g.spatial);
  std::vector<double> part(2 * g.batch * channels), all, sum(channels),
      dev(channels), sq(channels);
  std::vector<float> mean_f(channels);
  // Pass 1: Σx per plane (per value when spatial = 1, as the kernel's
  // BatchNorm1d loop adds them).
  for (std::size_t n = 0; n < g.batch; ++n)
    for (std::size_t c = 0; c < channels; ++c) {
      const float *p = x + n * cs + c * g.spatial;
      double s = 0.0, unused = 0.0;
      if (g.spatial == 1)
        s = static_cast<double>(*p);
      else
        kernels::detail::plane_sums<Arch>(p, g.spatial, 0.0f, s, unused);
      part[2 * (n * channels + c)] = s;
    }
  ex.all(part, all);
  add_in_image_order(all, images, channels, 2, 0, sum.data());
  // Pass 2: deviations from the mean (spatial = 1: the double mean, squared;
  // else the float mean, shifted sums).
  for (std::size_t c = 0; c < channels; ++c)
    mean_f[c] = static_cast<float>(sum[c] / count);
  for (std::size_t n = 0; n < g.batch; ++n)
    for (std::size_t c = 0; c < channels; ++c) {
      const float *p = x + n * cs + c * g.spatial;
      double d = 0.0, q = 0.0;
      if (g.spatial == 1) {
        const double v = static_cast<double>(*p) - sum[c] / count;
        q = v * v;
      } else {
        kernels::detail::plane_sums<Arch>(p, g.spatial, mean_f[c], d, q);
      }
      part[2 * (n * channels + c)] = d, part[2 * (n * channels + c) + 1] = q;
    }
  ex.all(part, all);
  add_in_image_order(all, images, channels, 2, 0, dev.data());
  add_in_image_order(all, images, channels, 2, 1, sq.data());
  for (std::size_t c = 0; c < channels; ++c) {
    const double mean = sum[c] / count;
    const double var =
        g.spatial == 1 ? sq[c] / count
                       : std::max(0.0, sq[c] / count -
                                           (dev[c] / count) * (dev[c] / count));
    const double inv_std = 1.0 / std::sqrt(var + static_cast<double>(eps));
    const double ga = gamma ? static_cast<double>(gamma[c]) : 1.0;
    const double be = beta ? static_cast<double>(beta[c]) : 0.0;
    float scale = 0.0f, shift = 0.0f, m = 0.0f;
    if (g.spatial ==
        1) { // y = fma(x, scale, shift), as the kernel's BatchNorm1d loop
      scale = static_cast<float>(ga * inv_std);
      shift = static_cast<float>(be - mean * ga * inv_std);
      batch_mean[c] = static_cast<float>(mean);
    } else { // y = fma(x − m', scale, shift) around the float mean m'
      m = mean_f[c];
      scale = static_cast<float>(ga * inv_std);
      shift = static_cast<float>(be - (mean - static_cast<double>(m)) * ga *
                                          inv_std);
      batch_mean[c] = m;
    }
    batch_var[c] = static_cast<float>(var);
    for (std::size_t n = 0; n < g.batch; ++n) {
      const float *xp = x + n * cs + c * g.spatial;
      float *yp = y + n * cs + c * g.spatial;
      for (std::size_t s = 0; s < g.spatial; ++s)
        yp[s] = g.spatial == 1 ? std::fma(xp[s], scale, shift)
                               : std::fma(xp[s] - m, scale, shift);
    }
  }
}

/// As kernels::batch_norm_backward over the global batch: Σdy and Σdy·(x −
/// mean) of every process's images give dx; dγ and dβ are accumulated from this
/// process's images only, in the batch tree (the gradient allreduce adds the
/// processes).
template <class Arch = xsimd::default_arch>
void sync_batch_norm_backward(const kernels::batch_norm_geometry &g,
                              const float *x, const float *gamma,
                              const float *batch_mean, const float *batch_var,
                              float eps, const float *dy, float *dx,
                              float *dgamma, float *dbeta,
                              const fusenet::detail::batch_exchange &ex) {
  const std::size_t channels = g.channels, cs = channels * g.spatial,
                    images = ex.ranks * g.batch;
  const double count = static_cast<double>(images * g.spatial);
  std::vector<double> part(2 * g.batch * channels), all, sd(channels),
      sx(channels);
  for (std::size_t n = 0; n < g.batch; ++n)
    for (std::size_t c = 0; c < channels; ++c) {
      const std::size_t off = n * cs + c * g.spatial;
      double a = 0.0, b = 0.0;
      if (g.spatial == 1) {
        a = static_cast<double>(dy[off]);
        b = static_cast<double>(dy[off]) *
            (static_cast<double>(x[off]) - static_cast<double>(batch_mean[c]));
      } else {
        kernels::detail::plane_grad_sums<Arch>(x + off, dy + off, g.spatial,
                                               batch_mean[c], a, b);
      }
      part[2 * (n * channels + c)] = a, part[2 * (n * channels + c) + 1] = b;
    }
  // dγ, dβ from this process's images, in the batch tree (the gradient
  // allreduce adds the processes)
  for (std::size_t c = 0; c < channels; ++c)
    kernels::detail::parameter_gradients(
        part.data() + 2 * c, part.data() + 2 * c + 1, 2 * channels, g.batch,
        batch_var[c], eps, dgamma ? dgamma + c : nullptr,
        dbeta ? dbeta + c : nullptr);
  ex.all(part, all);
  add_in_image_order(all, images, channels, 2, 0, sd.data());
  add_in_image_order(all, images, channels, 2, 1, sx.data());
  for (std::size_t c = 0; c < channels; ++c) {
    const double inv_std = 1.0 / std::sqrt(static_cast<double>(batch_var[c]) +
                                           static_cast<double>(eps));
    const double sum_dy_xhat = sx[c] * inv_std;
    const double gi = (gamma ? static_cast<double>(gamma[c]) : 1.0) * inv_std;
    const auto a = static_cast<float>(gi);
    const auto b = static_cast<float>(-gi / count * sum_dy_xhat * inv_std);
    const auto k = static_cast<float>(-gi / count * sd[c]);
    if (!dx)
      continue;
    const float m = batch_mean[c];
    for (std::size_t n = 0; n < g.batch; ++n) {
      const std::size_t off = n * cs + c * g.spatial;
      for (std::size_t s = 0; s < g.spatial; ++s)
        dx[off + s] = std::fma(a, dy[off + s], std::fma(b, x[off + s] - m, k));
    }
  }
}

} // namespace fusenet::dist::detail
