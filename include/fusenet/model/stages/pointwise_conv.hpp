// SPDX-License-Identifier: MIT
// The pointwise_conv executor: 1×1 conv (any stride) + bias + ReLU as a pixel GEMM on bordered NHWC
// (kernels/pointwise_conv.hpp).
#pragma once

#include <cassert>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "fusenet/kernels/layout.hpp"
#include "fusenet/kernels/pointwise_conv.hpp"
#include "fusenet/model/stages/common.hpp"

namespace fusenet::detail {

/// A 1×1 conv stage on the pointwise kernel, folded weights packed once as [Cout/V][Cin][V]. It reads the bordered
/// NHWC its producer wrote (or converts the user's NCHW when it is the first stage) and writes the layout and
/// border of its plan record (NHWC directly; NCHW through a scratch image).
template <class P, std::size_t S>
class infer_stage<P, S, executor::pointwise_conv> {
  using F = infer_stage_facts<P, S>;
  using L = typename F::layer;
  static constexpr std::size_t cin = F::main_in.d[0], h = F::main_in.d[1], w = F::main_in.d[2];
  static constexpr std::size_t cout = L::out_channels, stride = L::step;
  using act = std::conditional_t<F::st.relu, kernels::act_relu, kernels::act_none>;
  static_assert(L::kernel == 1 && L::pad == 0 && F::st.pool == stage_pool::none,
                "fusenet: plan: the pointwise kernel runs unpadded 1x1 convolutions without a pool");
  static_assert(F::rec.in_layout == layout::nhwc || S == 0, "fusenet: plan: a pointwise conv reads bordered NHWC");
  // the border of the image the kernel reads: the producer's, or none when this stage converts NCHW
  static constexpr std::size_t in_border = F::rec.in_layout == layout::nhwc ? F::rec.in_border : 0;
  // a residual block's last conv adds the block's shortcut in its epilogue when the plan says so
  using shortcut = std::conditional_t<F::rec.adds_shortcut,
                                      kernels::add_shortcut<F::rec.shortcut_border, F::rec.relu_after_add>,
                                      kernels::no_shortcut>;
  static_assert(!F::rec.adds_shortcut || F::rec.out_layout == layout::nhwc,
                "fusenet: plan: a conv adds a shortcut only into bordered NHWC");

 public:
  static constexpr std::size_t gemm_floats = 0;
  using state = no_stage_state;

  void load(const tensor_lookup& t, state&) {
    const folded_layer f = fold_stage<P, S>(t);
    weights_.resize(kernels::packed_weights_size<cin, cout, 1>);
    kernels::pack_conv_weights<cin, cout, 1>(f.weight.data(), weights_.data());
    bias_ = f.bias;
  }

  void run(const float* x, float* y, std::size_t n, infer_buffers& buf, state&) const {
    assert(!F::rec.adds_shortcut || buf.shortcut != nullptr);
    run_nhwc<P, S, 0>(x, y, n, buf, [&](const float* in, float* out, auto border) {
      kernels::pointwise_conv_bias_relu<stride, in_border, cin, cout, h, w, act, decltype(border)::value,
                                        xsimd::default_arch, shortcut>(in, weights_.data(), bias_.data(), out, n,
                                                                       buf.shortcut);
    });
  }

 private:
  kernels::aligned_vector<float> weights_;
  std::vector<float> bias_;
};

}  // namespace fusenet::detail
