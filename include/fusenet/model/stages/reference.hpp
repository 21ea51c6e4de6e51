// SPDX-License-Identifier: MIT
// The reference executor: a layer no fused executor takes, run by the trainer's layer code in evaluation semantics.
#pragma once

#include <algorithm>
#include <cstddef>

#include "fusenet/model/node.hpp"
#include "fusenet/model/stages/common.hpp"

namespace fusenet::detail {

/// Any other layer, alone (running statistics, dropout off), with the trained tensors copied in. Residual blocks
/// run their inner chains this way. The node is the stage's state, not a member: its forward writes scratch
/// inside it (a residual's buffers, max_pool's argmax), so each workspace runs its own copy.
template <class P, std::size_t S>
class infer_stage<P, S, executor::reference> {
  using F = infer_stage_facts<P, S>;
  using node_type = node<F::st.first, typename F::layer, F::in>;
  static_assert(F::rec.in_layout == layout::nchw, "fusenet: plan: the layer code reads NCHW");

 public:
  static constexpr std::size_t gemm_floats = 0;  // convs inside a residual grow the workspace on the first forward
  using state = node_type;

  void load(const tensor_lookup& t, state& node) {
    node.visit("", [&](const tensor_ref& r) {
      if (r.value == nullptr) return;  // num_batches_tracked: unused in evaluation
      const float* src = tensor_at(t, r.name);
      std::copy(src, src + r.spec.size(), r.value);
    });
  }

  void run(const float* x, float* y, std::size_t n, infer_buffers& buf, state& node) const {
    if constexpr (F::rec.out_layout == layout::nhwc) {
      node.forward(x, buf.a, n, *buf.ctx);
      hand_over<P, S>(buf.a, y, n);
    } else {
      node.forward(x, y, n, *buf.ctx);
    }
  }
};

}  // namespace fusenet::detail
