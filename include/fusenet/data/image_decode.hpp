// SPDX-License-Identifier: MIT
// PNG and JPEG decoding (libpng, libjpeg-turbo) into 8-bit grey or RGB pixels, and reading an image file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fusenet/io/error.hpp"

namespace fusenet::data {

/// The size and colour channels of an image: 1 (grey) or 3 (RGB). An alpha channel is not counted (decoding
/// composites it onto black), and a palette image counts as RGB.
struct image_info {
  std::size_t width = 0, height = 0, channels = 0;
};

/// A decoded image: `pixels` holds height × width × channels bytes, row by row, channels interleaved.
struct decoded_image {
  image_info info;
  std::vector<std::uint8_t> pixels;
};

/// The largest image the decoders accept, in pixels (width × height); larger ones are rejected before any
/// pixel buffer is allocated, so a lying header cannot exhaust memory.
inline constexpr std::size_t max_image_pixels = std::size_t{1} << 26;

/// Which decoder an image's first bytes call for (PNG's 8-byte signature, JPEG's FF D8 FF), or `unknown`.
enum class image_kind { png, jpeg, unknown };

/// The kind of image `bytes` starts with.
image_kind sniff_image_kind(std::span<const std::uint8_t> bytes);

/// Reads a PNG's header only. `name` is the file named in errors.
/// Throws file_error naming `name` and libpng's reason for anything libpng rejects, or an image above
/// max_image_pixels.
image_info read_png_info(std::span<const std::uint8_t> bytes, const std::string& name);

/// Decodes a whole PNG (any bit depth, palette or alpha; 16-bit samples are reduced to 8).
/// Throws file_error as read_png_info does, and for truncated or corrupt image data.
decoded_image decode_png(std::span<const std::uint8_t> bytes, const std::string& name);

/// Reads a JPEG's header only. Throws file_error naming `name` and libjpeg's message.
image_info read_jpeg_info(std::span<const std::uint8_t> bytes, const std::string& name);

/// Decodes a whole baseline or progressive JPEG, grey or colour (converted to RGB). libjpeg's warnings (a
/// premature end of data, corrupt entropy data) are errors here: libjpeg would otherwise fill the rest with grey.
/// Throws file_error naming `name` and libjpeg's message.
decoded_image decode_jpeg(std::span<const std::uint8_t> bytes, const std::string& name);

/// The bytes of a file. Throws file_error naming the file if it is missing, a directory or unreadable.
std::vector<std::uint8_t> read_file_bytes(const std::string& path);

/// Reads the header of the PNG or JPEG file at `path`, chosen by its content (not its extension).
/// Throws file_error naming the file if it is neither (quoting its first bytes), or what the decoder reports.
image_info read_image_info(const std::string& path);

/// Decodes the PNG or JPEG file at `path`, chosen by its content. Throws file_error as read_image_info does.
decoded_image read_image(const std::string& path);

/// Decodes PNG or JPEG bytes, chosen by their content; `name` is the file named in errors.
decoded_image decode_image(std::span<const std::uint8_t> bytes, const std::string& name);

}  // namespace fusenet::data
