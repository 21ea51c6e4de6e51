// SPDX-License-Identifier: MIT
// Plain reference loops for batch normalisation (BatchNorm1d on N×C, BatchNorm2d on N×C×H×W), forward and backward.
#pragma once

#include <cmath>
#include <cstddef>

#include <fusenet/kernels/scalar/support.hpp>

namespace fusenet::kernels::scalar {

/// Runtime sizes of one batch-norm call: x is batch×channels×spatial (spatial = H*W, or 1 for BatchNorm1d).
struct batch_norm_geometry {
  std::size_t batch;     ///< N
  std::size_t channels;  ///< C, one mean/variance/gamma/beta per channel
  std::size_t spatial;   ///< H*W for BatchNorm2d, 1 for BatchNorm1d
};

/// Training-mode forward: y = (x - mean) / sqrt(var + eps) * gamma + beta with the batch statistics.
///
/// The variance is the BIASED one (divide by n = batch*spatial), as PyTorch normalises with it.
/// Requires: gamma and beta are C or both nullptr (affine=False: gamma = 1, beta = 0).
/// Ensures: y overwritten; batch_mean and batch_var (C each) hold the per-channel mean and biased variance.
template <class T>
void batch_norm_train_forward(const batch_norm_geometry& g, const T* x, const T* gamma, const T* beta,
                              T eps, T* y, T* batch_mean, T* batch_var) {
  using acc_t = detail::accumulator_t<T>;
  const std::size_t cs = g.channels * g.spatial;
  const auto count = static_cast<acc_t>(g.batch * g.spatial);
  for (std::size_t c = 0; c < g.channels; ++c) {
    // Two passes (mean, then squared deviations) rather than E[x²] - E[x]², which cancels badly.
    acc_t sum = 0;
    for (std::size_t n = 0; n < g.batch; ++n) {
      const T* xp = x + n * cs + c * g.spatial;
      for (std::size_t s = 0; s < g.spatial; ++s) sum += xp[s];
    }
    const acc_t mean = sum / count;
    acc_t sq = 0;
    for (std::size_t n = 0; n < g.batch; ++n) {
      const T* xp = x + n * cs + c * g.spatial;
      for (std::size_t s = 0; s < g.spatial; ++s) {
        const acc_t d = static_cast<acc_t>(xp[s]) - mean;
        sq += d * d;
      }
    }
    const acc_t var = sq / count;
    const acc_t inv_std = acc_t(1) / std::sqrt(var + static_cast<acc_t>(eps));
    const acc_t ga = gamma ? static_cast<acc_t>(gamma[c]) : acc_t(1);
    const acc_t be = beta ? static_cast<acc_t>(beta[c]) : acc_t(0);
    for (std::size_t n = 0; n < g.batch; ++n) {
      const T* xp = x + n * cs + c * g.spatial;
      T* yp = y + n * cs + c * g.spatial;
      for (std::size_t s = 0; s < g.spatial; ++s) {
        yp[s] = static_cast<T>((static_cast<acc_t>(xp[s]) - mean) * inv_std * ga + be);
      }
    }
    batch_mean[c] = static_cast<T>(mean);
    batch_var[c] = static_cast<T>(var);
  }
}

/// Running-statistics update after a training forward, as PyTorch with a float momentum.
///
/// running_mean = (1 - momentum) * running_mean + momentum * batch_mean;
/// running_var  = (1 - momentum) * running_var  + momentum * batch_var * n / (n - 1), n = batch*spatial
/// (the UNBIASED variance; PyTorch refuses n = 1 in training, here n = 1 uses the biased value).
template <class T>
void batch_norm_update_running(const batch_norm_geometry& g, const T* batch_mean, const T* batch_var,
                               T momentum, T* running_mean, T* running_var) {
  const std::size_t n = g.batch * g.spatial;
  const T unbias = n > 1 ? static_cast<T>(n) / static_cast<T>(n - 1) : T(1);
  for (std::size_t c = 0; c < g.channels; ++c) {
    running_mean[c] = (T(1) - momentum) * running_mean[c] + momentum * batch_mean[c];
    running_var[c] = (T(1) - momentum) * running_var[c] + momentum * batch_var[c] * unbias;
  }
}

/// Evaluation-mode forward: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
///
/// Requires: gamma and beta are C or both nullptr (affine=False). Ensures: y overwritten.
template <class T>
void batch_norm_eval_forward(const batch_norm_geometry& g, const T* x, const T* gamma, const T* beta,
                             const T* running_mean, const T* running_var, T eps, T* y) {
  const std::size_t cs = g.channels * g.spatial;
  for (std::size_t n = 0; n < g.batch; ++n) {
    for (std::size_t c = 0; c < g.channels; ++c) {
      const T inv_std = T(1) / std::sqrt(running_var[c] + eps);
      const T ga = gamma ? gamma[c] : T(1);
      const T be = beta ? beta[c] : T(0);
      const T* xp = x + n * cs + c * g.spatial;
      T* yp = y + n * cs + c * g.spatial;
      for (std::size_t s = 0; s < g.spatial; ++s) {
        yp[s] = (xp[s] - running_mean[c]) * inv_std * ga + be;
      }
    }
  }
}

/// Training-mode backward, differentiating through the batch mean and variance.
///
/// With xhat = (x - mean) * inv_std, inv_std = 1/sqrt(var + eps), n = batch*spatial, per channel:
/// dbeta += Σ dy; dgamma += Σ dy*xhat; dx = gamma*inv_std/n * (n*dy - Σ dy - xhat * Σ dy*xhat).
/// Requires: batch_mean and batch_var as written by batch_norm_train_forward on the same x.
/// Ensures: dx overwritten (skip if nullptr); dgamma and dbeta accumulated (skip if nullptr).
template <class T>
void batch_norm_backward(const batch_norm_geometry& g, const T* x, const T* gamma, const T* batch_mean,
                         const T* batch_var, T eps, const T* dy, T* dx, T* dgamma, T* dbeta) {
  using acc_t = detail::accumulator_t<T>;
  const std::size_t cs = g.channels * g.spatial;
  const auto count = static_cast<acc_t>(g.batch * g.spatial);
  for (std::size_t c = 0; c < g.channels; ++c) {
    const acc_t mean = batch_mean[c];
    const acc_t inv_std = acc_t(1) / std::sqrt(static_cast<acc_t>(batch_var[c]) + static_cast<acc_t>(eps));
    acc_t sum_dy = 0, sum_dy_xhat = 0;
    for (std::size_t n = 0; n < g.batch; ++n) {
      const T* xp = x + n * cs + c * g.spatial;
      const T* dyp = dy + n * cs + c * g.spatial;
      for (std::size_t s = 0; s < g.spatial; ++s) {
        sum_dy += dyp[s];
        sum_dy_xhat += static_cast<acc_t>(dyp[s]) * (static_cast<acc_t>(xp[s]) - mean) * inv_std;
      }
    }
    if (dbeta) dbeta[c] += static_cast<T>(sum_dy);
    if (dgamma) dgamma[c] += static_cast<T>(sum_dy_xhat);
    if (!dx) continue;
    const acc_t scale = (gamma ? static_cast<acc_t>(gamma[c]) : acc_t(1)) * inv_std / count;
    for (std::size_t n = 0; n < g.batch; ++n) {
      const T* xp = x + n * cs + c * g.spatial;
      const T* dyp = dy + n * cs + c * g.spatial;
      T* dxp = dx + n * cs + c * g.spatial;
      for (std::size_t s = 0; s < g.spatial; ++s) {
        const acc_t xhat = (static_cast<acc_t>(xp[s]) - mean) * inv_std;
        dxp[s] = static_cast<T>(scale * (count * dyp[s] - sum_dy - xhat * sum_dy_xhat));
      }
    }
  }
}

/// Evaluation-mode backward: the running statistics are constants, so the layer is affine per channel.
///
/// With xhat = (x - running_mean) * inv_std: dx = dy * gamma * inv_std; dgamma += Σ dy*xhat; dbeta += Σ dy.
/// Ensures: dx overwritten (skip if nullptr); dgamma and dbeta accumulated (skip if nullptr).
template <class T>
void batch_norm_eval_backward(const batch_norm_geometry& g, const T* x, const T* gamma,
                              const T* running_mean, const T* running_var, T eps, const T* dy, T* dx,
                              T* dgamma, T* dbeta) {
  using acc_t = detail::accumulator_t<T>;
  const std::size_t cs = g.channels * g.spatial;
  for (std::size_t c = 0; c < g.channels; ++c) {
    const T inv_std = T(1) / std::sqrt(running_var[c] + eps);
    const T scale = (gamma ? gamma[c] : T(1)) * inv_std;
    acc_t sum_dy = 0, sum_dy_xhat = 0;
    for (std::size_t n = 0; n < g.batch; ++n) {
      const T* xp = x + n * cs + c * g.spatial;
      const T* dyp = dy + n * cs + c * g.spatial;
      T* dxp = dx ? dx + n * cs + c * g.spatial : nullptr;
      for (std::size_t s = 0; s < g.spatial; ++s) {
        sum_dy += dyp[s];
        sum_dy_xhat += static_cast<acc_t>(dyp[s]) * static_cast<acc_t>((xp[s] - running_mean[c]) * inv_std);
        if (dxp) dxp[s] = dyp[s] * scale;
      }
    }
    if (dbeta) dbeta[c] += static_cast<T>(sum_dy);
    if (dgamma) dgamma[c] += static_cast<T>(sum_dy_xhat);
  }
}

}  // namespace fusenet::kernels::scalar
