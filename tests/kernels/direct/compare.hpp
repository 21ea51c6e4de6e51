// SPDX-License-Identifier: MIT
// Random operands, the check against a double-precision oracle and the bordered-NHWC border helpers shared by the
// direct-kernel tests.
#pragma once

#include <cmath>
#include <cstddef>
#include <doctest/doctest.h>
#include <random>
#include <vector>

namespace fusenet::test {

/// `n` values uniform in [lo, hi), from `seed`.
inline std::vector<float> random_vector(std::size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

/// |got − want| ≤ 1e-5·|want| + 1e-5 for every element, and NaN exactly where want is NaN; reports the first
/// mismatch.
inline void check_close(const std::vector<float>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const bool ok = std::isnan(want[i]) ? std::isnan(got[i])
                                        : std::fabs(static_cast<double>(got[i]) - want[i]) <=
                                              1e-5 * std::fabs(want[i]) + 1e-5;
    if (!ok && bad++ == 0) first = i;
  }
  INFO("first mismatch at " << first << " of " << got.size() << ": got " << got[first] << ", want " << want[first]);
  CHECK(bad == 0);
}

/// Whether pixel (y, x) of an H×W map inside a border of Border pixels lies in the border.
template <std::size_t H, std::size_t W, std::size_t Border>
constexpr bool in_border(std::size_t y, std::size_t x) {
  return y < Border || y >= Border + H || x < Border || x >= Border + W;
}

/// Counts the border floats of n bordered-NHWC images (C channels, H×W inside a border of Border pixels) that are
/// not zero: a kernel must leave its output's border zero for the next convolution's padding.
template <std::size_t C, std::size_t H, std::size_t W, std::size_t Border, class Buffer>
std::size_t nonzero_border(const Buffer& y, std::size_t n) {
  constexpr std::size_t wb = W + 2 * Border, image = (H + 2 * Border) * wb * C;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t yy = 0; yy < H + 2 * Border; ++yy)
      for (std::size_t xx = 0; xx < wb; ++xx)
        if (in_border<H, W, Border>(yy, xx))
          for (std::size_t c = 0; c < C; ++c) bad += y[i * image + (yy * wb + xx) * C + c] != 0.0f;
  return bad;
}

/// Sets the border of n bordered-NHWC images to `value`: NaN there shows a kernel that reads a border it must not.
template <std::size_t C, std::size_t H, std::size_t W, std::size_t Border, class Buffer>
void fill_border(Buffer& y, std::size_t n, float value) {
  constexpr std::size_t wb = W + 2 * Border, image = (H + 2 * Border) * wb * C;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t yy = 0; yy < H + 2 * Border; ++yy)
      for (std::size_t xx = 0; xx < wb; ++xx)
        if (in_border<H, W, Border>(yy, xx))
          for (std::size_t c = 0; c < C; ++c) y[i * image + (yy * wb + xx) * C + c] = value;
}

}  // namespace fusenet::test
