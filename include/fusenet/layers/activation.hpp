// SPDX-License-Identifier: MIT
// Element-wise activations: relu, leaky_relu, sigmoid, tanh_, identity.
#pragma once

#include <string>
#include <string_view>

#include "fusenet/detail/type_list.hpp"
#include "fusenet/layers/elementwise.hpp"
#include "fusenet/layers/options.hpp"

namespace fusenet::layers {

/// max(x, 0), as torch.nn.ReLU.
struct relu : detail::shape_preserving {
  static constexpr std::string_view kind = "relu";
  static std::string name() { return "relu"; }
};

/// x for x ≥ 0, slope·x otherwise, as torch.nn.LeakyReLU; option slope<Num, Den> (default 0.01:
/// slope<1, 100>; GCC also takes slope<0.01>).
template <class... Options>
struct leaky_relu_with : detail::shape_preserving {
  static_assert(detail::options_valid<fusenet::detail::type_list<Options...>, option_kind::slope>,
                "fusenet: leaky_relu_with<options...>: the only option is slope<S>");
  static constexpr std::string_view kind = "leaky_relu";
  static constexpr double negative_slope = detail::option_value_or<option_kind::slope, Options...>(0.01);
  static std::string name() {
    if constexpr (sizeof...(Options) == 0) return "leaky_relu";
    else return "leaky_relu_with<" + detail::options_text<Options...>().substr(2) + ">";
  }
};
/// leaky_relu with PyTorch's default slope 0.01.
using leaky_relu = leaky_relu_with<>;

/// 1 / (1 + e^-x), as torch.nn.Sigmoid.
struct sigmoid : detail::shape_preserving {
  static constexpr std::string_view kind = "sigmoid";
  static std::string name() { return "sigmoid"; }
};

/// tanh(x), as torch.nn.Tanh (the trailing underscore avoids the name of std::tanh).
struct tanh_ : detail::shape_preserving {
  static constexpr std::string_view kind = "tanh";
  static std::string name() { return "tanh_"; }
};

/// The identity, as torch.nn.Identity.
struct identity : detail::shape_preserving {
  static constexpr std::string_view kind = "identity";
  static std::string name() { return "identity"; }
};

/// Zeroes each element with probability rate<R> in training and scales the rest by 1/(1-R), as
/// torch.nn.Dropout; the identity in inference. Option rate<Num, Den> (default 0.5: rate<1, 2>; GCC also takes
/// rate<0.5>).
template <class... Options>
struct dropout_with : detail::shape_preserving {
  static_assert(detail::options_valid<fusenet::detail::type_list<Options...>, option_kind::rate>,
                "fusenet: dropout_with<options...>: the only option is rate<R>");
  static constexpr std::string_view kind = "dropout";
  static constexpr double drop_rate = detail::option_value_or<option_kind::rate, Options...>(0.5);
  static std::string name() {
    if constexpr (sizeof...(Options) == 0) return "dropout";
    else return "dropout_with<" + detail::options_text<Options...>().substr(2) + ">";
  }
};
/// dropout with PyTorch's default rate 0.5.
using dropout = dropout_with<>;

}  // namespace fusenet::layers
