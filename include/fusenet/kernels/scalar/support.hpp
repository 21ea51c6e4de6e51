// SPDX-License-Identifier: MIT
// Small helpers shared by the scalar reference loops: accumulator type and sliding-window index ranges.
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

namespace fusenet::kernels::scalar::detail {

/// The type long reductions are summed in: double for float inputs, so the oracle stays accurate.
template <class T>
using accumulator_t = std::conditional_t<(sizeof(T) < sizeof(double)), double, T>;

/// A half-open range [begin, end) of output positions.
struct index_range {
  std::size_t begin;  ///< first output position in the range
  std::size_t end;    ///< one past the last output position
};

/// The output positions o in [0, out) whose input tap o*stride - padding + offset lies in [0, in).
///
/// Solving 0 <= o*stride - padding + offset <= in - 1 for o lets the loops run without bounds checks:
/// begin = ceil((padding - offset) / stride), end = floor((in - 1 + padding - offset) / stride) + 1.
constexpr index_range valid_outputs(std::size_t out, std::size_t in, std::size_t stride,
                                    std::size_t padding, std::size_t offset) {
  const auto lead = static_cast<std::ptrdiff_t>(padding) - static_cast<std::ptrdiff_t>(offset);
  const auto s = static_cast<std::ptrdiff_t>(stride);
  const std::ptrdiff_t first = lead > 0 ? (lead + s - 1) / s : 0;
  const std::ptrdiff_t last_tap = static_cast<std::ptrdiff_t>(in) - 1 + lead;
  if (last_tap < 0) return {0, 0};
  const std::ptrdiff_t end = std::min(static_cast<std::ptrdiff_t>(out), last_tap / s + 1);
  if (end <= first) return {0, 0};
  return {static_cast<std::size_t>(first), static_cast<std::size_t>(end)};
}

/// The input index o*stride - padding + offset of an output position known to be in valid_outputs.
constexpr std::size_t input_index(std::size_t o, std::size_t stride, std::size_t padding,
                                  std::size_t offset) {
  return o * stride + offset - padding;
}

}  // namespace fusenet::kernels::scalar::detail
