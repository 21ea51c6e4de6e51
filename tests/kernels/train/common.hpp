// SPDX-License-Identifier: MIT
// Helpers shared by the training-kernel tests: random data, tolerance counting, thread-count runs.
#pragma once

#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace train_test {

/// Uniform values in [offset - 1, offset + 1].
inline std::vector<float> random_vector(std::size_t size, std::mt19937& rng, float offset = 0.0f) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(size);
  for (auto& x : v) x = offset + dist(rng);
  return v;
}

/// Elements outside |fast - ref| <= rel |ref| + abs (NaN counts as a mismatch).
inline std::size_t mismatches(const std::vector<float>& fast, const std::vector<float>& ref, float rel,
                              float abs) {
  if (fast.size() != ref.size()) return ref.size() + 1;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if (!(std::fabs(fast[i] - ref[i]) <= rel * std::fabs(ref[i]) + abs)) ++bad;
  }
  return bad;
}

/// Runs f with OpenMP limited to `threads` (no-op without OpenMP), restoring the previous limit.
template <class F>
void with_threads(int threads, F f) {
#ifdef _OPENMP
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  f();
  omp_set_num_threads(saved);
#else
  (void)threads;
  f();
#endif
}

}  // namespace train_test
