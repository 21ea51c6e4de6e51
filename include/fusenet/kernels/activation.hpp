// SPDX-License-Identifier: MIT
// Training-path elementwise activations (float): ReLU and LeakyReLU as vectorised loops threaded
// over contiguous slices, with the scalar twins' results.
#pragma once

#include <cstddef>
#include <fusenet/kernels/scalar/activations.hpp>
#include <xsimd/xsimd.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusenet::kernels {

namespace detail {

/// Elements below which an elementwise pass stays on one thread: forking costs more than the work.
inline constexpr std::size_t elementwise_parallel_min = std::size_t{1} << 16;

/// Elements per OpenMP work item: whole cache lines, so two threads never write the same line.
inline constexpr std::size_t elementwise_block = 4096;

/// Calls body(begin, end) on consecutive blocks of [0, n), spread over OpenMP threads when n is
/// large. Each element is computed alone, so the result never depends on the thread count.
template <class Body>
inline void for_blocks(std::size_t n, Body body) {
  const std::size_t blocks = (n + elementwise_block - 1) / elementwise_block;
  [[maybe_unused]] const bool parallel = n >= elementwise_parallel_min;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t begin = b * elementwise_block;
    body(begin, begin + elementwise_block < n ? begin + elementwise_block : n);
  }
}

}  // namespace detail

/// y = max(x, 0) over n elements; NaN stays NaN, as torch.relu and scalar::relu (GCC 12 vectorises the test).
template <class Arch = xsimd::default_arch>
void relu_forward(std::size_t n, const float* x, float* y) {
  detail::for_blocks(n, [=](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) y[i] = scalar::relu(x[i]);
  });
}

/// dx = dy where the forward input x > 0, else 0, as scalar::relu_backward (PyTorch's threshold_backward for every
/// x but NaN: there PyTorch passes dy, fusenet gives 0). x may equally be the forward OUTPUT: relu(x) > 0 exactly
/// where x > 0 (relu(NaN) is NaN, not > 0).
template <class Arch = xsimd::default_arch>
void relu_backward(std::size_t n, const float* x, const float* dy, float* dx) {
  detail::for_blocks(n, [=](std::size_t b, std::size_t e) {
    // dy is read unconditionally: a load under the condition stops GCC 12 from vectorising.
    for (std::size_t i = b; i < e; ++i) {
      const float d = dy[i];
      dx[i] = x[i] > 0.0f ? d : 0.0f;
    }
  });
}

/// y = x for x > 0, else slope * x (nn.LeakyReLU(negative_slope = slope)); NaN stays NaN (slope · NaN).
template <class Arch = xsimd::default_arch>
void leaky_relu_forward(std::size_t n, const float* x, float* y, float slope) {
  detail::for_blocks(n, [=](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) y[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
  });
}

/// dx = dy where x > 0, else slope * dy (the gradient at 0 is slope, as PyTorch).
template <class Arch = xsimd::default_arch>
void leaky_relu_backward(std::size_t n, const float* x, const float* dy, float* dx, float slope) {
  detail::for_blocks(n, [=](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      const float d = dy[i];
      dx[i] = x[i] > 0.0f ? d : d * slope;
    }
  });
}

}  // namespace fusenet::kernels
