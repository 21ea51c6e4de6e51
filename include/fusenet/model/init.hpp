// SPDX-License-Identifier: MIT
// Deterministic random numbers and PyTorch's default parameter initialisation.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>

namespace fusenet::detail {

/// A uniform float in [0, 1) from 24 random bits (the same on every standard library, unlike
/// std::uniform_real_distribution).
inline float uniform01(std::mt19937_64& rng) { return static_cast<float>(rng() >> 40) * 0x1p-24f; }

/// Fills n values uniformly in [-bound, bound).
inline void fill_uniform(float* v, std::size_t n, float bound, std::mt19937_64& rng) {
  for (std::size_t i = 0; i < n; ++i) v[i] = (2.0f * uniform01(rng) - 1.0f) * bound;
}

/// PyTorch's default for Conv2d and Linear: kaiming_uniform_(a=√5) gives the weight bound
/// gain·√(3/fan_in) with gain = √(2/(1+5)), i.e. 1/√fan_in; the bias bound is 1/√fan_in too.
inline float default_init_bound(std::size_t fan_in) {
  return fan_in == 0 ? 0.0f : 1.0f / std::sqrt(static_cast<float>(fan_in));
}

}  // namespace fusenet::detail
