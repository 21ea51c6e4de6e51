// SPDX-License-Identifier: MIT
// Parsing CSV tables of features and labels, with errors that give the file, line and field.
#include <charconv>
#include <cmath>
#include <fusenet/data/csv.hpp>
#include <fusenet/data/image_decode.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace fusenet::data {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view line, char delimiter) {
  std::vector<std::string_view> fields;
  for (;;) {
    const auto at = line.find(delimiter);
    fields.push_back(trim(line.substr(0, at)));
    if (at == std::string_view::npos) return fields;
    line.remove_prefix(at + 1);
  }
}

bool parse_number(std::string_view s, double& value) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);  // from_chars rejects a leading '+'
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

std::string quote(std::string_view s) {
  constexpr std::size_t shown = 40;
  return "'" + std::string(s.substr(0, shown)) + (s.size() > shown ? "...'" : "'");
}

}  // namespace

table parse_csv(std::string_view text, const std::string& name, const csv_options& options) {
  if (options.num_classes == 0 || options.num_classes > 256)
    throw std::invalid_argument("fusenet: read_csv: num_classes must be in [1, 256], got " +
                                std::to_string(options.num_classes));
  std::vector<float> values;
  std::vector<std::uint8_t> labels;
  std::size_t fields_per_row = 0, first_data_line = 0, line_no = 0;
  bool first_line = true;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_no;
    if (trim(line).empty()) continue;
    const std::string where = name + ":" + std::to_string(line_no);
    if (line.find('"') != std::string_view::npos)
      throw file_error(where + ": quoted fields are not supported; write plain numbers");
    const auto fields = split(line, options.delimiter);
    if (first_line) {
      first_line = false;
      bool numeric = true;
      double ignored = 0;
      for (auto f : fields) numeric = numeric && parse_number(f, ignored);
      if (options.header == header_row::present || (options.header == header_row::detect && !numeric)) continue;
    }
    if (fields_per_row == 0) {
      fields_per_row = fields.size();
      first_data_line = line_no;
      if (fields_per_row < 2)
        throw file_error(where + ": a row needs at least one feature and a label, this one has 1 field (is the "
                         "delimiter '" + std::string(1, options.delimiter) + "'?)");
      if (options.features != 0 && fields_per_row - 1 != options.features)
        throw file_error(where + ": rows have " + std::to_string(fields_per_row - 1) + " features and a label, the "
                         "network's input takes " + std::to_string(options.features) + " features");
    } else if (fields.size() != fields_per_row) {
      throw file_error(where + ": " + std::to_string(fields.size()) + " fields, expected " +
                       std::to_string(fields_per_row) + " as on line " + std::to_string(first_data_line));
    }
    const std::size_t label_at = options.label == label_column::last ? fields.size() - 1 : 0;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      double v = 0;
      // A finite double can still overflow float (1e40): the feature would become inf.
      if (!parse_number(fields[i], v) || !std::isfinite(static_cast<float>(v)))
        throw file_error(where + ", field " + std::to_string(i + 1) + ": " + quote(fields[i]) +
                         " is not a finite number");
      if (i == label_at) {
        if (v != std::floor(v) || v < 0 || v >= static_cast<double>(options.num_classes))
          throw file_error(where + ", field " + std::to_string(i + 1) + ": label " + quote(fields[i]) +
                           " is not a class index in [0, " + std::to_string(options.num_classes) + ")");
        labels.push_back(static_cast<std::uint8_t>(v));
      } else {
        values.push_back(static_cast<float>(v));
      }
    }
  }
  if (labels.empty()) throw file_error(name + ": CSV holds no data row");
  const std::size_t n = labels.size(), f = fields_per_row - 1;
  table t{xt::xtensor<float, 2>::from_shape({n, f}), xt::xtensor<std::uint8_t, 1>::from_shape({n})};
  std::copy(values.begin(), values.end(), t.features.begin());
  std::copy(labels.begin(), labels.end(), t.labels.begin());
  return t;
}

table read_csv(const std::string& path, const csv_options& options) {
  const auto bytes = read_file_bytes(path);
  return parse_csv(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path, options);
}

}  // namespace fusenet::data
