// SPDX-License-Identifier: MIT
// Concepts that constrain the free functions taking a model (save, load, check_finite).
#pragma once

#include <type_traits>

#include "fusenet/model/mode.hpp"

namespace fusenet {

namespace detail {
template <class T>
struct is_model : std::false_type {};
template <class Net, class Mode>
struct is_model<model<Net, Mode>> : std::true_type {};

template <class>
inline constexpr bool always_false = false;
}  // namespace detail

/// Any model<Net, Mode>, of either mode.
template <class T>
concept any_model = detail::is_model<std::remove_cvref_t<T>>::value;

/// A model whose stored tensors are PyTorch's state_dict (parameters, running statistics, counters), readable
/// from a const model and writable from a mutable one: model<Net, mode::train>. An inference model holds
/// BatchNorm-folded, repacked weights instead, so it has no state_dict to save, load or check.
template <class T>
concept state_dict_model = any_model<T> && requires(const T& c, T& m) {
  c.tensors();
  m.tensors();
};

}  // namespace fusenet
