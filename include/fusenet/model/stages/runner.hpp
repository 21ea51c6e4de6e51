// SPDX-License-Identifier: MIT
// The generic inference runner: the stages of one execution plan in order, through ping-pong buffers, each by the
// executor its record names. The model runs its network's plan with it; a residual stage runs its block's and
// shortcut's plans with it.
#pragma once

#include <algorithm>
#include <array>
#include <boost/hana/at.hpp>
#include <boost/hana/tuple.hpp>
#include <cstddef>
#include <utility>
#include <vector>

#include "fusenet/kernels/layout.hpp"
#include "fusenet/model/stages/common.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusenet::detail {

template <class P, class Seq = std::make_index_sequence<P::count>>
struct plan_types;
template <class P, std::size_t... S>
struct plan_types<P, std::index_sequence<S...>> {
  using stages = boost::hana::tuple<infer_stage<P, S>...>;
  using states = boost::hana::tuple<typename infer_stage<P, S>::state...>;
  static constexpr std::size_t most_out = std::max({std::size_t{0}, P::records[S].out_floats...});
  static constexpr std::size_t most_work = std::max({std::size_t{1}, P::records[S].work_floats...});
  static constexpr std::size_t most_gemm = std::max({std::size_t{0}, infer_stage<P, S>::gemm_floats...});
};

/// Runs plan P (detail::infer_plan_of). The stages hold the folded weights (read-only after load); `states` is
/// what a stage writes besides its output (the reference executor's layer, a residual's inner buffers), and
/// `buffers` the ping-pong activations and scratch; both belong to the caller's workspace.
template <class P>
class plan_runner {
  static constexpr std::size_t count = P::count;
  using types = plan_types<P>;

 public:
  using states = typename types::states;

  /// The activation buffers of one workspace: they only grow.
  struct buffers {
    kernels::aligned_vector<float> ping, pong, work_a, work_b;
    std::size_t capacity = 0;

    /// Grows the buffers for batches of up to n samples (and gemm, the GEMM conv's im2col workspace, for the
    /// calling thread's OpenMP thread count: conv2d_forward uses min(batch, threads) buffers).
    void reserve(std::size_t n, std::vector<float>& gemm) {
      std::size_t threads = 1;
#ifdef _OPENMP
      threads = static_cast<std::size_t>(std::max(1, omp_get_max_threads()));
#endif
      const std::size_t g = std::min(n, threads) * types::most_gemm;
      if (gemm.size() < g) gemm.resize(g);
      if (n <= capacity) return;
      ping.resize(n * types::most_out);
      pong.resize(n * types::most_out);
      work_a.resize(n * types::most_work);
      work_b.resize(n * types::most_work);
      capacity = n;
    }
  };

  /// Folds and packs the trained tensors (keys relative to the plan's network) into every stage.
  void load(const tensor_lookup& t, states& st) { load_all(t, st, std::make_index_sequence<count>{}); }

  /// The stages in order from x (the plan's first edge) into y (its last edge), n samples; `shortcut` is what the
  /// last stage adds when its record adds_shortcut (a residual block's plan).
  void run(const float* x, std::size_t n, float* y, states& st, buffers& b, run_context& ctx,
           const float* shortcut = nullptr) const {
    if (n == 0) return;
    b.reserve(n, *ctx.workspace);
    infer_buffers buf{b.work_a.data(), b.work_b.data(), ctx.workspace, &ctx, shortcut};
    constexpr auto table = run_table(std::make_index_sequence<count>{});
    const float* cur = x;
    for (std::size_t s = 0; s < count; ++s) {
      const std::size_t slot = P::records[s].slot;
      float* dst = slot == 2 ? y : (slot == 0 ? b.ping.data() : b.pong.data());
      table[s](*this, st, cur, dst, n, buf);
      cur = dst;
    }
  }

 private:
  template <std::size_t... S>
  void load_all(const tensor_lookup& t, states& st, std::index_sequence<S...>) {
    (boost::hana::at_c<S>(stages_).load(t, boost::hana::at_c<S>(st)), ...);
  }
  template <std::size_t S>
  static void run_one(const plan_runner& r, states& st, const float* x, float* y, std::size_t n, infer_buffers& buf) {
    boost::hana::at_c<S>(r.stages_).run(x, y, n, buf, boost::hana::at_c<S>(st));
  }
  template <std::size_t... S>
  static constexpr auto run_table(std::index_sequence<S...>) {
    return std::array<void (*)(const plan_runner&, states&, const float*, float*, std::size_t, infer_buffers&),
                      count>{&run_one<S>...};
  }

  typename types::stages stages_{};
};

}  // namespace fusenet::detail
