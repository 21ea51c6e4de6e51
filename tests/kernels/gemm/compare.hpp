// SPDX-License-Identifier: MIT
// Random operands and the tolerance check shared by the GEMM, conv and dense kernel tests.
#pragma once

#include <cmath>
#include <cstddef>
#include <doctest/doctest.h>
#include <random>
#include <vector>

namespace fusenet::test {

/// `size` values uniform in [-1, 1).
inline std::vector<float> random_vector(std::size_t size, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(size);
  for (auto& x : v) x = dist(rng);
  return v;
}

/// Elements outside |fast - ref| <= 1e-5 |ref| + 1e-6 * terms (inputs in [-1, 1]; `terms` is the
/// length of the reduction behind each element, which bounds the rounding of a float sum).
inline std::size_t mismatches(const std::vector<float>& fast, const std::vector<float>& ref, std::size_t terms) {
  REQUIRE(fast.size() == ref.size());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const float tol = 1e-5f * std::fabs(ref[i]) + 1e-6f * static_cast<float>(terms);
    if (!(std::fabs(fast[i] - ref[i]) <= tol)) ++bad;
  }
  return bad;
}

}  // namespace fusenet::test
