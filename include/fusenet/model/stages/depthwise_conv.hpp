// SPDX-License-Identifier: MIT
// The depthwise_conv executor: one filter per channel, channels in the lanes, bias + ReLU fused
// (kernels/depthwise_conv.hpp), on bordered NHWC.
#pragma once

#include <cstddef>
#include <type_traits>
#include <vector>

#include "fusenet/kernels/depthwise_conv.hpp"
#include "fusenet/kernels/layout.hpp"
#include "fusenet/model/stages/common.hpp"

namespace fusenet::detail {

/// A depthwise conv stage (groups = channels) with BatchNorm folded, weights packed once as [K][K][C]. It reads
/// the bordered NHWC its producer wrote (or converts the user's NCHW when it is the first stage) and writes the
/// layout and border of its plan record.
template <class P, std::size_t S>
class infer_stage<P, S, executor::depthwise_conv> {
  using F = infer_stage_facts<P, S>;
  using L = typename F::layer;
  static constexpr std::size_t c = F::main_in.d[0], h = F::main_in.d[1], w = F::main_in.d[2];
  static constexpr std::size_t k = L::kernel, pad = L::pad, stride = L::step;
  using act = std::conditional_t<F::st.relu, kernels::act_relu, kernels::act_none>;
  static_assert(F::st.pool == stage_pool::none, "fusenet: plan: no pool is fused into a depthwise conv");
  static_assert(F::rec.in_layout == layout::nhwc || S == 0, "fusenet: plan: a depthwise conv reads bordered NHWC");

 public:
  static constexpr std::size_t gemm_floats = 0;
  using state = no_stage_state;

  void load(const tensor_lookup& t, state&) {
    const folded_layer f = fold_stage<P, S>(t);
    weights_.resize(kernels::depthwise_packed_size<c, k>);
    kernels::pack_depthwise_weights<c, k>(f.weight.data(), weights_.data());
    bias_ = f.bias;
  }

  void run(const float* x, float* y, std::size_t n, infer_buffers& buf, state&) const {
    run_nhwc<P, S, pad>(x, y, n, buf, [&](const float* in, float* out, auto border) {
      kernels::depthwise_conv_bias_relu<c, h, w, k, stride, pad, act, decltype(border)::value>(
          in, weights_.data(), bias_.data(), out, n);
    });
  }

 private:
  kernels::aligned_vector<float> weights_;
  std::vector<float> bias_;
};

}  // namespace fusenet::detail
