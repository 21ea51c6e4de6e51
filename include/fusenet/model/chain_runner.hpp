// SPDX-License-Identifier: MIT
// Runs a list of layers (a whole network, or the block of a residual) forward and backward in training
// and evaluation, through a run-time loop over a table of per-layer steps (no recursion over depth).
#pragma once

#include <algorithm>
#include <array>
#include <boost/hana/at.hpp>
#include <boost/hana/tuple.hpp>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "fusenet/detail/chain.hpp"
#include "fusenet/detail/type_list.hpp"
#include "fusenet/model/node.hpp"

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
  /// In train mode each layer keeps its output for backward; in eval mode two buffers alternate.
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
          if (!aliases_[i] && !borrows_[i]) outputs_[i].resize(n * out_sizes_[i]);
        }
      } else {
        const std::size_t most = *std::max_element(out_sizes_.begin(), out_sizes_.end());
        ping_.resize(n * most);
        pong_.resize(n * most);
      }
      const float* cur = x;
      float* owned = nullptr;  // cur when it is a buffer of this runner (then layer i may write over it)
      constexpr auto steps = forward_table(indices{});
      for (std::size_t i = 0; i < count; ++i) {
        if (aliases_[i]) continue;
        float* y = borrows_[i] ? owned
                   : ctx.train ? outputs_[i].data()
                               : (cur == ping_.data() ? pong_.data() : ping_.data());
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
      const float* cur = dy;
      for (std::size_t k = count; k-- > 0;) {
        if (aliases_[k]) {  // the gradient passes through unchanged
          if (k == 0 && dx != nullptr) std::copy(cur, cur + n * in_sizes_[0], dx);
          continue;
        }
        float* target = k == 0 ? dx : (cur == grad_a_.data() ? grad_b_.data() : grad_a_.data());
        steps[k](*this, cur, target, n, ctx);
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
      (is_kind<flatten_kind, Layers> || is_kind<identity_kind, Layers>)...};
  // ReLU layers that run in place on the output of an earlier non-aliasing layer of this chain
  // (never on the chain's input: the caller owns it, and a residual's shortcut reads it too).
  static constexpr std::array<bool, count> borrowing() {
    constexpr std::array<bool, count> relu{is_kind<relu_kind, Layers>...};
    std::array<bool, count> b{};
    bool produced = false;
    for (std::size_t i = 0; i < count; ++i) {
      b[i] = relu[i] && produced;
      produced = produced || !aliases_[i];
    }
    return b;
  }
  static constexpr std::array<bool, count> borrows_ = borrowing();
  static constexpr std::array<std::size_t, count> in_sizes_ = sizes_in(std::make_index_sequence<count>{});

  nodes_type nodes_{};
  std::array<std::vector<float>, count> outputs_{};
  std::vector<float> ping_, pong_, grad_a_, grad_b_;
};

}  // namespace fusenet::detail
