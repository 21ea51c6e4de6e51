// SPDX-License-Identifier: MIT
// Compile-time shapes: shape<F> for features, shape<C, H, W> for images; the batch size is the only runtime dimension.
#pragma once

#include <array>
#include <cstddef>
#include <string>

namespace fusenet {

/// The value-level form of a shape, used by the constexpr front end: rank 1 (features) or 3 (C, H, W).
/// Rank 0 marks an invalid shape: the placeholder that follows a failed check, so one mistake gives one error.
struct dims {
  std::size_t rank = 0;
  std::size_t d[3] = {0, 0, 0};

  [[nodiscard]] constexpr bool valid() const { return rank != 0; }
  [[nodiscard]] constexpr bool spatial() const { return rank == 3; }
  [[nodiscard]] constexpr bool flat() const { return rank == 1; }
  /// Number of elements per sample (0 for an invalid shape).
  [[nodiscard]] constexpr std::size_t size() const {
    if (rank == 0) return 0;
    std::size_t s = 1;
    for (std::size_t i = 0; i < rank; ++i) s *= d[i];
    return s;
  }
  /// Channels of a C×H×W shape, features of a flat one.
  [[nodiscard]] constexpr std::size_t channels() const { return d[0]; }
  [[nodiscard]] constexpr std::size_t height() const { return rank == 3 ? d[1] : 1; }
  [[nodiscard]] constexpr std::size_t width() const { return rank == 3 ? d[2] : 1; }
  friend constexpr bool operator==(const dims&, const dims&) = default;
};

/// Builds the value-level shape C×H×W.
constexpr dims chw(std::size_t c, std::size_t h, std::size_t w) { return dims{3, {c, h, w}}; }
/// Builds the value-level flat shape of F features.
constexpr dims features(std::size_t f) { return dims{1, {f, 0, 0}}; }

/// A per-sample tensor shape known at compile time: shape<F> or shape<C, H, W>.
template <std::size_t... D>
struct shape {
  static_assert(sizeof...(D) == 1 || sizeof...(D) == 3,
                "fusenet: shape<...>: write shape<F> for features or shape<C, H, W> for images");
  static_assert(((D > 0) && ...), "fusenet: shape<...>: every dimension must be at least 1");
  static constexpr std::size_t rank = sizeof...(D);
  static constexpr std::size_t size = (D * ... * std::size_t{1});
  static constexpr dims value{rank, {D...}};
};

/// The placeholder shape after a failed check. It compares equal to every shape, so that the
/// checks that follow stay quiet and the user sees only the first, real error.
struct invalid_shape {
  static constexpr std::size_t rank = 0;
  static constexpr std::size_t size = 0;
  static constexpr dims value{};
};

template <std::size_t... A, std::size_t... B>
constexpr bool operator==(shape<A...>, shape<B...>) {
  return shape<A...>::value == shape<B...>::value;
}
template <class S>
constexpr bool operator==(invalid_shape, S) {
  return true;
}

namespace detail {
template <dims V>
constexpr auto make_shape() {
  if constexpr (V.rank == 1) return shape<V.d[0]>{};
  else if constexpr (V.rank == 3) return shape<V.d[0], V.d[1], V.d[2]>{};
  else return invalid_shape{};
}
}  // namespace detail

/// The shape type of a value-level shape (invalid_shape for an invalid one).
template <dims V>
using shape_t = decltype(detail::make_shape<V>());

/// Output size of a sliding window, as PyTorch computes it (floor mode):
/// out = (in + 2*pad - dilation*(kernel-1) - 1) / stride + 1; 0 when the window does not fit.
constexpr std::size_t window_output(std::size_t in, std::size_t kernel, std::size_t stride, std::size_t pad,
                                    std::size_t dilation = 1) {
  const std::size_t span = dilation * (kernel - 1) + 1;
  if (in + 2 * pad < span || stride == 0) return 0;
  return (in + 2 * pad - span) / stride + 1;
}

/// Prints a value-level shape as PyTorch prints a per-sample size: "64×7×7" or "3136".
inline std::string to_string(const dims& s) {
  if (!s.valid()) return "invalid";
  std::string out;
  for (std::size_t i = 0; i < s.rank; ++i) {
    if (i) out += "\u00d7";
    out += std::to_string(s.d[i]);
  }
  return out;
}

}  // namespace fusenet
