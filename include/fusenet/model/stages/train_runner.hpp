// SPDX-License-Identifier: MIT
// The training runner: a layer list (a whole network, or the block or shortcut of a residual) as the stages of its
// training plan (plan/execution.hpp: train_plan_of), each run forward and backward by the executor its record
// names (model/stages/train_*.hpp), through a run-time loop over per-stage tables (no recursion over depth).
// Evaluation runs layer by layer in the layers' own evaluation semantics: it is the oracle inference is tested
// against.
#pragma once

#include <algorithm>
#include <array>
#include <boost/hana/at.hpp>
#include <boost/hana/tuple.hpp>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "fusenet/detail/type_list.hpp"
#include "fusenet/model/node.hpp"
#include "fusenet/model/stages/train_batch_norm.hpp"
#include "fusenet/model/stages/train_common.hpp"
#include "fusenet/model/stages/train_depthwise_conv.hpp"
#include "fusenet/model/stages/train_direct_conv.hpp"
#include "fusenet/model/stages/train_layer.hpp"
#include "fusenet/plan/execution.hpp"
#include "fusenet/target.hpp"

namespace fusenet::detail {

// (The copy into a static member works around GCC 12's internal compiler error on P::facts[I].in written
// directly in a template argument; see detail::step_at.)
template <class P, std::size_t I>
struct layer_input {
  static constexpr dims value = P::facts[I].in;
};
template <class P, class List, class Seq = std::make_index_sequence<List::size>>
struct nodes_of;
template <class P, class... Layers, std::size_t... I>
struct nodes_of<P, type_list<Layers...>, std::index_sequence<I...>> {
  using type = boost::hana::tuple<node<I, Layers, layer_input<P, I>::value>...>;
};

/// The layers of List with input In, as nodes, run as the stages of their training plan for this build's target.
template <class... Layers, dims In>
class train_runner<type_list<Layers...>, In> {
  using list = type_list<Layers...>;
  using plan = train_plan_of<list, In, build_target>;
  using nodes_type = typename nodes_of<plan, list>::type;
  static constexpr std::size_t layers = sizeof...(Layers);

 public:
  static constexpr std::size_t count = plan::count;  // stages

  void init(std::mt19937_64& rng) {
    for (auto f : init_table(layer_indices{})) f(*this, rng);
  }

  /// Runs the chain; returns its output (n×out), owned by the runner until the next call. In train mode the stages
  /// run as the plan says, each keeping what its record says for backward (an in-place stage writes over its
  /// input, a pass-through stage passes it on); in eval mode, layer by layer, two buffers alternate.
  const float* forward(const float* x, std::size_t n, run_context& ctx) {
    if constexpr (layers == 0) {
      return x;
    } else {
      return ctx.train ? train_forward(x, n, ctx) : eval_forward(x, n, ctx);
    }
  }

  /// Back-propagates dy (n×out) through the chain after a train-mode forward; writes dx (n×In)
  /// unless nullptr and accumulates every parameter gradient.
  void backward(const float* dy, float* dx, std::size_t n, run_context& ctx) {
    if constexpr (count > 0) {
      std::size_t most = 0;
      for (std::size_t s = 1; s < count; ++s) most = std::max(most, plan::records[s].in.size());
      grad_a_.resize(n * most);
      grad_b_.resize(n * most);
      constexpr auto steps = backward_table(stage_indices{});
      // The hook is this runner's: the runners inside a residual stage run without it.
      const grads_ready_hook* const hook = ctx.grads_ready;
      ctx.grads_ready = nullptr;
      const float* cur = dy;
      for (std::size_t s = count; s-- > 0;) {
        if (plan::records[s].exec == executor::pass_through && s > 0) continue;  // the gradient passes unchanged
        float* target = s == 0 ? dx : (cur == grad_a_.data() ? grad_b_.data() : grad_a_.data());
        steps[s](*this, cur, target, n, ctx);
        cur = target;
        if (hook != nullptr) hook->ready(plan::records[s].st.first, hook->context);
      }
      ctx.grads_ready = hook;
    }
  }

  void zero_grad() {
    for (auto f : zero_grad_table(layer_indices{})) f(*this);
  }

  /// Calls f(tensor_ref) for every tensor of every layer, in state_dict order.
  template <class F>
  void visit(const std::string& prefix, F& f) {
    visit_each(prefix, f, layer_indices{});
  }

 private:
  using layer_indices = std::make_index_sequence<layers>;
  using stage_indices = std::make_index_sequence<count>;
  using step_fn = void (*)(train_runner&, const float*, float*, std::size_t, run_context&);

  const float* train_forward(const float* x, std::size_t n, run_context& ctx) {
    constexpr auto steps = forward_table(stage_indices{});
    const float* cur = x;
    float* owned = nullptr;  // cur when it is a buffer of this runner (then an in-place stage may write over it)
    for (std::size_t s = 0; s < count; ++s) {
      constexpr auto& records = plan::records;
      if (records[s].exec == executor::pass_through) continue;
      if (records[s].keeps_output) outputs_[s].resize(n * records[s].out_floats);
      if (records[s].kept_floats > 0) keeps_[s].head.resize(n * records[s].kept_floats);
      float* y = records[s].in_place ? owned : outputs_[s].data();
      keeps_[s].input = cur;
      steps[s](*this, cur, y, n, ctx);
      cur = owned = y;
    }
    return cur;
  }

  const float* eval_forward(const float* x, std::size_t n, run_context& ctx) {
    constexpr auto in_place = runs_in_place(plan::facts);
    std::size_t most = 0;
    for (const layer_facts& l : plan::facts) most = std::max(most, l.out.size());
    ping_.resize(n * most);
    pong_.resize(n * most);
    constexpr auto steps = eval_table(layer_indices{});
    const float* cur = x;
    float* owned = nullptr;  // cur when it is a buffer of this runner (then layer i may write over it)
    for (std::size_t i = 0; i < layers; ++i) {
      if (passes_through(plan::facts[i])) continue;
      float* y = in_place[i] ? owned : (cur == ping_.data() ? pong_.data() : ping_.data());
      steps[i](*this, cur, y, n, ctx);
      cur = owned = y;
    }
    return cur;
  }

  // One entry per stage or per layer, built by pack expansion: the run-time loops index these tables.
  template <std::size_t S>
  static void forward_one(train_runner& r, const float* x, float* y, std::size_t n, run_context& ctx) {
    train_stage<plan, S>::forward(r.nodes_, x, y, n, r.keeps_[S], r.scratch_, ctx);
  }
  template <std::size_t S>
  static void backward_one(train_runner& r, const float* dy, float* dx, std::size_t n, run_context& ctx) {
    train_stage<plan, S>::backward(r.nodes_, dy, dx, n, r.keeps_[S], r.scratch_, ctx);
  }
  template <std::size_t I>
  static void eval_one(train_runner& r, const float* x, float* y, std::size_t n, run_context& ctx) {
    boost::hana::at_c<I>(r.nodes_).forward(x, y, n, ctx);
  }
  template <std::size_t I>
  static void init_one(train_runner& r, std::mt19937_64& rng) {
    boost::hana::at_c<I>(r.nodes_).init(rng);
  }
  template <std::size_t I>
  static void zero_grad_one(train_runner& r) {
    boost::hana::at_c<I>(r.nodes_).zero_grad();
  }
  template <std::size_t... S>
  static constexpr auto forward_table(std::index_sequence<S...>) {
    return std::array<step_fn, count>{&forward_one<S>...};
  }
  template <std::size_t... S>
  static constexpr auto backward_table(std::index_sequence<S...>) {
    return std::array<step_fn, count>{&backward_one<S>...};
  }
  template <std::size_t... I>
  static constexpr auto eval_table(std::index_sequence<I...>) {
    return std::array<step_fn, layers>{&eval_one<I>...};
  }
  template <std::size_t... I>
  static constexpr auto init_table(std::index_sequence<I...>) {
    return std::array<void (*)(train_runner&, std::mt19937_64&), layers>{&init_one<I>...};
  }
  template <std::size_t... I>
  static constexpr auto zero_grad_table(std::index_sequence<I...>) {
    return std::array<void (*)(train_runner&), layers>{&zero_grad_one<I>...};
  }

  template <class F, std::size_t... I>
  void visit_each(const std::string& prefix, F& f, std::index_sequence<I...>) {
    const bool each[] = {true, (boost::hana::at_c<I>(nodes_).visit(prefix, f), true)...};
    static_cast<void>(each);
  }

  nodes_type nodes_{};
  std::array<std::vector<float>, count> outputs_{};   // a stage's output, kept for backward
  std::array<train_stage_keep, count> keeps_{};       // what else a stage's backward reads
  train_stage_scratch scratch_{};
  std::vector<float> ping_, pong_, grad_a_, grad_b_;
};

}  // namespace fusenet::detail
