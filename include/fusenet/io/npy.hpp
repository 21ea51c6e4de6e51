// SPDX-License-Identifier: MIT
// NumPy .npy files (format 1.0-3.0, little-endian, C order): read into and write from xtensor.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include "fusenet/io/error.hpp"

namespace fusenet::io {

/// The raw content of a .npy file: dtype descriptor (e.g. "<f4"), shape and bytes in C order.
struct npy_array {
  std::string dtype;
  std::vector<std::size_t> shape;
  std::vector<char> bytes;
  [[nodiscard]] std::size_t count() const {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

namespace detail {
template <class T>
constexpr std::string_view npy_dtype() {
  if constexpr (std::is_same_v<T, float>) return "<f4";
  else if constexpr (std::is_same_v<T, double>) return "<f8";
  else if constexpr (std::is_same_v<T, std::int64_t>) return "<i8";
  else if constexpr (std::is_same_v<T, std::int32_t>) return "<i4";
  else if constexpr (std::is_same_v<T, std::uint8_t>) return "|u1";
  else static_assert(sizeof(T) == 0, "fusenet: npy: element type must be float, double, int64, int32 or uint8");
}

inline std::size_t npy_item_size(const std::string& dtype, const std::string& where) {
  if (dtype == "<f4" || dtype == "<i4") return 4;
  if (dtype == "<f8" || dtype == "<i8") return 8;
  if (dtype == "|u1" || dtype == "|i1" || dtype == "|b1") return 1;
  throw file_error(where + ": unsupported dtype '" + dtype + "' (expected <f4, <f8, <i8, <i4 or |u1)");
}

// Value of `'key': value` in the header dict, as text up to the next top-level comma.
inline std::string npy_header_field(const std::string& header, const std::string& key, const std::string& where) {
  auto pos = header.find("'" + key + "'");
  if (pos == std::string::npos) throw file_error(where + ": npy header has no '" + key + "' field");
  pos = header.find(':', pos);
  if (pos == std::string::npos) throw file_error(where + ": npy header field '" + key + "' has no value");
  ++pos;
  while (pos < header.size() && header[pos] == ' ') ++pos;
  if (pos < header.size() && header[pos] == '(') {
    auto end = header.find(')', pos);
    if (end == std::string::npos) throw file_error(where + ": npy header shape is not closed");
    return header.substr(pos, end - pos + 1);
  }
  auto end = header.find_first_of(",}", pos);
  return header.substr(pos, end - pos);
}
}  // namespace detail

/// Reads a .npy file. Throws file_error naming the file for a missing, truncated or malformed file.
inline npy_array read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path + ": cannot open .npy file");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw file_error(path + ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  std::size_t header_len = 0;
  if (major == 1) {
    unsigned char l[2];
    if (!in.read(reinterpret_cast<char*>(l), 2)) throw file_error(path + ": truncated .npy header");
    header_len = l[0] | (std::size_t{l[1]} << 8);
  } else if (major == 2 || major == 3) {
    unsigned char l[4];
    if (!in.read(reinterpret_cast<char*>(l), 4)) throw file_error(path + ": truncated .npy header");
    header_len = l[0] | (std::size_t{l[1]} << 8) | (std::size_t{l[2]} << 16) | (std::size_t{l[3]} << 24);
  } else {
    throw file_error(path + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_len > (1u << 20)) throw file_error(path + ": .npy header length " + std::to_string(header_len) + " is implausible");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header_len))) throw file_error(path + ": truncated .npy header");

  npy_array a;
  auto descr = detail::npy_header_field(header, "descr", path);
  auto q1 = descr.find('\''), q2 = descr.rfind('\'');
  if (q1 == std::string::npos || q2 <= q1) throw file_error(path + ": malformed npy descr " + descr);
  a.dtype = descr.substr(q1 + 1, q2 - q1 - 1);
  if (a.dtype == "<u1" || a.dtype == "u1") a.dtype = "|u1";
  if (detail::npy_header_field(header, "fortran_order", path).find("False") == std::string::npos)
    throw file_error(path + ": Fortran-order .npy files are not supported");
  auto shape_text = detail::npy_header_field(header, "shape", path);
  std::size_t i = 1;
  while (i < shape_text.size()) {
    while (i < shape_text.size() && (shape_text[i] == ' ' || shape_text[i] == ',')) ++i;
    if (i >= shape_text.size() || shape_text[i] == ')') break;
    std::size_t v = 0;
    bool digits = false;
    while (i < shape_text.size() && shape_text[i] >= '0' && shape_text[i] <= '9') {
      v = v * 10 + static_cast<std::size_t>(shape_text[i] - '0');
      ++i;
      digits = true;
    }
    if (!digits) throw file_error(path + ": malformed npy shape " + shape_text);
    a.shape.push_back(v);
  }
  const std::size_t nbytes = a.count() * detail::npy_item_size(a.dtype, path);
  a.bytes.resize(nbytes);
  if (!in.read(a.bytes.data(), static_cast<std::streamsize>(nbytes)))
    throw file_error(path + ": truncated .npy data (expected " + std::to_string(nbytes) + " bytes)");
  return a;
}

/// Reads a .npy file into an xarray of T; the file's dtype must be T's (no silent conversion).
template <class T>
xt::xarray<T> load_npy(const std::string& path) {
  auto a = read_npy(path);
  if (a.dtype != detail::npy_dtype<T>())
    throw file_error(path + ": dtype is " + a.dtype + ", expected " + std::string(detail::npy_dtype<T>()));
  xt::xarray<T> out = xt::xarray<T>::from_shape(a.shape);
  if (!a.bytes.empty()) std::memcpy(out.data(), a.bytes.data(), a.bytes.size());
  return out;
}

/// Writes `count` elements of T in C order with the given shape as a .npy (version 1.0) file.
template <class T>
void save_npy(const std::string& path, const T* data, const std::vector<std::size_t>& shape) {
  std::string dict = "{'descr': '" + std::string(detail::npy_dtype<T>()) + "', 'fortran_order': False, 'shape': (";
  std::size_t count = 1;
  for (auto d : shape) {
    dict += std::to_string(d) + ", ";
    count *= d;
  }
  if (shape.size() > 1) dict.resize(dict.size() - 1);  // numpy writes (a, b) but (a,)
  if (shape.size() > 1) dict.back() = ')';
  else dict += ")";
  dict += ", }";
  const std::size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) throw file_error(path + ": cannot open for writing");
  const std::uint16_t len = static_cast<std::uint16_t>(dict.size());
  const char head[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.write(head, 8);
  const char l[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(l, 2);
  out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(T)));
  if (!out) throw file_error(path + ": write failed");
}

/// Writes an xtensor expression (evaluated in C order) as a .npy file.
template <class E>
void save_npy(const std::string& path, const xt::xexpression<E>& e) {
  using T = typename E::value_type;
  xt::xarray<T> a = e.derived_cast();
  std::vector<std::size_t> shape(a.shape().begin(), a.shape().end());
  save_npy<T>(path, a.data(), shape);
}

}  // namespace fusenet::io
