// SPDX-License-Identifier: MIT
// PNG decoding through libpng's simplified API (png_image), which reports errors in a message, not by longjmp.
#include <png.h>

#include <fusenet/data/image_decode.hpp>
#include <string>

namespace fusenet::data {
namespace {

// Frees libpng's read state on every path out, including exceptions.
struct png_reader {
  png_image image{};
  png_reader() { image.version = PNG_IMAGE_VERSION; }
  png_reader(const png_reader&) = delete;
  png_reader& operator=(const png_reader&) = delete;
  ~png_reader() { png_image_free(&image); }
};

std::string png_reason(const png_image& image) {
  return image.message[0] != '\0' ? std::string(image.message) : std::string("unknown libpng error");
}

image_info begin(png_reader& r, std::span<const std::uint8_t> bytes, const std::string& name) {
  if (png_image_begin_read_from_memory(&r.image, bytes.data(), bytes.size()) == 0)
    throw file_error(name + ": not a readable PNG: " + png_reason(r.image));
  const std::size_t w = r.image.width, h = r.image.height;
  if (w == 0 || h == 0 || w * h > max_image_pixels)
    throw file_error(name + ": PNG of " + std::to_string(w) + " x " + std::to_string(h) +
                     " pixels; at most " + std::to_string(max_image_pixels) + " pixels are accepted");
  // A palette is expanded to its colours, so it counts as RGB unless the PNG says it is grey.
  const bool colour = (r.image.format & PNG_FORMAT_FLAG_COLOR) != 0;
  return {w, h, colour ? std::size_t{3} : std::size_t{1}};
}

}  // namespace

image_info read_png_info(std::span<const std::uint8_t> bytes, const std::string& name) {
  png_reader r;
  return begin(r, bytes, name);
}

decoded_image decode_png(std::span<const std::uint8_t> bytes, const std::string& name) {
  png_reader r;
  decoded_image out{begin(r, bytes, name), {}};
  // Without an alpha flag in the format, libpng composites any alpha onto the buffer, which starts black.
  r.image.format = out.info.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  out.pixels.assign(PNG_IMAGE_SIZE(r.image), 0);
  if (png_image_finish_read(&r.image, nullptr, out.pixels.data(), 0, nullptr) == 0)
    throw file_error(name + ": corrupt or truncated PNG: " + png_reason(r.image));
  return out;
}

}  // namespace fusenet::data
