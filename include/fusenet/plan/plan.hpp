// SPDX-License-Identifier: MIT
// The plan of a network per mode: its layers rewritten into stages by longest-match fusion rules,
// computed by one constexpr loop over a per-layer table.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "fusenet/mode.hpp"
#include "fusenet/plan/rules.hpp"
#include "fusenet/plan/stage.hpp"
#include "fusenet/sequential.hpp"

namespace fusenet {

namespace detail {
template <class List, class Seq = std::make_index_sequence<List::size>>
struct facts_table;
template <class... Layers, std::size_t... I>
struct facts_table<type_list<Layers...>, std::index_sequence<I...>> {
  /// The facts without shapes (a residual block's own layer list, planned for its grouping only).
  static constexpr std::array<layer_facts, sizeof...(Layers)> value{facts_of<Layers>(dims{}, dims{})...};
  /// The facts with each layer's input and output shape from a network's shape propagation.
  template <class Steps>
  static constexpr std::array<layer_facts, sizeof...(Layers)> with(const Steps& s) {
    return {facts_of<Layers>(s[I].in, s[I].out)...};
  }
};

// Longest match at each position. Inference: conv2d [batch_norm] [relu] [pool 2×2], [flatten] dense
// [batch_norm] [relu], residual [relu] (the add and the ReLU in one pass after the block). Training: conv2d
// batch_norm [relu] [max_pool 2×2] and dense batch_norm [relu] (the head's epilogue gathers the batch statistics, one pass normalises, activates and pools; a flatten
// before dense costs nothing in training and stays its own stage). Anything else is a stage of its own.
template <std::size_t N>
constexpr std::array<stage, N> rewrite(const std::array<layer_facts, N>& l, bool train, std::size_t& count) {
  std::array<stage, N> out{};
  count = 0;
  std::size_t i = 0;
  while (i < N) {
    stage s{};
    s.first = i;
    std::size_t j = i;
    if (train) {
      if (i + 1 < N && fusable_head(l[i]) && fusable_batch_norm(l[i + 1])) {
        s.kind = l[i].op == layer_op::conv2d ? stage_kind::conv : stage_kind::dense;
        s.batch_norm = true;
        j = i + 2;
        if (j < N && fusable_activation(l[j])) s.relu = true, ++j;
        if (s.kind == stage_kind::conv && j < N && fusable_train_pool(l[j])) {
          s.pool = stage_pool::max;
          ++j;
        }
      } else {
        j = i + 1;
      }
      s.count = j - i;
      out[count++] = s;
      i = j;
      continue;
    }
    if (j + 1 < N && fusable_flatten_dense(l[j], l[j + 1])) {
      s.flatten = true;
      ++j;
    }
    if (l[i].op == layer_op::residual) {
      s.kind = stage_kind::residual;
      j = i + 1;
      if (j < N && fusable_activation(l[j])) s.relu = true, ++j;
    } else if (fusable_head(l[j])) {
      s.kind = l[j].op == layer_op::conv2d ? stage_kind::conv : stage_kind::dense;
      ++j;
      if (j < N && fusable_batch_norm(l[j])) s.batch_norm = true, ++j;
      if (j < N && fusable_activation(l[j])) s.relu = true, ++j;
      if (s.kind == stage_kind::conv && j < N && fusable_pool(l[j])) {
        s.pool = l[j].op == layer_op::max_pool ? stage_pool::max : stage_pool::avg;
        ++j;
      }
    } else {
      s.flatten = false;
      j = i + 1;
    }
    s.count = j - i;
    out[count++] = s;
    i = j;
  }
  return out;
}

/// The stages of a layer list (a network, or a residual's block) in training or inference.
template <class List, bool Train>
struct list_plan {
  static constexpr auto computed = [] {
    std::size_t c = 0;
    auto s = rewrite<List::size>(facts_table<List>::value, Train, c);
    return std::pair{s, c};
  }();
};

template <class Net, class Mode>
struct stage_plan : list_plan<typename Net::layer_list, std::is_same_v<Mode, mode::train>> {};
}  // namespace detail

/// The stages of Net in Mode, in order (an array sized to the layer count; see stage_count).
/// Inference groups conv/dense with the BatchNorm (folded), ReLU and 2×2 pool after them; training groups
/// conv/dense with the BatchNorm (batch statistics), ReLU and (conv) 2×2 max pool after them.
template <class Net, class Mode>
inline constexpr auto stages = detail::stage_plan<Net, Mode>::computed.first;

/// The number of stages of Net in Mode.
template <class Net, class Mode>
inline constexpr std::size_t stage_count = detail::stage_plan<Net, Mode>::computed.second;

/// Stage S of Net in Mode.
template <class Net, class Mode, std::size_t S>
  requires(S < stage_count<Net, Mode>)
inline constexpr stage stage_at = stages<Net, Mode>[S];

}  // namespace fusenet
