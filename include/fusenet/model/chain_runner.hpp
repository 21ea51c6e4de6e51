// SPDX-License-Identifier: MIT
// Runs a list of layers (a whole network, or the block of a residual) forward and backward in training
// and evaluation, through a run-time loop over a table of per-layer steps (no recursion over depth).
#pragma once

#include <algorithm>
#include <array>
#include <boost/hana/at.hpp>
#include <boost/hana/tuple.hpp>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

#include "fusenet/detail/chain.hpp"
#include "fusenet/detail/type_list.hpp"
#include "fusenet/model/node.hpp"
#include "fusenet/model/train_stage.hpp"
#include "fusenet/plan/plan.hpp"

namespace fusenet::detail {

template <class Facts, class List, class Seq = std::make_index_sequence<List::size>>
struct nodes_of;
template <class Facts, class... Layers, std::size_t... I>
struct nodes_of<Facts, type_list<Layers...>, std::index_sequence<I...>> {
  using type = boost::hana::tuple<node<I, Layers, step_at<Facts, I>::in>...>;
};

/// The layers of List with input In, as nodes, and the loops that run them.
template <class... Layers, dims In>
class chain_runner<type_list<Layers...>, In> {
  using list = type_list<Layers...>;
  using chain_type = chain<Layers...>;
  using facts = chain_facts<chain_type, In>;
  using nodes_type = typename nodes_of<facts, list>::type;

 public:
  static constexpr std::size_t count = sizeof...(Layers);
  static constexpr dims out = chain_type::output(In);

  void init(std::mt19937_64& rng) {
    for (auto f : init_table(indices{})) f(*this, rng);
  }

  /// Runs the chain; returns its output (n×out), owned by the runner until the next call.
  /// In train mode the layers run as the training plan's stages (a fused stage keeps the conv or
  /// dense output and its own), each keeping its output for backward; in eval mode, layer
  /// by layer, two buffers alternate.
  /// Flatten and identity layers pass their input pointer on (no copy); a ReLU after a layer of
  /// this chain overwrites that layer's output in place, which nothing else reads: the layer
  /// before it does not need its own output in backward, and ReLU's backward reads relu(x) > 0,
  /// which holds exactly where x > 0.
  const float* forward(const float* x, std::size_t n, run_context& ctx) {
    if constexpr (count == 0) {
      return x;
    } else {
      if (ctx.train) {
        for (std::size_t i = 0; i < count; ++i) {
          if (keeps_output_[i]) outputs_[i].resize(n * out_sizes_[i]);
        }
        const float* cur = x;
        float* owned = nullptr;  // cur when it is a buffer of this runner (then layer i may write over it)
        constexpr auto steps = forward_table(indices{});
        constexpr auto fused = fused_forward_table(indices{});
        for (std::size_t i = 0; i < count; ++i) {
          if (aliases_[i] || stage_first_[i] != i) continue;
          const std::size_t last = i + stage_length_[i] - 1;
          float* y = borrows_[i] ? owned : outputs_[last].data();
          if (stage_length_[i] > 1) {
            stage_inputs_[i] = cur;
            fused[i](*this, cur, y, n, ctx);
          } else {
            steps[i](*this, cur, y, n, ctx);
          }
          cur = owned = y;
        }
        return cur;
      }
      const std::size_t most = *std::max_element(out_sizes_.begin(), out_sizes_.end());
      ping_.resize(n * most);
      pong_.resize(n * most);
      const float* cur = x;
      float* owned = nullptr;  // cur when it is a buffer of this runner (then layer i may write over it)
      constexpr auto steps = forward_table(indices{});
      for (std::size_t i = 0; i < count; ++i) {
        if (aliases_[i]) continue;
        float* y = borrows_[i] ? owned : (cur == ping_.data() ? pong_.data() : ping_.data());
        steps[i](*this, cur, y, n, ctx);
        cur = owned = y;
      }
      return cur;
    }
  }

  /// Back-propagates dy (n×out) through the chain after a train-mode forward; writes dx (n×In)
  /// unless nullptr and accumulates every parameter gradient.
  void backward(const float* dy, float* dx, std::size_t n, run_context& ctx) {
    if constexpr (count > 0) {
      std::size_t most = 0;
      for (std::size_t i = 1; i < count; ++i) most = std::max(most, in_sizes_[i]);
      grad_a_.resize(n * most);
      grad_b_.resize(n * most);
      constexpr auto steps = backward_table(indices{});
      constexpr auto fused = fused_backward_table(indices{});
      const float* cur = dy;
      for (std::size_t k = count; k-- > 0;) {
        if (aliases_[k]) {  // the gradient passes through unchanged
          if (k == 0 && dx != nullptr) std::copy(cur, cur + n * in_sizes_[0], dx);
          continue;
        }
        const std::size_t first = stage_first_[k];
        float* target = first == 0 ? dx : (cur == grad_a_.data() ? grad_b_.data() : grad_a_.data());
        if (stage_length_[first] > 1) {
          fused[first](*this, cur, target, n, ctx);
          k = first;
        } else {
          steps[k](*this, cur, target, n, ctx);
        }
        cur = target;
      }
    }
  }

  void zero_grad() {
    for (auto f : zero_grad_table(indices{})) f(*this);
  }

  /// Calls f(tensor_ref) for every tensor of every layer, in state_dict order.
  template <class F>
  void visit(const std::string& prefix, F& f) {
    visit_each(prefix, f, std::make_index_sequence<count>{});
  }


 private:
  template <std::size_t I>
  auto& at() {
    return boost::hana::at_c<I>(nodes_);
  }

  // One entry per layer, built by pack expansion: the run-time loops index these tables.
  template <std::size_t I>
  static void init_one(chain_runner& r, std::mt19937_64& rng) {
    r.template at<I>().init(rng);
  }
  template <std::size_t I>
  static void forward_one(chain_runner& r, const float* x, float* y, std::size_t n, run_context& ctx) {
    r.template at<I>().forward(x, y, n, ctx);
  }
  template <std::size_t I>
  static void backward_one(chain_runner& r, const float* dy, float* dx, std::size_t n, run_context& ctx) {
    r.template at<I>().backward(dy, dx, n, ctx);
  }
  // A fused training stage starting at layer I (see train_stage.hpp); a no-op entry elsewhere.
  template <std::size_t I>
  static auto stage_at_layer() {
    constexpr stage st = list_plan<list, true>::computed.first[stage_index_[I]];
    using head_node = std::remove_reference_t<decltype(std::declval<chain_runner&>().template at<I>())>;
    using norm_node = std::remove_reference_t<decltype(std::declval<chain_runner&>().template at<I + 1>())>;
    return batch_norm_stage<st, head_node, norm_node>{};
  }
  template <std::size_t I>
  static void fused_forward_one(chain_runner& r, const float* x, float* y, std::size_t n, run_context& ctx) {
    if constexpr (stage_length_[I] > 1 && stage_first_[I] == I) {
      decltype(stage_at_layer<I>())::forward(r.template at<I>(), r.template at<I + 1>(), x, r.outputs_[I].data(), y,
                                             r.records_[I], r.stage_scratch_, n, ctx);
    }
  }
  template <std::size_t I>
  static void fused_backward_one(chain_runner& r, const float* dy, float* dx, std::size_t n, run_context& ctx) {
    if constexpr (stage_length_[I] > 1 && stage_first_[I] == I) {
      decltype(stage_at_layer<I>())::backward(r.template at<I>(), r.template at<I + 1>(), r.stage_inputs_[I],
                                              r.outputs_[I].data(), r.records_[I], dy, dx, r.stage_scratch_, n, ctx);
    }
  }
  template <std::size_t... I>
  static constexpr auto fused_forward_table(std::index_sequence<I...>) {
    return std::array<void (*)(chain_runner&, const float*, float*, std::size_t, run_context&), count>{
        &fused_forward_one<I>...};
  }
  template <std::size_t... I>
  static constexpr auto fused_backward_table(std::index_sequence<I...>) {
    return std::array<void (*)(chain_runner&, const float*, float*, std::size_t, run_context&), count>{
        &fused_backward_one<I>...};
  }
  template <std::size_t I>
  static void zero_grad_one(chain_runner& r) {
    r.template at<I>().zero_grad();
  }
  template <std::size_t... I>
  static constexpr auto init_table(std::index_sequence<I...>) {
    return std::array<void (*)(chain_runner&, std::mt19937_64&), count>{&init_one<I>...};
  }
  template <std::size_t... I>
  static constexpr auto forward_table(std::index_sequence<I...>) {
    return std::array<void (*)(chain_runner&, const float*, float*, std::size_t, run_context&), count>{
        &forward_one<I>...};
  }
  template <std::size_t... I>
  static constexpr auto backward_table(std::index_sequence<I...>) {
    return std::array<void (*)(chain_runner&, const float*, float*, std::size_t, run_context&), count>{
        &backward_one<I>...};
  }
  template <std::size_t... I>
  static constexpr auto zero_grad_table(std::index_sequence<I...>) {
    return std::array<void (*)(chain_runner&), count>{&zero_grad_one<I>...};
  }
  using indices = std::make_index_sequence<count>;

  template <class F, std::size_t... I>
  void visit_each(const std::string& prefix, F& f, std::index_sequence<I...>) {
    const bool each[] = {true, (at<I>().visit(prefix, f), true)...};
    static_cast<void>(each);
  }

  template <std::size_t... I>
  static constexpr std::array<std::size_t, count> sizes_out(std::index_sequence<I...>) {
    return {facts::steps[I].out.size()...};
  }
  template <std::size_t... I>
  static constexpr std::array<std::size_t, count> sizes_in(std::index_sequence<I...>) {
    return {facts::steps[I].in.size()...};
  }
  static constexpr std::array<std::size_t, count> out_sizes_ = sizes_out(std::make_index_sequence<count>{});
  // Layers whose output is their input unchanged (flatten, identity): forward and backward skip them.
  static constexpr std::array<bool, count> aliases_{
      (is_kind<layer_op::flatten, Layers> || is_kind<layer_op::identity, Layers>)...};
  // ReLU layers that run in place on the output of an earlier non-aliasing layer of this chain
  // (never on the chain's input: the caller owns it, and a residual's shortcut reads it too).
  static constexpr std::array<bool, count> borrowing() {
    constexpr std::array<bool, count> relu{is_kind<layer_op::relu, Layers>...};
    std::array<bool, count> b{};
    bool produced = false;
    for (std::size_t i = 0; i < count; ++i) {
      b[i] = relu[i] && produced;
      produced = produced || !aliases_[i];
    }
    return b;
  }
  static constexpr std::array<bool, count> borrows_ = borrowing();
  // The training plan of this chain, per layer: its stage's index, first layer and (at the first
  // layer) length. Layers inside a fused stage other than its first and last keep no output.
  static constexpr auto training_plan() {
    constexpr auto plan = list_plan<list, true>::computed;
    struct tables {
      std::array<std::size_t, count> index{}, first{}, length{};
      std::array<bool, count> keeps{};
    } t;
    for (std::size_t s = 0; s < plan.second; ++s) {
      const stage st = plan.first[s];
      for (std::size_t k = 0; k < st.count; ++k) {
        const std::size_t i = st.first + k;
        t.index[i] = s;
        t.first[i] = st.first;
        t.length[i] = k == 0 ? st.count : 0;
        t.keeps[i] = !aliases_[i] && (st.count > 1 ? k == 0 || k + 1 == st.count : !borrows_[i]);
      }
    }
    return t;
  }
  static constexpr std::array<std::size_t, count> stage_index_ = training_plan().index;
  static constexpr std::array<std::size_t, count> stage_first_ = training_plan().first;
  static constexpr std::array<std::size_t, count> stage_length_ = training_plan().length;
  static constexpr std::array<bool, count> keeps_output_ = training_plan().keeps;
  static constexpr std::array<std::size_t, count> in_sizes_ = sizes_in(std::make_index_sequence<count>{});

  nodes_type nodes_{};
  std::array<std::vector<float>, count> outputs_{};
  std::vector<float> ping_, pong_, grad_a_, grad_b_;
  std::array<const float*, count> stage_inputs_{};           // a fused stage's input, read by its backward
  std::array<fused_stage_cache, count> records_{};                // a fused stage's ReLU/pool record
  train_stage_scratch stage_scratch_{};
};

}  // namespace fusenet::detail
