// SPDX-License-Identifier: MIT
// Small-batch dense layer: y = act(x · wᵀ + b) for a few samples, streaming the weight rows once (inference).
#pragma once

// Why not the GEMM: at a batch of one to a few samples, the blocked GEMM spends its time packing the weight
// matrix (1.6 MB for the reference network's 3136→128 layer) on every call, while each weight is used once per
// sample. Here every weight row is read once from memory for up to `gemv_rows` samples and dotted with each of
// them: the loop runs at the speed the weights stream from cache or DRAM. The weights stay in PyTorch's O×I
// layout, so nothing is packed, and output rows are split between threads (batch 1 uses every core).
//   y[m][o] = act(b[o] + Σ_i w[o][i] · x[m][i]),  act = ReLU (NaN kept, as torch.relu) or identity.

#include <cstddef>
#include <utility>
#include <xsimd/xsimd.hpp>

#include "fusenet/kernels/fma.hpp"
#include "fusenet/kernels/registers.hpp"
#include "fusenet/kernels/scalar/activations.hpp"

namespace fusenet::kernels {

/// Samples one pass over the weights serves; larger batches take several passes (or the GEMM).
inline constexpr std::size_t gemv_rows = 4;

namespace detail {

// Output rows per step: their weight vectors, the Rows samples' accumulators and one input vector must fit the
// register file (4 rows on 32 registers; fewer on 16 with 4 samples), or the loop would spill.
template <std::size_t Rows, class Arch>
constexpr std::size_t gemv_out_block() {
  for (std::size_t o : {std::size_t{4}, std::size_t{2}})
    if (Rows * o + o + 1 <= vector_registers<Arch>) return o;
  return 1;
}

template <std::size_t In, std::size_t Rows, std::size_t Outs, bool Relu, class Arch>
[[gnu::always_inline]] inline void gemv_block(const float* x, std::size_t x_stride, const float* w, const float* b,
                                              float* y, std::size_t y_stride) {
  using vec = xsimd::batch<float, Arch>;
  constexpr std::size_t v = vec::size, full = In / v * v;
  vec acc[Rows][Outs];
#pragma GCC unroll 8
  for (std::size_t m = 0; m < Rows; ++m)
#pragma GCC unroll 8
    for (std::size_t o = 0; o < Outs; ++o) acc[m][o] = vec(0.0f);
  for (std::size_t i = 0; i < full; i += v) {
    vec wv[Outs];
#pragma GCC unroll 8
    for (std::size_t o = 0; o < Outs; ++o) wv[o] = vec::load_unaligned(w + o * In + i);
#pragma GCC unroll 8
    for (std::size_t m = 0; m < Rows; ++m) {
      const vec xv = vec::load_unaligned(x + m * x_stride + i);
#pragma GCC unroll 8
      for (std::size_t o = 0; o < Outs; ++o) acc[m][o] = kernels::fma(wv[o], xv, acc[m][o]);
    }
  }
  for (std::size_t m = 0; m < Rows; ++m)
    for (std::size_t o = 0; o < Outs; ++o) {
      float s = xsimd::hadd(acc[m][o]);
      for (std::size_t i = full; i < In; ++i) s += w[o * In + i] * x[m * x_stride + i];  // the scalar tail
      s += b[o];
      if constexpr (Relu) s = scalar::relu(s);
      y[m * y_stride + o] = s;
    }
}

template <std::size_t In, std::size_t Out, std::size_t Rows, bool Relu, class Arch>
inline void gemv_rows_of(const float* x, const float* w, const float* b, float* y) {
  constexpr std::size_t block = gemv_out_block<Rows, Arch>();
  constexpr std::size_t blocks = Out / block, tail = Out % block;
  // Each thread owns whole output rows, summed in a fixed order: results do not depend on the thread count.
  // A 3136×128 layer is about 0.4 M multiply-adds; below ~64 K a team costs more than it saves.
  constexpr bool parallel = In * Out * Rows >= (std::size_t{1} << 16) && blocks > 1;
  (void)parallel;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (parallel)
#endif
  for (std::ptrdiff_t ob = 0; ob < static_cast<std::ptrdiff_t>(blocks); ++ob) {
    const std::size_t o = static_cast<std::size_t>(ob) * block;
    gemv_block<In, Rows, block, Relu, Arch>(x, In, w + o * In, b + o, y + o, Out);
  }
  if constexpr (tail > 0) {
    constexpr std::size_t o = blocks * block;
    gemv_block<In, Rows, tail, Relu, Arch>(x, In, w + o * In, b + o, y + o, Out);
  }
}

template <std::size_t In, std::size_t Out, bool Relu, class Arch, std::size_t... R>
inline void gemv_dispatch(std::size_t rows, const float* x, const float* w, const float* b, float* y,
                          std::index_sequence<R...>) {
  // one instantiation per row count 1 … gemv_rows, chosen at run time
  ((rows == R + 1 ? gemv_rows_of<In, Out, R + 1, Relu, Arch>(x, w, b, y) : void()), ...);
}

}  // namespace detail

/// y = act(x · wᵀ + b) for n samples, streaming w once per gemv_rows samples.
/// Requires: x is n × In, w is Out × In (PyTorch layout), b has Out floats, y is n × Out and does not overlap x.
/// Ensures: y overwritten; the result does not depend on the thread count.
template <std::size_t In, std::size_t Out, bool Relu, class Arch = xsimd::default_arch>
void dense_gemv(const float* x, std::size_t n, const float* w, const float* b, float* y) {
  for (std::size_t m = 0; m < n; m += gemv_rows) {
    const std::size_t rows = n - m < gemv_rows ? n - m : gemv_rows;
    detail::gemv_dispatch<In, Out, Relu, Arch>(rows, x + m * In, w, b, y + m * Out,
                                                std::make_index_sequence<gemv_rows>{});
  }
}

}  // namespace fusenet::kernels
