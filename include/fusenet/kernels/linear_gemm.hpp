// SPDX-License-Identifier: MIT
// Training-path fully connected layer (nn.Linear, float) on the blocked GEMM, forward and backward.
#pragma once

#include <cstddef>
#include <fusenet/kernels/gemm.hpp>
#include <xsimd/xsimd.hpp>

namespace fusenet::kernels {

/// y = x · wᵀ + b, as torch.nn.functional.linear (one GEMM with B transposed, then the bias row).
/// Requires: x is batch×in, w is out×in (PyTorch layout), b is out or nullptr, y is batch×out.
/// Ensures: y overwritten.
template <class Arch = xsimd::default_arch>
void linear_forward(std::size_t batch, std::size_t in, std::size_t out, const float* x,
                    const float* w, const float* b, float* y) {
  gemm<Arch>(transpose::no, transpose::yes, batch, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
  if (b != nullptr) {
    for (std::size_t n = 0; n < batch; ++n) {
      for (std::size_t o = 0; o < out; ++o) y[n * out + o] += b[o];
    }
  }
}

/// Gradients of linear_forward: dx = dy · w, dw += dyᵀ · x, db += Σ_n dy (three GEMM cases).
/// Requires: dy is batch×out. Ensures: dx (batch×in) overwritten unless nullptr; dw (out×in) and db
/// (out) ACCUMULATED (+=) unless nullptr, like PyTorch's .grad.
template <class Arch = xsimd::default_arch>
void linear_backward(std::size_t batch, std::size_t in, std::size_t out, const float* x,
                     const float* w, const float* dy, float* dx, float* dw, float* db) {
  if (dx != nullptr) {
    gemm<Arch>(transpose::no, transpose::no, batch, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
  }
  if (dw != nullptr) {
    gemm<Arch>(transpose::yes, transpose::no, out, in, batch, 1.0f, dy, out, x, in, 1.0f, dw, in);
  }
  if (db != nullptr) {
    for (std::size_t o = 0; o < out; ++o) {
      double sum = 0.0;  // matches the scalar twin's accuracy for large batches
      for (std::size_t n = 0; n < batch; ++n) sum += static_cast<double>(dy[n * out + o]);
      db[o] += static_cast<float>(sum);
    }
  }
}

}  // namespace fusenet::kernels
