// SPDX-License-Identifier: MIT
// The pool executor: nn.MaxPool2d / nn.AvgPool2d of any window, stride and padding on NHWC (kernels/pool_nhwc.hpp).
#pragma once

#include <cstddef>
#include <type_traits>

#include "fusenet/kernels/layout.hpp"
#include "fusenet/kernels/pool_nhwc.hpp"
#include "fusenet/model/stages/common.hpp"

namespace fusenet::detail {

/// A pool no conv stage took into its epilogue. It reads unbordered NHWC (converting the user's NCHW when it is
/// the first stage) and writes the layout and border of its plan record.
template <class P, std::size_t S>
class infer_stage<P, S, executor::pool> {
  using F = infer_stage_facts<P, S>;
  using L = typename F::layer;
  static constexpr std::size_t c = F::in.d[0], h = F::in.d[1], w = F::in.d[2];
  using window = std::conditional_t<op_of<L> == layer_op::max_pool, kernels::window_max, kernels::window_mean>;
  static_assert(F::rec.in_layout == layout::nchw || F::rec.in_border == 0,
                "fusenet: plan: a pool reads unbordered activations");

 public:
  static constexpr std::size_t gemm_floats = 0;
  using state = no_stage_state;

  void load(const tensor_lookup&, state&) {}

  void run(const float* x, float* y, std::size_t n, infer_buffers& buf, state&) const {
    run_nhwc<P, S, 0>(x, y, n, buf, [n](const float* in, float* out, auto border) {
      kernels::pool_nhwc<window, c, h, w, L::window, L::step, L::pad, decltype(border)::value>(in, out, n);
    });
  }
};

}  // namespace fusenet::detail
