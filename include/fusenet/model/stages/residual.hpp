// SPDX-License-Identifier: MIT
// The residual executor: the block's plan, the shortcut's plan (or the identity), then y = relu(block + shortcut).
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>

#include "fusenet/kernels/residual_add.hpp"
#include "fusenet/model/stages/common.hpp"
#include "fusenet/model/stages/runner.hpp"

namespace fusenet::detail {

/// Nothing to run: the identity shortcut.
struct no_runner {
  struct buffers {};
  using states = no_stage_state;
};

template <class Plan>
struct runner_of {
  using type = plan_runner<Plan>;
};
template <>
struct runner_of<void> {
  using type = no_runner;
};

/// A residual block [+ ReLU]: the block's own execution plan writes the stage's output in the layout the next
/// stage reads; a projection shortcut's plan writes the same layout into scratch. When the plan fuses the add
/// (residual_plans::fused_add), the projection runs first and the block's last conv adds the shortcut and applies
/// the ReLU in its epilogue; otherwise the add and the ReLU follow the block in one pass (kernels/residual_add.hpp).
/// Either way an identity shortcut is read straight from the stage's input.
template <class P, std::size_t S>
class infer_stage<P, S, executor::residual> {
  using F = infer_stage_facts<P, S>;
  using plans = residual_plans<P, S>;
  using block_runner = plan_runner<typename plans::block>;
  using shortcut_runner = typename runner_of<typename plans::shortcut>::type;
  static constexpr bool projection = !std::is_void_v<typename plans::shortcut>;
  static constexpr std::size_t c = F::out.d[0], h = F::out.d[1], w = F::out.d[2];
  using out_layout = kernels::image_layout<F::rec.out_layout == layout::nhwc, F::rec.out_border>;
  using in_layout = kernels::image_layout<F::rec.in_layout == layout::nhwc, F::rec.in_border>;
  // the shortcut's values: written by the projection in the output's layout, or the input itself
  using shortcut_layout = std::conditional_t<projection, out_layout, in_layout>;

 public:
  static constexpr std::size_t gemm_floats = 0;  // the inner plans' GEMM convs grow the workspace on first use
  struct state {
    typename block_runner::states block;
    typename block_runner::buffers block_buffers;
    typename shortcut_runner::states shortcut;
    typename shortcut_runner::buffers shortcut_buffers;
    kernels::aligned_vector<float> shortcut_out;
  };

  void load(const tensor_lookup& t, state& st) {
    const std::string prefix = std::to_string(F::st.first) + ".";
    block_.load(tensors_under(t, prefix + "block."), st.block);
    if constexpr (projection) shortcut_.load(tensors_under(t, prefix + "shortcut."), st.shortcut);
  }

  void run(const float* x, float* y, std::size_t n, infer_buffers& buf, state& st) const {
    const float* s = x;
    if constexpr (projection) {
      if (st.shortcut_out.size() < n * F::rec.out_floats) st.shortcut_out.resize(n * F::rec.out_floats);
      shortcut_.run(x, n, st.shortcut_out.data(), st.shortcut, st.shortcut_buffers, *buf.ctx);
      s = st.shortcut_out.data();
    }
    if constexpr (plans::fused_add) {
      block_.run(x, n, y, st.block, st.block_buffers, *buf.ctx, s);
    } else {
      block_.run(x, n, y, st.block, st.block_buffers, *buf.ctx);
      kernels::residual_add<c, h, w, out_layout, shortcut_layout, F::st.relu>(y, s, n);
    }
  }

 private:
  block_runner block_;
  shortcut_runner shortcut_;
};

}  // namespace fusenet::detail
