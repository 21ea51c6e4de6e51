// SPDX-License-Identifier: MIT
// Plain reference loops for elementwise activations (ReLU, LeakyReLU, sigmoid, tanh), forward and backward.
#pragma once

#include <cmath>
#include <cstddef>

namespace fusenet::kernels::scalar {

/// relu(v) = max(v, 0) with NaN kept, as torch.relu (clamp_min propagates NaN); `v > 0` alone would give 0.
template <class T>
constexpr T relu(T v) {
  return v > T(0) || v != v ? v : T(0);
}

/// y = relu(x) over n elements (NaN stays NaN).
template <class T>
void relu_forward(std::size_t n, const T* x, T* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = relu(x[i]);
}

/// dx = dy where the forward input x > 0, else 0 (PyTorch's threshold_backward: the gradient at 0 is 0). At NaN
/// this gives 0; PyTorch 1.13 passes dy there (it tests x <= 0), see tests/reference/ops "relu_special".
template <class T>
void relu_backward(std::size_t n, const T* x, const T* dy, T* dx) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = x[i] > T(0) ? dy[i] : T(0);
}

/// y = x for x > 0, else slope * x (nn.LeakyReLU(negative_slope = slope)); NaN stays NaN (slope · NaN).
template <class T>
void leaky_relu_forward(std::size_t n, const T* x, T* y, T slope) {
  for (std::size_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : x[i] * slope;
}

/// dx = dy where x > 0, else slope * dy (PyTorch's leaky_relu_backward: the gradient at 0 and at NaN is slope).
template <class T>
void leaky_relu_backward(std::size_t n, const T* x, const T* dy, T* dx, T slope) {
  for (std::size_t i = 0; i < n; ++i) dx[i] = x[i] > T(0) ? dy[i] : dy[i] * slope;
}

/// y = 1 / (1 + exp(-x)); exp overflows to inf for very negative x, which still gives the right limit 0.
template <class T>
void sigmoid_forward(std::size_t n, const T* x, T* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = T(1) / (T(1) + std::exp(-x[i]));
}

/// dx = dy * s * (1 - s) with s = sigmoid(x) recomputed from the forward input.
template <class T>
void sigmoid_backward(std::size_t n, const T* x, const T* dy, T* dx) {
  for (std::size_t i = 0; i < n; ++i) {
    const T s = T(1) / (T(1) + std::exp(-x[i]));
    dx[i] = dy[i] * s * (T(1) - s);
  }
}

/// y = tanh(x).
template <class T>
void tanh_forward(std::size_t n, const T* x, T* y) {
  for (std::size_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

/// dx = dy * (1 - t²) with t = tanh(x) recomputed from the forward input.
template <class T>
void tanh_backward(std::size_t n, const T* x, const T* dy, T* dx) {
  for (std::size_t i = 0; i < n; ++i) {
    const T t = std::tanh(x[i]);
    dx[i] = dy[i] * (T(1) - t * t);
  }
}

}  // namespace fusenet::kernels::scalar
