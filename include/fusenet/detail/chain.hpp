// SPDX-License-Identifier: MIT
// Shape propagation through a list of layers: a constexpr loop over per-layer tables (no recursion over
// depth), then one at_layer diagnostic step per layer that raises the first error with all the facts.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "fusenet/detail/type_list.hpp"
#include "fusenet/layers/tensor_spec.hpp"
#include "fusenet/shape.hpp"

namespace fusenet::detail {

/// What the front end knows about one layer of a chain: its input and output shape, the last
/// C×H×W shape seen before it (to show what a flat input was flattened from), and whether it accepted its input.
struct step_facts {
  dims in{};
  dims out{};
  dims before_flatten{};
  bool ok = false;
};

/// Carries the C×H×W shape that a flat input was flattened from into the diagnostic note.
template <class Shape>
struct flattened_from {};
/// Marks an input that was never flattened.
struct not_flattened {};

/// Parameters (trainable values) a layer stores for the given input.
template <class Layer>
constexpr std::size_t layer_param_count(dims in) {
  if constexpr (requires { Layer::param_count(in); }) {
    return Layer::param_count(in);
  } else {
    std::size_t n = 0;
    for (const auto& t : Layer::tensors(in))
      if (t.role == tensor_role::parameter) n += t.size();
    return n;
  }
}

/// Floats of activations a layer produces per sample (its output, plus inner outputs for blocks).
template <class Layer>
constexpr std::size_t layer_activation_floats(dims in) {
  if constexpr (requires { Layer::activation_floats(in); }) {
    return Layer::activation_floats(in);
  } else {
    return Layer::output(in).size();
  }
}

/// The facts of a list of layers, computed by one constexpr loop.
template <class... Layers>
struct chain {
  static constexpr std::size_t count = sizeof...(Layers);
  using facts_array = std::array<step_facts, count>;

  static constexpr facts_array run(dims input) {
    facts_array s{};
    if constexpr (count > 0) {
      constexpr dims (*outputs[])(dims) = {&Layers::output...};
      constexpr bool (*accepts[])(dims) = {&Layers::accepts...};
      dims cur = input;
      dims before{};
      for (std::size_t i = 0; i < count; ++i) {
        if (cur.spatial()) before = cur;
        s[i].in = cur;
        s[i].before_flatten = before;
        s[i].ok = cur.valid() && accepts[i](cur);
        s[i].out = s[i].ok ? outputs[i](cur) : dims{};
        cur = s[i].out;
      }
    }
    return s;
  }
  /// Output of the whole chain (invalid if any layer rejected its input); the input for an empty chain.
  static constexpr dims output(dims input) {
    if constexpr (count == 0) {
      return input;
    } else {
      return run(input)[count - 1].out;
    }
  }
  static constexpr bool accepts(dims input) { return output(input).valid(); }

  /// Per layer, a count computed by Count<Layer>(input of that layer); 0 for a layer that rejected its input.
  template <std::size_t (*... Count)(dims)>
  static constexpr std::array<std::size_t, count> table(dims input) {
    std::array<std::size_t, count> t{};
    if constexpr (count > 0) {
      const auto s = run(input);
      constexpr std::size_t (*f[])(dims) = {Count...};
      for (std::size_t i = 0; i < count; ++i) t[i] = s[i].ok ? f[i](s[i].in) : 0;
    }
    return t;
  }
  static constexpr std::array<std::size_t, count> param_table(dims input) {
    return table<&layer_param_count<Layers>...>(input);
  }
  static constexpr std::array<std::size_t, count> mac_table(dims input) { return table<&Layers::mac_count...>(input); }
  static constexpr std::size_t sum(const std::array<std::size_t, count>& t) {
    std::size_t n = 0;
    for (auto v : t) n += v;
    return n;
  }
  static constexpr std::size_t param_count(dims input) { return sum(param_table(input)); }
  static constexpr std::size_t mac_count(dims input) { return sum(mac_table(input)); }
  static constexpr std::size_t activation_floats(dims input) {
    return sum(table<&layer_activation_floats<Layers>...>(input));
  }
};

template <class List>
struct chain_of;
template <class... Layers>
struct chain_of<type_list<Layers...>> {
  using type = chain<Layers...>;
};

/// The diagnostic step for layer number Index: its instantiation note shows the index, the layer as
/// declared, the incoming shape and what a flat shape was flattened from; the layer's own check
/// raises the error. No template parameter is defaulted: GCC would leave it out of the note.
template <std::size_t Index, class Layer, class In, class FlattenedFrom>
struct at_layer {
  static void check() {
    static_cast<void>(sizeof(typename Layer::template check<In, FlattenedFrom>));
    if constexpr (requires { Layer::template check_inner<In>(); }) Layer::template check_inner<In>();
  }
};
/// After a failed check the input is invalid_shape: stay quiet, so one mistake makes one error.
template <std::size_t Index, class Layer, class FlattenedFrom>
struct at_layer<Index, Layer, invalid_shape, FlattenedFrom> {
  static void check() {}
};

template <dims In, dims Before>
using flattened_from_t =
    std::conditional_t<In.flat() && Before.spatial(), flattened_from<shape_t<Before>>, not_flattened>;

/// The facts of step I of a chain as types. (The copies into static members work around an internal
/// compiler error of GCC 12 on shape_t<Facts::steps[I].in> written directly in a template argument.)
template <class Facts, std::size_t I>
struct step_at {
  static constexpr dims in = Facts::steps[I].in;
  static constexpr dims out = Facts::steps[I].out;
  static constexpr dims before = Facts::steps[I].before_flatten;
  using in_shape = shape_t<in>;
  using out_shape = shape_t<out>;
  using flattened = flattened_from_t<in, before>;
};

/// Instantiates at_layer for every layer of a chain; Facts::steps holds the chain's step_facts.
/// run() is never executed: it is odr-used only on a path that constant evaluation skips (see
/// checks_pass), so that a failed check's error is not followed by "not a constant expression" errors
/// in everything that reads a shape (clang 14 marks whatever uses a failed class invalid).
template <class Facts, class List, class Seq = std::make_index_sequence<List::size>>
struct chain_checks;
template <class Facts, class... Layers, std::size_t... I>
struct chain_checks<Facts, type_list<Layers...>, std::index_sequence<I...>> {
  static void run() {
    const bool each[] = {true, (at_layer<I, Layers, typename step_at<Facts, I>::in_shape,
                                         typename step_at<Facts, I>::flattened>::check(),
                                true)...};
    static_cast<void>(each);
  }
};

/// Whether every layer of the chain accepted its input, instantiating the diagnostics on the way.
template <class Facts, class List>
constexpr bool checks_pass() {
  if (!std::is_constant_evaluated()) chain_checks<Facts, List>::run();
  for (const auto& s : Facts::steps)
    if (!s.ok) return false;
  return true;
}

/// The facts of a chain run on input In, as a type (what chain_checks reads).
template <class Chain, dims In>
struct chain_facts {
  static constexpr auto steps = Chain::run(In);
};

}  // namespace fusenet::detail
