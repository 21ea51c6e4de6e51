// SPDX-License-Identifier: MIT
// dense<Out> and linear<In, Out>: fully connected layers (torch.nn.Linear) and their shape rules.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "fusenet/detail/type_list.hpp"
#include "fusenet/layers/options.hpp"
#include "fusenet/layers/rules.hpp"
#include "fusenet/layers/tensor_spec.hpp"

namespace fusenet::layers {

namespace detail {
/// The shared declaration of dense and linear: y = x·Wᵀ + b with W of Out×In (PyTorch's layout).
template <std::size_t Out, class... Options>
struct fully_connected {
  static_assert(Out >= 1, "fusenet: dense/linear: Out (features) must be at least 1");
  static_assert(options_valid<fusenet::detail::type_list<Options...>, option_kind::bias>,
                "fusenet: dense/linear: the only option is bias<B>");
  static constexpr std::size_t out_features = Out;
  static constexpr bool has_bias = option_or<option_kind::bias, true, Options...>();

  static constexpr dims output(dims) { return features(Out); }
  static constexpr std::size_t tensor_count = has_bias ? 2 : 1;
  static constexpr std::array<tensor_spec, tensor_count> tensors(dims in) {
    const tensor_spec w{"weight", tensor_role::parameter, 2, {Out, in.d[0], 0, 0}};
    if constexpr (has_bias) {
      return {w, tensor_spec{"bias", tensor_role::parameter, 1, {Out, 0, 0, 0}}};
    } else {
      return {w};
    }
  }
  static constexpr std::size_t mac_count(dims in) { return in.size() * Out; }
};
}  // namespace detail

/// A fully connected layer with Out features whose input size is taken from the network, as
/// torch.nn.Linear; option bias<B>. Requires flat input: put flatten before it (PyTorch's Linear
/// on a C×H×W tensor would act on the last axis only, which is never what a CNN head means).
/// Example: examples/fashion_mnist.cpp
template <std::size_t Out, class... Options>
struct dense : detail::fully_connected<Out, Options...> {
  static constexpr std::string_view kind = "dense";
  static constexpr bool accepts(dims in) { return rule::flat(in); }
  template <class In, class Before>
  struct check {
    static_assert(input_is_flat<dense, In>,
                  "fusenet: dense<Out>: gets a C x H x W input; put flatten before dense");
  };
  static std::string name() {
    return "dense<" + std::to_string(Out) + detail::options_text<Options...>() + ">";
  }
};

/// dense<Out> with the input features stated, so the compiler checks them: linear<In, Out>.
template <std::size_t In, std::size_t Out, class... Options>
struct linear : detail::fully_connected<Out, Options...> {
  static_assert(In >= 1, "fusenet: linear<In, Out>: In must be at least 1");
  static constexpr std::string_view kind = "linear";
  static constexpr std::size_t in_features = In;
  static constexpr bool accepts(dims in) { return rule::flat(in) && in.size() == In; }
  template <class Incoming, class Before>
  struct check {
    static_assert(input_is_flat<linear, Incoming>,
                  "fusenet: linear<In, Out>: gets a C x H x W input; put flatten before linear");
    static_assert(!input_is_flat<linear, Incoming> || in_features_match<linear, Incoming>,
                  "fusenet: linear<In, Out>: In must equal the flattened incoming shape (see shape and "
                  "flattened_from above); or write dense<Out>");
  };
  static std::string name() {
    return "linear<" + std::to_string(In) + ", " + std::to_string(Out) + detail::options_text<Options...>() + ">";
  }
};

}  // namespace fusenet::layers
