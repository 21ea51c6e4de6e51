// SPDX-License-Identifier: MIT
// Plain reference loops for inverted dropout with a caller-supplied keep mask, forward and backward.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fusenet::kernels::scalar {

/// The factor kept elements are multiplied by: 1 / (1 - rate), or 0 when rate >= 1 (PyTorch returns zeros).
template <class T>
constexpr T dropout_scale(T rate) {
  return rate < T(1) ? T(1) / (T(1) - rate) : T(0);
}

/// y = x * scale where mask is 1, else 0 (inverted dropout as nn.Dropout in training mode).
///
/// Requires: mask holds n bytes, 1 = keep, 0 = drop (drawn by the caller, so the loop is deterministic).
template <class T>
void dropout_forward(std::size_t n, const T* x, const std::uint8_t* mask, T rate, T* y) {
  const T scale = dropout_scale(rate);
  for (std::size_t i = 0; i < n; ++i) y[i] = mask[i] ? x[i] * scale : T(0);
}

/// dx = dy * scale where mask is 1, else 0: the same linear map as the forward. Ensures: dx overwritten.
template <class T>
void dropout_backward(std::size_t n, const T* dy, const std::uint8_t* mask, T rate, T* dx) {
  const T scale = dropout_scale(rate);
  for (std::size_t i = 0; i < n; ++i) dx[i] = mask[i] ? dy[i] * scale : T(0);
}

}  // namespace fusenet::kernels::scalar
