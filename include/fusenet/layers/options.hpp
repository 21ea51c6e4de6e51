// SPDX-License-Identifier: MIT
// Named layer options (padding<1>, stride<2>, ...); each checks its own value where it is written.
#pragma once

#include <charconv>
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

namespace detail {
/// N / D is a number an option can hold: two integers with D > 0 (any compiler), or one floating-point N with
/// D = 1 (GCC; clang 14 has no floating-point template arguments).
template <auto N, auto D>
constexpr bool number_pair() {
  using n_t = decltype(N);
  using d_t = decltype(D);
  if constexpr (std::is_same_v<n_t, bool> || std::is_same_v<d_t, bool> || !std::is_integral_v<d_t>) {
    return false;
  } else if constexpr (std::is_floating_point_v<n_t>) {
    return D == 1;
  } else if constexpr (std::is_integral_v<n_t>) {
    return D > 0;
  } else {
    return false;
  }
}

template <auto N, auto D>
constexpr double ratio_value() {
  if constexpr (number_pair<N, D>())
    return static_cast<double>(N) / static_cast<double>(D);
  else
    return 0.0;
}

/// The shortest text that reads back as v ("0.2", "1e-5"), not std::to_string's "0.200000".
inline std::string shortest_text(double v) {
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  std::string s(buf, end);
  // to_chars writes "1e-05"; drop the exponent's leading zeros, as the value is usually written.
  if (const auto e = s.find('e'); e != std::string::npos) {
    auto digits = e + 1 + (s[e + 1] == '-' || s[e + 1] == '+');
    while (digits + 1 < s.size() && s[digits] == '0') s.erase(digits, 1);
  }
  return s;
}

/// The option's arguments as written: "1, 100000", "3", or (a double) "0.2".
template <auto N, auto D>
std::string ratio_text() {
  if constexpr (std::is_floating_point_v<decltype(N)>)
    return shortest_text(static_cast<double>(N));
  else if constexpr (D == 1)
    return std::to_string(N);
  else
    return std::to_string(N) + ", " + std::to_string(D);
}
}  // namespace detail

// The four real-valued options take either a ratio of integers, Num / Den (eps<1, 100000> is 1e-5), which
// every C++20 compiler accepts, or on GCC one double (eps<1e-5>). Clang 14 does not implement floating-point
// template arguments ("non-type template argument of type 'double' is not yet supported"); portable code
// writes the ratio form. Both print as written (summary, describe, error notes).

/// BatchNorm's epsilon added to the variance, Num / Den (PyTorch default 1e-5: eps<1, 100000>).
template <auto Num, auto Den = 1>
struct eps {
  static_assert(detail::number_pair<Num, Den>(),
                "fusenet: eps<Num, Den>: write integers with Den > 0 (eps<1, 100000>), or with GCC eps<1e-5>");
  using kind = option_kind::eps;
  static constexpr double value = detail::ratio_value<Num, Den>();
  static_assert(!detail::number_pair<Num, Den>() || value > 0.0, "fusenet: eps<E>: E must be positive");
  static std::string text() { return "eps<" + detail::ratio_text<Num, Den>() + ">"; }
};

/// BatchNorm's running-statistics momentum, Num / Den (PyTorch default 0.1: momentum<1, 10>).
template <auto Num, auto Den = 1>
struct momentum {
  static_assert(detail::number_pair<Num, Den>(),
                "fusenet: momentum<Num, Den>: write integers with Den > 0 (momentum<1, 10>), or with GCC "
                "momentum<0.1>");
  using kind = option_kind::momentum;
  static constexpr double value = detail::ratio_value<Num, Den>();
  static_assert(!detail::number_pair<Num, Den>() || (value >= 0.0 && value <= 1.0),
                "fusenet: momentum<M>: M must be in [0, 1]");
  static std::string text() { return "momentum<" + detail::ratio_text<Num, Den>() + ">"; }
};

/// Negative slope of leaky_relu, Num / Den (PyTorch default 0.01: slope<1, 100>).
template <auto Num, auto Den = 1>
struct slope {
  static_assert(detail::number_pair<Num, Den>(),
                "fusenet: slope<Num, Den>: write integers with Den > 0 (slope<1, 100>), or with GCC slope<0.01>");
  using kind = option_kind::slope;
  static constexpr double value = detail::ratio_value<Num, Den>();
  static std::string text() { return "slope<" + detail::ratio_text<Num, Den>() + ">"; }
};

/// Probability that dropout zeroes an element, Num / Den (PyTorch default 0.5: rate<1, 2>).
template <auto Num, auto Den = 1>
struct rate {
  static_assert(detail::number_pair<Num, Den>(),
                "fusenet: rate<Num, Den>: write integers with Den > 0 (rate<1, 5>), or with GCC rate<0.2>");
  using kind = option_kind::rate;
  static constexpr double value = detail::ratio_value<Num, Den>();
  static_assert(!detail::number_pair<Num, Den>() || (value >= 0.0 && value < 1.0),
                "fusenet: rate<R>: R must be in [0, 1)");
  static std::string text() { return "rate<" + detail::ratio_text<Num, Den>() + ">"; }
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
