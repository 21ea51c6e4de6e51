// SPDX-License-Identifier: MIT
// The gemm_conv executor: a convolution the direct kernel does not take, as im2col + GEMM on NCHW.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "fusenet/kernels/conv2d_gemm.hpp"
#include "fusenet/kernels/scalar/activations.hpp"
#include "fusenet/model/stages/common.hpp"

namespace fusenet::detail {

/// A conv stage on im2col + GEMM with the folded weights, then ReLU and the 2×2 pool (max: relu(max) = max(relu);
/// avg: mean of relu), NCHW in; out in NCHW, or handed over as the bordered NHWC the plan record names.
template <class P, std::size_t S>
class infer_stage<P, S, executor::gemm_conv> {
  using F = infer_stage_facts<P, S>;
  using L = typename F::layer;
  static constexpr std::size_t cout = F::main_out.d[0], hc = F::main_out.d[1], wc = F::main_out.d[2];
  static constexpr std::size_t plane = hc * wc;
  static constexpr bool pooled = F::st.pool != stage_pool::none;
  static constexpr bool out_nhwc = F::rec.out_layout == layout::nhwc;
  static_assert(F::rec.in_layout == layout::nchw, "fusenet: plan: the GEMM convolution reads NCHW");

 public:
  /// The scratch conv2d_forward needs per thread (none for a pointwise conv, which reads the image).
  static constexpr std::size_t gemm_floats = kernels::conv2d_forward_scratch(
      {1, F::main_in.d[0], F::main_in.d[1], F::main_in.d[2], L::out_channels, L::kernel, L::step, L::pad, L::dil,
       L::group_count});
  using state = no_stage_state;

  void load(const tensor_lookup& t, state&) {
    folded_layer f = fold_stage<P, S>(t);
    weights_ = std::move(f.weight);
    bias_ = std::move(f.bias);
  }

  void run(const float* x, float* y, std::size_t n, infer_buffers& buf, state&) const {
    float* conv = (pooled || out_nhwc) ? buf.a : y;
    const kernels::conv2d_geometry g{n,          F::main_in.d[0], F::main_in.d[1], F::main_in.d[2], L::out_channels,
                                     L::kernel,  L::step,         L::pad,          L::dil,          L::group_count};
    kernels::conv2d_forward(g, x, weights_.data(), bias_.data(), conv, *buf.gemm_workspace);
    float* result = conv;
    if constexpr (pooled) {
      result = out_nhwc ? buf.b : y;
      pool_relu(conv, result, n);
    } else if constexpr (F::st.relu) {
      for (std::size_t i = 0; i < n * cout * plane; ++i) conv[i] = kernels::scalar::relu(conv[i]);
    }
    if constexpr (out_nhwc) hand_over<P, S>(result, y, n);
  }

 private:
  // 2×2 stride-2 floor-mode pool of relu(conv) (or conv), as nn.MaxPool2d(2) / nn.AvgPool2d(2); a NaN stays NaN
  // through the ReLU and the max (PyTorch's `v > best || isnan(v)`, as scalar::max_pool2d_forward).
  static void pool_relu(const float* c, float* p, std::size_t n) {
    constexpr std::size_t ho = hc / 2, wo = wc / 2;
    for (std::size_t m = 0; m < n * cout; ++m) {
      const float* cp = c + m * plane;
      float* pp = p + m * ho * wo;
      for (std::size_t y = 0; y < ho; ++y)
        for (std::size_t x = 0; x < wo; ++x) {
          float a[4] = {cp[2 * y * wc + 2 * x], cp[2 * y * wc + 2 * x + 1], cp[(2 * y + 1) * wc + 2 * x],
                        cp[(2 * y + 1) * wc + 2 * x + 1]};
          if constexpr (F::st.relu)
            for (float& v : a) v = kernels::scalar::relu(v);
          if constexpr (F::st.pool == stage_pool::max) {
            float best = a[0];
            for (std::size_t i = 1; i < 4; ++i)
              if (a[i] > best || a[i] != a[i]) best = a[i];
            pp[y * wo + x] = best;
          } else {
            pp[y * wo + x] = (a[0] + a[1] + a[2] + a[3]) / 4.0f;
          }
        }
    }
  }

  std::vector<float> weights_;
  std::vector<float> bias_;
};

}  // namespace fusenet::detail
