// SPDX-License-Identifier: MIT
// The dense executor: [flatten +] dense with BatchNorm folded, ReLU in the epilogue; weights prepared once.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "fusenet/kernels/dense_gemv.hpp"
#include "fusenet/kernels/linear_gemm.hpp"
#include "fusenet/kernels/scalar/activations.hpp"
#include "fusenet/model/stages/common.hpp"

namespace fusenet::detail {

/// A dense stage. When the plan has its producer write NHWC (a direct conv before a folded flatten), the weight
/// columns are permuted once at load, W'[o][(y·W + x)·C + c] = W[o][c·H·W + y·W + x], so the stage reads the
/// producer's layout as it is and no activation is transposed (PyTorch flattens C, then H, then W). Batches up to
/// the record's stream_batch stream the weights (kernels/dense_gemv.hpp); larger ones run the blocked GEMM.
template <class P, std::size_t S>
class infer_stage<P, S, executor::dense> {
  using F = infer_stage_facts<P, S>;
  static constexpr std::size_t in_features = F::main_in.size(), out_features = F::out.size();
  static constexpr bool permuted = F::rec.in_layout == layout::nhwc;
  static_assert(F::rec.out_layout == layout::nchw && (!permuted || F::rec.in_border == 0),
                "fusenet: plan: a dense stage reads unbordered activations and writes features");

 public:
  static constexpr std::size_t gemm_floats = 0;  // the GEMM packs into its own thread-local buffers
  using state = no_stage_state;

  void load(const tensor_lookup& t, state&) {
    folded_layer f = fold_stage<P, S>(t);
    if constexpr (permuted) {
      constexpr std::size_t c = F::in.d[0], hw = F::in.d[1] * F::in.d[2];
      weights_.resize(f.weight.size());
      for (std::size_t o = 0; o < out_features; ++o)
        for (std::size_t ch = 0; ch < c; ++ch)
          for (std::size_t p = 0; p < hw; ++p)
            weights_[o * in_features + p * c + ch] = f.weight[o * in_features + ch * hw + p];
    } else {
      weights_ = std::move(f.weight);
    }
    bias_ = std::move(f.bias);
  }

  void run(const float* x, float* y, std::size_t n, infer_buffers&, state&) const {
    if (n <= F::rec.stream_batch) {
      kernels::dense_gemv<in_features, out_features, F::st.relu>(x, n, weights_.data(), bias_.data(), y);
      return;
    }
    kernels::linear_forward(n, in_features, out_features, x, weights_.data(), nullptr, y);
    for (std::size_t s = 0; s < n; ++s) {
      float* row = y + s * out_features;
      for (std::size_t o = 0; o < out_features; ++o) {
        const float v = row[o] + bias_[o];
        row[o] = F::st.relu ? kernels::scalar::relu(v) : v;
      }
    }
  }

 private:
  std::vector<float> weights_;
  std::vector<float> bias_;
};

}  // namespace fusenet::detail
