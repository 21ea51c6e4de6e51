// SPDX-License-Identifier: MIT
// Reading an image file and choosing its decoder by content.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <fusenet/data/image_decode.hpp>
#include <string>

namespace fusenet::data {
namespace {

// The first bytes of a file that is neither PNG nor JPEG, printable ones as text, so "hello" shows as 'hello'.
std::string quote_start(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return "the file is empty";
  std::string text;
  for (std::size_t i = 0; i < std::min<std::size_t>(bytes.size(), 8); ++i) {
    const auto b = bytes[i];
    if (b >= 0x20 && b < 0x7f) {
      text += static_cast<char>(b);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", b);
      text += hex;
    }
  }
  return "it starts with '" + text + "'";
}

[[noreturn]] void not_an_image(std::span<const std::uint8_t> bytes, const std::string& name) {
  throw file_error(name + ": neither a PNG nor a JPEG file (" + quote_start(bytes) + ")");
}

}  // namespace

image_kind sniff_image_kind(std::span<const std::uint8_t> bytes) {
  static constexpr std::uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 8 && std::equal(png_signature, png_signature + 8, bytes.begin())) return image_kind::png;
  if (bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff) return image_kind::jpeg;
  return image_kind::unknown;
}

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw file_error(path + ": file does not exist");
  if (std::filesystem::is_directory(path, ec)) throw file_error(path + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path + ": cannot open: " + std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0)
    bytes.insert(bytes.end(), chunk, chunk + in.gcount());
  if (in.bad()) throw file_error(path + ": read error: " + std::strerror(errno));
  return bytes;
}

image_info read_image_info(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  switch (sniff_image_kind(bytes)) {
    case image_kind::png: return read_png_info(bytes, path);
    case image_kind::jpeg: return read_jpeg_info(bytes, path);
    case image_kind::unknown: break;
  }
  not_an_image(bytes, path);
}

decoded_image decode_image(std::span<const std::uint8_t> bytes, const std::string& name) {
  switch (sniff_image_kind(bytes)) {
    case image_kind::png: return decode_png(bytes, name);
    case image_kind::jpeg: return decode_jpeg(bytes, name);
    case image_kind::unknown: break;
  }
  not_an_image(bytes, name);
}

decoded_image read_image(const std::string& path) { return decode_image(read_file_bytes(path), path); }

}  // namespace fusenet::data
