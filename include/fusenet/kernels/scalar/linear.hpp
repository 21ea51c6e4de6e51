// SPDX-License-Identifier: MIT
// Plain reference loops for a fully connected layer (nn.Linear), forward and backward.
#pragma once

#include <cstddef>

#include <fusenet/kernels/scalar/support.hpp>

namespace fusenet::kernels::scalar {

/// y = x · wᵀ + b, as torch.nn.functional.linear.
///
/// Requires: x is batch×in, w is out×in (PyTorch layout), b is out or nullptr, y is batch×out.
/// Ensures: y overwritten.
template <class T>
void linear_forward(std::size_t batch, std::size_t in, std::size_t out, const T* x, const T* w,
                    const T* b, T* y) {
  using acc_t = detail::accumulator_t<T>;
  for (std::size_t n = 0; n < batch; ++n) {
    const T* xr = x + n * in;
    for (std::size_t o = 0; o < out; ++o) {
      const T* wr = w + o * in;  // both rows contiguous in i
      acc_t s = b ? static_cast<acc_t>(b[o]) : acc_t(0);
      for (std::size_t i = 0; i < in; ++i) s += static_cast<acc_t>(xr[i]) * static_cast<acc_t>(wr[i]);
      y[n * out + o] = static_cast<T>(s);
    }
  }
}

/// Gradients of linear_forward: dx = dy · w, dw += dyᵀ · x, db += Σ_n dy.
///
/// Requires: dy is batch×out. Ensures: dx (batch×in) overwritten unless nullptr; dw (out×in) and db (out)
/// accumulated (+=) unless nullptr, like PyTorch's .grad.
template <class T>
void linear_backward(std::size_t batch, std::size_t in, std::size_t out, const T* x, const T* w,
                     const T* dy, T* dx, T* dw, T* db) {
  for (std::size_t n = 0; n < batch; ++n) {
    const T* xr = x + n * in;
    const T* dyr = dy + n * out;
    T* dxr = dx ? dx + n * in : nullptr;
    if (dxr) {
      for (std::size_t i = 0; i < in; ++i) dxr[i] = T(0);
    }
    for (std::size_t o = 0; o < out; ++o) {
      const T d = dyr[o];
      if (db) db[o] += d;
      const T* wr = w + o * in;
      T* dwr = dw ? dw + o * in : nullptr;
      // Innermost loops run along i, contiguous in x, w, dx and dw alike.
      if (dxr) {
        for (std::size_t i = 0; i < in; ++i) dxr[i] += d * wr[i];
      }
      if (dwr) {
        for (std::size_t i = 0; i < in; ++i) dwr[i] += d * xr[i];
      }
    }
  }
}

}  // namespace fusenet::kernels::scalar
