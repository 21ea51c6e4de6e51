// SPDX-License-Identifier: MIT
// Batch statistics gathered plane by plane while a plane is still in cache (the convolution's epilogue),
// then merged in a fixed order: the per-channel mean and biased variance BatchNorm's training mode needs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <xsimd/xsimd.hpp>

#include "fusenet/kernels/fma.hpp"

namespace fusenet::kernels {

/// The moments of one plane: its sum and the sum of squared deviations from its own mean.
struct plane_moments {
  double sum = 0.0;
  double m2 = 0.0;
};

namespace detail {

/// Σ p[i] (shift = 0) or Σ (p[i] - shift) and Σ (p[i] - shift)², float vector partials (a plane is at
/// most a few thousand values, so each lane sums few terms) returned in double.
template <class Arch>
inline void shifted_sums(const float* p, std::size_t len, float shift, double& sum, double& sq) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = batch::size;
  const batch s(shift);
  batch a0(0.0f), a1(0.0f), q0(0.0f), q1(0.0f);
  std::size_t i = 0;
  for (; i + 2 * lanes <= len; i += 2 * lanes) {
    const batch d0 = batch::load_unaligned(p + i) - s, d1 = batch::load_unaligned(p + i + lanes) - s;
    a0 += d0;
    a1 += d1;
    q0 = kernels::fma(d0, d0, q0);
    q1 = kernels::fma(d1, d1, q1);
  }
  float ts = 0.0f, tq = 0.0f;
  const float* const tail = p + i;
  // The tail's products as explicit FMAs, as the vector lanes: left to -ffp-contract, GCC contracted them at some
  // inlined call sites and not at others, so two callers summing the same plane could differ in the last bit.
  for (std::size_t k = 0; k < len - i; ++k) {
    const float d = tail[k] - shift;
    ts += d;
    tq = std::fma(d, d, tq);
  }
  sum = static_cast<double>(xsimd::hadd(a0 + a1)) + static_cast<double>(ts);
  sq = static_cast<double>(xsimd::hadd(q0 + q1)) + static_cast<double>(tq);
}

}  // namespace detail

/// The moments of p[0, len): two passes over the (cached) plane, the second around the float-rounded
/// first-pass mean m' with the exact corrections Σx = len·m' + Σ(x - m') and
/// Σ(x - m)² = Σ(x - m')² - (Σ(x - m'))²/len, so neither the float lanes of the first pass (whose error
/// grows with |x|) nor E[x²] - E[x]² cancellation reach the result. Requires len > 0.
template <class Arch = xsimd::default_arch>
plane_moments moments_of_plane(const float* p, std::size_t len) {
  const auto count = static_cast<double>(len);
  double sum = 0.0, unused = 0.0;
  detail::shifted_sums<Arch>(p, len, 0.0f, sum, unused);
  const auto shift = static_cast<float>(sum / count);
  double dev = 0.0, sq = 0.0;
  detail::shifted_sums<Arch>(p, len, shift, dev, sq);
  return {static_cast<double>(shift) * count + dev, std::max(0.0, sq - dev * dev / count)};
}

/// The moments of each channel of one NHWC image (pixels × channels, channels contiguous), the same
/// quantities as moments_of_plane on its NCHW planes: out[c] for c < channels. Two passes as there, with
/// the channels in the vector lanes; the image goes in chunks of 64 pixels, each read from memory once and
/// swept from L1 for every block of channels, and each chunk's float partials are moved into double, so no
/// float sum has more than 64 terms. Requires: channels a multiple of the vector width, pixels > 0.
template <class Arch = xsimd::default_arch>
void moments_of_pixels(const float* image, std::size_t pixels, std::size_t channels, plane_moments* out) {
  using batch = xsimd::batch<float, Arch>;
  constexpr std::size_t lanes = batch::size, chunk = 64, group = 256;  // group: channels per stack buffer
  const auto count = static_cast<double>(pixels);
  double sum[group], sq[group];
  alignas(64) float shift[group], part_s[lanes], part_q[lanes];
  for (std::size_t g0 = 0; g0 < channels; g0 += group) {
    const std::size_t width = std::min(group, channels - g0);
    // Σ(x − shift) and, when `squares`, Σ(x − shift)² for channels g0 .. g0 + width
    auto pass = [&](bool squares) {
      std::fill(sum, sum + width, 0.0);
      std::fill(sq, sq + width, 0.0);
      for (std::size_t p0 = 0; p0 < pixels; p0 += chunk) {
        const std::size_t p1 = std::min(pixels, p0 + chunk);
        for (std::size_t c = 0; c < width; c += lanes) {
          const batch m = batch::load_aligned(shift + c);
          batch s(0.0f), q(0.0f);
          for (std::size_t p = p0; p < p1; ++p) {
            const batch d = batch::load_unaligned(image + p * channels + g0 + c) - m;
            s += d;
            if (squares) q = kernels::fma(d, d, q);
          }
          s.store_aligned(part_s);
          q.store_aligned(part_q);
          for (std::size_t j = 0; j < lanes; ++j)
            sum[c + j] += static_cast<double>(part_s[j]), sq[c + j] += static_cast<double>(part_q[j]);
        }
      }
    };
    std::fill(shift, shift + width, 0.0f);
    pass(false);
    for (std::size_t c = 0; c < width; ++c) shift[c] = static_cast<float>(sum[c] / count);
    pass(true);
    for (std::size_t c = 0; c < width; ++c)
      out[g0 + c] = {static_cast<double>(shift[c]) * count + sum[c], std::max(0.0, sq[c] - sum[c] * sum[c] / count)};
  }
}

/// Per-channel mean and biased variance of N×C planes of `len` values each, from their moments
/// (moments[n·C + c]), merged in image order with Chan's formula — the same result for any thread
/// count that produced the planes. Ensures: mean and var (C each) overwritten.
inline void merge_plane_moments(const plane_moments* moments, std::size_t batch, std::size_t channels,
                                std::size_t len, double* mean, double* var) {
  const auto per_plane = static_cast<double>(len);
  for (std::size_t c = 0; c < channels; ++c) {
    double count = 0.0, m = 0.0, m2 = 0.0;
    for (std::size_t n = 0; n < batch; ++n) {
      const plane_moments& p = moments[n * channels + c];
      const double pm = p.sum / per_plane, total = count + per_plane, delta = pm - m;
      m += delta * per_plane / total;
      m2 += p.m2 + delta * delta * count * per_plane / total;
      count = total;
    }
    mean[c] = m;
    var[c] = m2 / count;
  }
}

}  // namespace fusenet::kernels
