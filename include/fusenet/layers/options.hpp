// SPDX-License-Identifier: MIT
// Named layer options (padding<1>, stride<2>, ...); each checks its own value where it is written.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>

namespace fusenet::layers {

namespace option_kind {
struct padding {};
struct stride {};
struct dilation {};
struct groups {};
struct bias {};
struct eps {};
struct momentum {};
struct slope {};
struct rate {};
}  // namespace option_kind

/// Zero padding added on every side of the input (PyTorch's `padding`).
template <int P>
struct padding {
  static_assert(P >= 0, "fusenet: padding<P>: P must be 0 or more");
  using kind = option_kind::padding;
  static constexpr std::size_t value = static_cast<std::size_t>(P);
  static std::string text() { return "padding<" + std::to_string(P) + ">"; }
};

/// Step of the sliding window (PyTorch's `stride`).
template <int S>
struct stride {
  static_assert(S >= 1, "fusenet: stride<S>: S must be 1 or more");
  using kind = option_kind::stride;
  static constexpr std::size_t value = static_cast<std::size_t>(S);
  static std::string text() { return "stride<" + std::to_string(S) + ">"; }
};

/// Spacing between kernel taps (PyTorch's `dilation`).
template <int D>
struct dilation {
  static_assert(D >= 1, "fusenet: dilation<D>: D must be 1 or more");
  using kind = option_kind::dilation;
  static constexpr std::size_t value = static_cast<std::size_t>(D);
  static std::string text() { return "dilation<" + std::to_string(D) + ">"; }
};

/// Number of blocked connections from input to output channels (PyTorch's `groups`).
template <int G>
struct groups {
  static_assert(G >= 1, "fusenet: groups<G>: G must be 1 or more");
  using kind = option_kind::groups;
  static constexpr std::size_t value = static_cast<std::size_t>(G);
  static std::string text() { return "groups<" + std::to_string(G) + ">"; }
};

/// Whether the layer has a learnable bias (PyTorch's `bias=`); bias<false> before a batch_norm is usual.
template <bool B>
struct bias {
  using kind = option_kind::bias;
  static constexpr bool value = B;
  static std::string text() { return B ? "bias<true>" : "bias<false>"; }
};

/// BatchNorm's epsilon added to the variance (PyTorch default 1e-5).
template <double E>
struct eps {
  static_assert(E > 0.0, "fusenet: eps<E>: E must be positive");
  using kind = option_kind::eps;
  static constexpr double value = E;
  static std::string text() { return "eps<" + std::to_string(E) + ">"; }
};

/// BatchNorm's running-statistics momentum (PyTorch default 0.1).
template <double M>
struct momentum {
  static_assert(M >= 0.0 && M <= 1.0, "fusenet: momentum<M>: M must be in [0, 1]");
  using kind = option_kind::momentum;
  static constexpr double value = M;
  static std::string text() { return "momentum<" + std::to_string(M) + ">"; }
};

/// Negative slope of leaky_relu (PyTorch default 0.01).
template <double S>
struct slope {
  using kind = option_kind::slope;
  static constexpr double value = S;
  static std::string text() { return "slope<" + std::to_string(S) + ">"; }
};

/// Probability that dropout zeroes an element (PyTorch default 0.5).
template <double R>
struct rate {
  static_assert(R >= 0.0 && R < 1.0, "fusenet: rate<R>: R must be in [0, 1)");
  using kind = option_kind::rate;
  static constexpr double value = R;
  static std::string text() { return "rate<" + std::to_string(R) + ">"; }
};

namespace detail {
struct no_option_kind {};
template <class T, class = void>
struct option_kind_of {
  using type = no_option_kind;
};
template <class T>
struct option_kind_of<T, std::void_t<typename T::kind>> {
  using type = typename T::kind;
};
template <class T>
using kind_of = typename option_kind_of<T>::type;

/// How many of Options are of kind Kind.
template <class Kind, class... Options>
inline constexpr std::size_t option_count = (std::size_t{std::is_same_v<kind_of<Options>, Kind>} + ... + 0);

/// The value of the option of kind Kind among Options, or Default when it is absent.
template <class Kind, auto Default, class... Options>
constexpr auto option_or() {
  auto v = Default;
  ((std::is_same_v<kind_of<Options>, Kind> ? (v = static_cast<decltype(Default)>(Options::value), 0) : 0), ...);
  return v;
}

/// option_or with the default passed as a function argument: for double defaults, which clang 14 does not
/// accept as template arguments ("non-type template argument of type 'double' is not yet supported").
template <class Kind, class... Options, class T>
constexpr T option_value_or(T fallback) {
  ((std::is_same_v<kind_of<Options>, Kind> ? (fallback = static_cast<T>(Options::value), 0) : 0), ...);
  return fallback;
}

template <class Option, class... Allowed>
inline constexpr bool kind_allowed = (std::is_same_v<kind_of<Option>, Allowed> || ...);

/// Every option is one of the Allowed kinds, and none appears twice.
template <class List, class... Allowed>
inline constexpr bool options_valid = false;
template <template <class...> class List, class... Options, class... Allowed>
inline constexpr bool options_valid<List<Options...>, Allowed...> =
    ((option_count<kind_of<Options>, Options...> == 1) && ...) &&
    (kind_allowed<Options, Allowed...> && ...);

/// ", padding<1>, stride<2>" for the printed layer name.
template <class... Options>
inline std::string options_text() {
  std::string s;
  ((s += ", " + Options::text()), ...);
  return s;
}
}  // namespace detail

}  // namespace fusenet::layers
