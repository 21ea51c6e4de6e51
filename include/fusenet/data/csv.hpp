// SPDX-License-Identifier: MIT
// CSV files of numeric features and an integer class label per row, for input<F> networks.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <xtensor/xtensor.hpp>

#include "fusenet/io/error.hpp"

namespace fusenet::data {

/// A labelled feature table: features N×F, labels N class indices.
struct table {
  xt::xtensor<float, 2> features;
  xt::xtensor<std::uint8_t, 1> labels;

  /// Number of rows N.
  [[nodiscard]] std::size_t size() const { return labels.size(); }
};

/// Where a CSV row keeps its label.
enum class label_column { last, first };

/// Whether a CSV's first line names the columns.
enum class header_row {
  detect,   ///< a header if any field of the first line is not a number
  present,  ///< always skip the first line
  absent,   ///< the first line is data
};

/// Options of read_csv.
struct csv_options {
  char delimiter = ',';
  label_column label = label_column::last;
  header_row header = header_row::detect;
  std::size_t features = 0;     ///< features per row the caller needs (the network's F); 0 accepts any
  std::size_t num_classes = 256; ///< labels must be integers in [0, num_classes), at most 256
};

/// Reads a CSV of numbers: each row F features and one integer label. Fields may be surrounded by spaces;
/// lines end in LF or CRLF; blank lines are skipped; quoted fields are not supported.
/// Throws file_error naming the file and line (and field) for: a missing file; no data row; a row whose field
/// count differs from the first row's; a field that is not a finite number; a label that is not an integer in
/// [0, num_classes); a feature count other than options.features.
table read_csv(const std::string& path, const csv_options& options = {});

/// Parses CSV text; `name` is the file named in errors. Throws file_error as read_csv does.
table parse_csv(std::string_view text, const std::string& name, const csv_options& options = {});

/// Copies rows `indices` of `data` into `features` (B×F) and `labels` (B, as Label), reshaping only when B
/// changes (the table twin of gather for images). Throws std::out_of_range naming the first index past the end.
template <class Label>
void gather(const table& data, std::span<const std::size_t> indices, xt::xtensor<float, 2>& features,
            xt::xtensor<Label, 1>& labels) {
  const std::size_t f = data.features.shape()[1];
  for (auto i : indices)
    if (i >= data.size())
      throw std::out_of_range("fusenet: gather: row index " + std::to_string(i) + " is past the table's " +
                              std::to_string(data.size()) + " rows");
  const std::array<std::size_t, 2> shape{indices.size(), f};
  if (!std::equal(shape.begin(), shape.end(), features.shape().begin())) features.resize(shape);
  if (labels.size() != indices.size()) labels.resize({indices.size()});
  for (std::size_t k = 0; k < indices.size(); ++k) {
    std::copy_n(data.features.data() + indices[k] * f, f, features.data() + k * f);
    labels(k) = static_cast<Label>(data.labels(indices[k]));
  }
}

}  // namespace fusenet::data
