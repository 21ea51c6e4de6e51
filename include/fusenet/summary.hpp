// SPDX-License-Identifier: MIT
// summary<Net>(): a printable table of the network, like torchinfo's (layer, output shape, params, MACs).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "fusenet/introspection.hpp"

namespace fusenet {

namespace detail {
inline std::string with_thousands(std::size_t v) {
  std::string s = std::to_string(v);
  for (std::ptrdiff_t i = static_cast<std::ptrdiff_t>(s.size()) - 3; i > 0; i -= 3)
    s.insert(static_cast<std::size_t>(i), ",");
  return s;
}
inline std::string pad_right(std::string s, std::size_t w) {
  // Pad by display width: the × sign is two bytes but one column.
  std::size_t cols = 0;
  for (unsigned char c : s) cols += (c & 0xC0) != 0x80;
  if (cols < w) s.append(w - cols, ' ');
  return s;
}
inline std::string pad_left(const std::string& s, std::size_t w) {
  return s.size() < w ? std::string(w - s.size(), ' ') + s : s;
}

template <class... Layers>
std::vector<std::string> layer_names(type_list<Layers...>) {
  return {Layers::name()...};
}
}  // namespace detail

/// A table with one row per layer (index, layer as declared, output shape, parameters, MACs per sample)
/// and totals, computed at compile time and formatted at run time.
/// Example: examples/summary.cpp
template <class Net>
std::string summary() {
  static_assert(Net::checked);
  const auto names = detail::layer_names(typename Net::layer_list{});
  const auto& steps = Net::steps;
  std::size_t name_w = 5;
  for (const auto& n : names) name_w = std::max(name_w, n.size() + 2);
  std::string out;
  const std::string rule(name_w + 48, '-');
  out += detail::pad_right("#", 5) + detail::pad_right("layer", name_w) + detail::pad_right("output shape", 15) +
         detail::pad_left("params", 13) + detail::pad_left("MACs", 15) + "\n" + rule + "\n";
  out += detail::pad_right("", 5) + detail::pad_right("input", name_w) + detail::pad_right(to_string(Net::input_shape), 15) +
         "\n";
  constexpr auto params = Net::chain_type::param_table(Net::input_shape);
  constexpr auto macs = Net::chain_type::mac_table(Net::input_shape);
  for (std::size_t i = 0; i < Net::layer_count; ++i) {
    out += detail::pad_right(std::to_string(i), 5) + detail::pad_right(names[i], name_w) +
           detail::pad_right(to_string(steps[i].out), 15) + detail::pad_left(detail::with_thousands(params[i]), 13) +
           detail::pad_left(detail::with_thousands(macs[i]), 15) + "\n";
  }
  out += rule + "\n";
  out += "total params: " + detail::with_thousands(param_count<Net>) + "\n";
  out += "total MACs per sample: " + detail::with_thousands(mac_count<Net>) + "\n";
  out += "activations per sample: " + detail::with_thousands(activation_bytes<Net>) + " bytes\n";
  return out;
}

}  // namespace fusenet
