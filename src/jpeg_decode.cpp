// SPDX-License-Identifier: MIT
// JPEG decoding through libjpeg(-turbo). libjpeg reports errors by calling error_exit, which must not return;
// it longjmps back here. Each setjmp sits in a function whose frame holds no C++ object with a destructor, so
// the jump never skips one (C++ [csetjmp.syn]); buffers are owned by the caller.
// jpeglib.h uses size_t and FILE without including their headers.
#include <cstddef>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
// clang-format on

#include <csetjmp>
#include <fusenet/data/image_decode.hpp>
#include <string>

namespace fusenet::data {
namespace {

struct jpeg_errors {
  jpeg_error_mgr mgr;  // first member: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<jpeg_errors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Level -1 is a warning about corrupt data (libjpeg then carries on with made-up pixels): treat it as an
// error. Levels >= 0 are trace messages, ignored.
void on_message(j_common_ptr cinfo, int level) {
  if (level < 0) on_error(cinfo);
}

// The decoder's state, a plain C struct the caller keeps across the stages below.
struct jpeg_state {
  jpeg_decompress_struct cinfo;
  jpeg_errors errors;
  bool created = false;
};

bool read_header(jpeg_state* s, const std::uint8_t* data, std::size_t size) {
  if (setjmp(s->errors.jump) != 0) return false;
  s->cinfo.err = jpeg_std_error(&s->errors.mgr);
  s->errors.mgr.error_exit = on_error;
  s->errors.mgr.emit_message = on_message;
  jpeg_create_decompress(&s->cinfo);
  s->created = true;
  // Bounds what a hostile file can make libjpeg allocate (progressive coefficient buffers, for instance).
  s->cinfo.mem->max_memory_to_use = 512L << 20;
  jpeg_mem_src(&s->cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&s->cinfo, TRUE);
  s->cinfo.out_color_space = s->cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  return true;
}

bool read_pixels(jpeg_state* s, std::uint8_t* out, std::size_t row_bytes) {
  if (setjmp(s->errors.jump) != 0) return false;
  jpeg_start_decompress(&s->cinfo);
  while (s->cinfo.output_scanline < s->cinfo.output_height) {
    JSAMPROW row = out + static_cast<std::size_t>(s->cinfo.output_scanline) * row_bytes;
    jpeg_read_scanlines(&s->cinfo, &row, 1);
  }
  jpeg_finish_decompress(&s->cinfo);
  return true;
}

// Owns a jpeg_state and destroys libjpeg's state on every path out.
struct jpeg_reader {
  jpeg_state s{};
  jpeg_reader() = default;
  jpeg_reader(const jpeg_reader&) = delete;
  jpeg_reader& operator=(const jpeg_reader&) = delete;
  ~jpeg_reader() {
    if (s.created) jpeg_destroy_decompress(&s.cinfo);
  }
};

image_info begin(jpeg_reader& r, std::span<const std::uint8_t> bytes, const std::string& name) {
  if (bytes.empty()) throw file_error(name + ": not a readable JPEG: the file is empty");
  if (!read_header(&r.s, bytes.data(), bytes.size()))
    throw file_error(name + ": not a readable JPEG: " + std::string(r.s.errors.message));
  const std::size_t w = r.s.cinfo.image_width, h = r.s.cinfo.image_height;
  if (w == 0 || h == 0 || w * h > max_image_pixels)
    throw file_error(name + ": JPEG of " + std::to_string(w) + " x " + std::to_string(h) +
                     " pixels; at most " + std::to_string(max_image_pixels) + " pixels are accepted");
  return {w, h, r.s.cinfo.out_color_space == JCS_GRAYSCALE ? std::size_t{1} : std::size_t{3}};
}

}  // namespace

image_info read_jpeg_info(std::span<const std::uint8_t> bytes, const std::string& name) {
  jpeg_reader r;
  return begin(r, bytes, name);
}

decoded_image decode_jpeg(std::span<const std::uint8_t> bytes, const std::string& name) {
  jpeg_reader r;
  decoded_image out{begin(r, bytes, name), {}};
  const std::size_t row_bytes = out.info.width * out.info.channels;
  out.pixels.assign(row_bytes * out.info.height, 0);
  if (!read_pixels(&r.s, out.pixels.data(), row_bytes))
    throw file_error(name + ": corrupt or truncated JPEG: " + std::string(r.s.errors.message));
  return out;
}

}  // namespace fusenet::data
