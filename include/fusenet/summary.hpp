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
// Built by appending rather than std::string::insert: GCC 12 at -O2/-O3 reports a false -Wrestrict inside
// libstdc++'s insert (https://gcc.gnu.org/bugzilla/show_bug.cgi?id=105329), which broke consumers' -Werror builds.
inline std::string with_thousands(std::size_t v) {
  const std::string digits = std::to_string(v);
  std::string s;
  s.reserve(digits.size() + digits.size() / 3);
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}
/// Display columns of UTF-8 text: the × sign is two bytes but one column.
inline std::size_t display_width(const std::string& s) {
  std::size_t cols = 0;
  for (unsigned char c : s) cols += (c & 0xC0) != 0x80;
  return cols;
}
inline std::string pad_right(std::string s, std::size_t w) {
  const std::size_t cols = display_width(s);
  if (cols < w) s.append(w - cols, ' ');
  return s;
}
inline std::string pad_left(const std::string& s, std::size_t w) {
  const std::size_t cols = display_width(s);
  std::string out;
  if (cols < w) out.append(w - cols, ' ');
  out.append(s);
  return out;
}

/// Widest layer name summary prints on one line; longer ones (residual blocks) wrap, so that a row stays within
/// 100 columns (5 for the index, the name, 15 + 13 + 15 for shape, params and MACs).
inline constexpr std::size_t summary_name_width = 50;

/// Splits a layer name after the ", " separators at nesting depth Depth (1: the layers of a residual block) and
/// packs the pieces greedily into lines of at most Width columns; a piece that alone is too wide is split again
/// one level deeper. Lines after the first are meant to be printed indented by two columns.
inline void wrap_name_into(std::vector<std::string>& lines, const std::string& name, std::size_t width, int depth) {
  std::vector<std::string> pieces;
  int level = 0;
  std::size_t begin = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '<')
      ++level;
    else if (name[i] == '>')
      --level;
    else if (name[i] == ',' && level == depth && i + 1 < name.size() && name[i + 1] == ' ') {
      pieces.push_back(name.substr(begin, i + 2 - begin));  // keeps ", " so that the line shows it continues
      begin = i + 2;
    }
  }
  pieces.push_back(name.substr(begin));
  if (pieces.size() == 1) {
    // Nothing to split at this depth: go one level deeper while there is one, else print it as it is.
    if (display_width(name) <= width || name.find('<', 0) == std::string::npos || depth > 8) {
      lines.push_back(name);
    } else {
      wrap_name_into(lines, name, width, depth + 1);
    }
    return;
  }
  std::string line;
  for (const auto& piece : pieces) {
    // Lines end in ", " while pieces follow; the trailing space is not printed, so it does not count.
    if (!line.empty() && display_width(line) + display_width(piece) - (piece.back() == ' ') > width) {
      lines.push_back(line);
      line.clear();
    }
    if (line.empty() && display_width(piece) - (piece.back() == ' ') > width) {
      wrap_name_into(lines, piece, width, depth + 1);
      line = lines.back();  // the next pieces continue its last line
      lines.pop_back();
      continue;
    }
    line += piece;
  }
  if (!line.empty()) lines.push_back(line);
}

/// A layer name in lines of at most Width columns (continuation lines indented by two and included in Width).
inline std::vector<std::string> wrap_name(const std::string& name, std::size_t width) {
  std::vector<std::string> lines;
  if (display_width(name) <= width) {
    lines.push_back(name);
    return lines;
  }
  wrap_name_into(lines, name, width - 2, 1);
  for (auto& l : lines) {
    while (!l.empty() && l.back() == ' ') l.pop_back();
  }
  for (std::size_t i = 1; i < lines.size(); ++i) lines[i].insert(0, "  ");
  return lines;
}

inline std::string trim_right(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

template <class... Layers>
std::vector<std::string> layer_names(type_list<Layers...>) {
  return {Layers::name()...};
}
}  // namespace detail

/// A table with one row per layer (index, layer as declared, output shape, parameters, MACs per sample)
/// and totals, computed at compile time and formatted at run time. Options print as written (rate<0.2>,
/// eps<1, 100000>); a layer name wider than 50 columns (a residual block) wraps after its commas onto indented
/// continuation lines, so every line stays within 100 columns.
/// Example: examples/quickstart.cpp
template <class Net>
std::string summary() {
  static_assert(Net::checked);
  const auto names = detail::layer_names(typename Net::layer_list{});
  const auto& steps = Net::steps;
  std::size_t name_w = 5;
  for (const auto& n : names) name_w = std::max(name_w, std::min(detail::display_width(n), detail::summary_name_width));
  name_w += 2;
  std::string out;
  const std::string rule(name_w + 48, '-');
  out += detail::pad_right("#", 5) + detail::pad_right("layer", name_w) + detail::pad_right("output shape", 15) +
         detail::pad_left("params", 13) + detail::pad_left("MACs", 15) + "\n" + rule + "\n";
  out +=
      detail::trim_right(detail::pad_right("", 5) + detail::pad_right("input", name_w) + to_string(Net::input_shape)) +
      "\n";
  constexpr auto params = Net::chain_type::param_table(Net::input_shape);
  constexpr auto macs = Net::chain_type::mac_table(Net::input_shape);
  for (std::size_t i = 0; i < Net::layer_count; ++i) {
    const auto lines = detail::wrap_name(names[i], detail::summary_name_width);
    out += detail::pad_right(std::to_string(i), 5) + detail::pad_right(lines[0], name_w) +
           detail::pad_right(to_string(steps[i].out), 15) + detail::pad_left(detail::with_thousands(params[i]), 13) +
           detail::pad_left(detail::with_thousands(macs[i]), 15) + "\n";
    for (std::size_t j = 1; j < lines.size(); ++j) out += std::string(5, ' ') + lines[j] + "\n";
  }
  out += rule + "\n";
  out += "total params: " + detail::with_thousands(param_count<Net>) + "\n";
  out += "total MACs per sample: " + detail::with_thousands(mac_count<Net>) + "\n";
  out += "activations per sample: " + detail::with_thousands(activation_bytes<Net>) + " bytes\n";
  return out;
}

}  // namespace fusenet
