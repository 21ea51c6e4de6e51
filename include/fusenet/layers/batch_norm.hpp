// SPDX-License-Identifier: MIT
// batch_norm: declaration and stored tensors of BatchNorm1d/2d (chosen by the input's rank).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "fusenet/detail/type_list.hpp"
#include "fusenet/layers/elementwise.hpp"
#include "fusenet/layers/options.hpp"

namespace fusenet::layers {

/// Batch normalisation over channels: BatchNorm2d after a C×H×W output, BatchNorm1d after features.
/// Options: eps<Num, Den> (default 1e-5: eps<1, 100000>), momentum<Num, Den> (default 0.1: momentum<1, 10>); GCC
/// also takes eps<1e-5> (layers/options.hpp). Semantics are PyTorch's (see model/).
/// Example: examples/fashion_mnist.cpp
template <class... Options>
struct batch_norm_with : detail::shape_preserving {
  static_assert(detail::options_valid<fusenet::detail::type_list<Options...>, option_kind::eps, option_kind::momentum>,
                "fusenet: batch_norm_with<options...>: options are eps<E> and momentum<M>, each at most once");
  static constexpr std::string_view kind = "batch_norm";
  static constexpr double epsilon = detail::option_value_or<option_kind::eps, Options...>(1e-5);
  static constexpr double momentum_value = detail::option_value_or<option_kind::momentum, Options...>(0.1);

  static constexpr std::size_t tensor_count = 5;
  static constexpr std::array<tensor_spec, 5> tensors(dims in) {
    const std::size_t c = in.d[0];
    return {tensor_spec{"weight", tensor_role::parameter, 1, {c, 0, 0, 0}},
            tensor_spec{"bias", tensor_role::parameter, 1, {c, 0, 0, 0}},
            tensor_spec{"running_mean", tensor_role::buffer, 1, {c, 0, 0, 0}},
            tensor_spec{"running_var", tensor_role::buffer, 1, {c, 0, 0, 0}},
            tensor_spec{"num_batches_tracked", tensor_role::counter, 0, {}}};
  }
  static std::string name() {
    if constexpr (sizeof...(Options) == 0) {
      return "batch_norm";
    } else {
      std::string s = detail::options_text<Options...>();
      return "batch_norm_with<" + s.substr(2) + ">";
    }
  }
};

/// BatchNorm with PyTorch's defaults (eps 1e-5, momentum 0.1).
using batch_norm = batch_norm_with<>;

}  // namespace fusenet::layers
