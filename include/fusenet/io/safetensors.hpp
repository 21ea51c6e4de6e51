// SPDX-License-Identifier: MIT
// safetensors files (the format torch state dicts are shared in): validated reading, atomic writing, F32/I64 helpers.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fusenet/io/error.hpp"

namespace fusenet::io {

// The format stores little-endian values and we copy bytes straight into native floats.
static_assert(std::endian::native == std::endian::little, "fusenet: safetensors I/O assumes a little-endian host");

/// One tensor of a safetensors file: dtype name as in the format ("F32", "I64", ...), shape, raw little-endian bytes.
struct tensor_entry {
  std::string dtype;
  std::vector<std::size_t> shape;
  std::vector<char> bytes;

  /// Number of elements: the product of the shape (1 for a scalar, shape []).
  [[nodiscard]] std::size_t count() const {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

/// The whole content of a safetensors file: tensors by name, and the optional "__metadata__" string map.
struct safetensors_file {
  std::map<std::string, tensor_entry> tensors;
  std::map<std::string, std::string> metadata;
};

/// Bytes per element of a safetensors dtype name (BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32,
/// F32, I64, U64, F64); 0 for a name the format does not define.
constexpr std::size_t safetensors_item_size(std::string_view dtype) {
  if (dtype == "BOOL" || dtype == "U8" || dtype == "I8" || dtype == "F8_E5M2" || dtype == "F8_E4M3") return 1;
  if (dtype == "I16" || dtype == "U16" || dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "I32" || dtype == "U32" || dtype == "F32") return 4;
  if (dtype == "I64" || dtype == "U64" || dtype == "F64") return 8;
  return 0;
}

/// Reads and fully validates a safetensors file.
/// Ensures: every tensor has a known dtype and exactly product(shape) * itemsize bytes, its data_offsets lie inside
/// the data buffer and overlap no other tensor, and the tensors cover the buffer exactly (no gap, no trailing bytes:
/// the reference implementation refuses those files too). Otherwise throws file_error naming the file, the key and
/// the values.
safetensors_file read_safetensors(const std::string& path);

/// Parses and validates a whole safetensors file already in memory, exactly as read_safetensors does; `name` stands
/// for the file in error messages. read_safetensors reads the file and calls this; fuzzers call it directly.
safetensors_file read_safetensors_bytes(std::span<const char> bytes, const std::string& name);

/// Writes a safetensors file: keys sorted, header padded with spaces to a multiple of 8 bytes as the reference
/// implementation does. The bytes go to `path + ".tmp"`, are flushed to disk, then renamed over `path`, so an
/// interrupted save never leaves a truncated file under the final name. Throws file_error (nothing written) if
/// an entry's byte count does not match its dtype and shape.
void write_safetensors(const std::string& path, const safetensors_file& file);

/// Makes an F32 entry with the given shape from `product(shape)` floats.
inline tensor_entry make_f32(std::vector<std::size_t> shape, const float* data) {
  tensor_entry e{"F32", std::move(shape), {}};
  e.bytes.resize(e.count() * sizeof(float));
  if (!e.bytes.empty()) std::memcpy(e.bytes.data(), data, e.bytes.size());
  return e;
}

/// Makes an I64 scalar entry (shape []), the form of BatchNorm's num_batches_tracked in a torch state dict.
inline tensor_entry make_i64_scalar(std::int64_t value) {
  tensor_entry e{"I64", {}, std::vector<char>(sizeof(std::int64_t))};
  std::memcpy(e.bytes.data(), &value, sizeof value);
  return e;
}

namespace detail {
inline std::string shape_text(std::span<const std::size_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}
}  // namespace detail

/// Copies an F32 entry into `out` (product(expected_shape) floats) after checking dtype and shape.
/// Throws weights_mismatch naming `key_for_errors` (the caller may prefix it with the file name), the expected and
/// the found dtype/shape.
inline void copy_f32(const tensor_entry& entry, std::span<const std::size_t> expected_shape, float* out,
                     const std::string& key_for_errors) {
  if (entry.dtype != "F32")
    throw weights_mismatch("tensor '" + key_for_errors + "': dtype is " + entry.dtype + ", expected F32");
  if (!std::equal(entry.shape.begin(), entry.shape.end(), expected_shape.begin(), expected_shape.end()))
    throw weights_mismatch("tensor '" + key_for_errors + "': shape is " + detail::shape_text(entry.shape) +
                           ", expected " + detail::shape_text(expected_shape));
  if (entry.bytes.size() != entry.count() * sizeof(float))
    throw weights_mismatch("tensor '" + key_for_errors + "': holds " + std::to_string(entry.bytes.size()) +
                           " bytes, expected " + std::to_string(entry.count() * sizeof(float)));
  if (!entry.bytes.empty()) std::memcpy(out, entry.bytes.data(), entry.bytes.size());
}

/// Reads an I64 scalar entry (shape [] or [1]). Throws weights_mismatch naming `key_for_errors` otherwise.
inline std::int64_t read_i64_scalar(const tensor_entry& entry, const std::string& key_for_errors) {
  if (entry.dtype != "I64")
    throw weights_mismatch("tensor '" + key_for_errors + "': dtype is " + entry.dtype + ", expected I64");
  if (entry.count() != 1 || entry.shape.size() > 1 || entry.bytes.size() != sizeof(std::int64_t))
    throw weights_mismatch("tensor '" + key_for_errors + "': shape is " + detail::shape_text(entry.shape) +
                           ", expected a scalar []");
  std::int64_t v = 0;
  std::memcpy(&v, entry.bytes.data(), sizeof v);
  return v;
}

/// Checks that `file` (read from `path`) holds exactly the tensors named in `expected`.
/// Throws weights_mismatch naming the file, every missing key and every unexpected key, so loading the state dict
/// of a different network reports all differences at once.
inline void check_keys(const safetensors_file& file, std::span<const std::string> expected, const std::string& path) {
  const std::set<std::string> wanted(expected.begin(), expected.end());
  std::string missing, unexpected;
  for (const auto& k : wanted)
    if (!file.tensors.contains(k)) missing += (missing.empty() ? "'" : ", '") + k + "'";
  for (const auto& [k, t] : file.tensors)
    if (!wanted.contains(k)) unexpected += (unexpected.empty() ? "'" : ", '") + k + "'";
  if (missing.empty() && unexpected.empty()) return;
  std::string msg = path + ": tensors do not match the network:";
  if (!missing.empty()) msg += " missing " + missing + ";";
  if (!unexpected.empty()) msg += " unexpected " + unexpected + ";";
  msg.pop_back();
  throw weights_mismatch(msg);
}

}  // namespace fusenet::io
