// SPDX-License-Identifier: MIT
// Random operands and the check against a double-precision oracle shared by the direct-kernel tests.
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

}  // namespace fusenet::test
