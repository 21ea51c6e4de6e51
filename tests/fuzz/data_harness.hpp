// SPDX-License-Identifier: MIT
// What one fuzz input does to the image, CIFAR and CSV readers; shared by their libFuzzer targets and the data
// suite's corpus replay (tests/data/fuzz_corpus.cpp). Each function returns, or throws fusenet::file_error;
// a std::logic_error means a reader broke its own contract, and anything else is a bug too.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <fusenet/data/cifar.hpp>
#include <fusenet/data/csv.hpp>
#include <fusenet/data/image_decode.hpp>
#include <fusenet/data/image_tensor.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fusenet::fuzz {

namespace detail {

inline std::span<const std::uint8_t> as_bytes(std::span<const char> bytes) {
  return {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()};
}

// A decoded image must hold exactly width × height × channels bytes and convert to any input format with values
// in [0, 1]; small formats keep the fuzzer fast whatever the image's size.
inline void check_decoded(const data::decoded_image& image, const data::image_info& header) {
  const auto& i = image.info;
  if (i.width != header.width || i.height != header.height || i.channels != header.channels)
    throw std::logic_error("decoded size or channels differ from the header's");
  if ((i.channels != 1 && i.channels != 3) || image.pixels.size() != i.width * i.height * i.channels)
    throw std::logic_error("decoded pixel count does not match width x height x channels");
  for (const data::image_format f : {data::image_format{3, 5, 7, data::fit::resize},
                                     data::image_format{1, 6, 4, data::fit::center_crop}}) {
    std::vector<float> out(f.size());
    data::to_tensor(image, f, out);
    for (float v : out)
      if (!(v >= 0.0f && v <= 1.0f)) throw std::logic_error("to_tensor produced a value outside [0, 1]");
  }
}

}  // namespace detail

/// Reads the PNG header, and if that succeeds decodes the whole image and converts it.
inline void png_input(std::span<const char> bytes) {
  const auto b = detail::as_bytes(bytes);
  const auto header = data::read_png_info(b, "fuzz.png");
  detail::check_decoded(data::decode_png(b, "fuzz.png"), header);
}

/// Reads the JPEG header, and if that succeeds decodes the whole image and converts it.
inline void jpeg_input(std::span<const char> bytes) {
  const auto b = detail::as_bytes(bytes);
  const auto header = data::read_jpeg_info(b, "fuzz.jpg");
  detail::check_decoded(data::decode_jpeg(b, "fuzz.jpg"), header);
}

/// Parses the bytes as each CIFAR format; every accepted record must give labels in range and pixels in [0, 1].
/// Throws the first file_error after trying all three formats (an input valid as one is usually not as another).
inline void cifar_input(std::span<const char> bytes) {
  std::exception_ptr first_error;
  bool any_ok = false;
  for (const auto kind : {data::cifar_kind::cifar10, data::cifar_kind::cifar100_fine, data::cifar_kind::cifar100_coarse}) {
    try {
      const auto d = data::parse_cifar(detail::as_bytes(bytes), kind, "fuzz.bin");
      if (d.size() * data::cifar_record_size(kind) != bytes.size()) throw std::logic_error("record count is wrong");
      for (auto l : d.labels)
        if (l >= data::cifar_classes(kind)) throw std::logic_error("label out of range accepted");
      for (float v : d.images)
        if (!(v >= 0.0f && v <= 1.0f)) throw std::logic_error("pixel outside [0, 1]");
      any_ok = true;
    } catch (const file_error&) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (!any_ok && first_error) std::rethrow_exception(first_error);
}

/// Parses the bytes as CSV with the default options and with ';', the label first and a forced header.
/// Every accepted table must be rectangular with finite features and labels below num_classes.
inline void csv_input(std::span<const char> bytes) {
  const std::string_view text(bytes.data(), bytes.size());
  std::exception_ptr first_error;
  bool any_ok = false;
  for (const data::csv_options& o :
       {data::csv_options{}, data::csv_options{.delimiter = ';', .label = data::label_column::first,
                                               .header = data::header_row::present, .num_classes = 10}}) {
    try {
      const auto t = data::parse_csv(text, "fuzz.csv", o);
      if (t.features.shape()[0] != t.size() || t.size() == 0) throw std::logic_error("row count mismatch");
      for (float v : t.features)
        if (!std::isfinite(v)) throw std::logic_error("non-finite feature accepted");
      for (auto l : t.labels)
        if (l >= o.num_classes) throw std::logic_error("label out of range accepted");
      any_ok = true;
    } catch (const file_error&) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (!any_ok && first_error) std::rethrow_exception(first_error);
}

}  // namespace fusenet::fuzz
