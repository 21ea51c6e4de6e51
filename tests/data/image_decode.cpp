// SPDX-License-Identifier: MIT
// PNG and JPEG decoding of files the test encodes itself; corrupt, truncated and mislabelled files.
#include <doctest/doctest.h>

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <fusenet/data/image_decode.hpp>
#include <string>
#include <vector>

#include "image_writer.hpp"
#include "io/throws.hpp"

namespace data = fusenet::data;
using fusenet::test::encode_jpeg;
using fusenet::test::encode_png;
using fusenet::test::pattern_pixels;

namespace {

// Runs f and returns the file_error's message, or "" if nothing was thrown.
using fusenet::test::file_error_of;  // the message, or "" when nothing was thrown

int max_abs_diff(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  int worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(int{a[i]} - int{b[i]}));
  return worst;
}

}  // namespace

TEST_CASE("PNG: grey and RGB decode to the encoded bytes; the header alone gives the size and channels") {
  for (std::size_t channels : {1u, 3u}) {
    CAPTURE(channels);
    const auto pixels = pattern_pixels(7, 5, channels, 3);
    const auto file = encode_png(pixels, 7, 5, channels);
    CHECK(data::sniff_image_kind(file) == data::image_kind::png);
    const auto info = data::read_png_info(file, "x.png");
    CHECK(info.width == 7);
    CHECK(info.height == 5);
    CHECK(info.channels == channels);
    const auto image = data::decode_png(file, "x.png");
    CHECK(image.info.channels == channels);
    CHECK(image.pixels == pixels);
  }
}

TEST_CASE("PNG: alpha is composited onto black (opaque pixels kept, transparent ones black)") {
  // RGBA 2×1: one opaque pixel, one fully transparent.
  const std::vector<std::uint8_t> rgba{10, 20, 30, 255, 200, 100, 50, 0};
  const auto image = data::decode_png(encode_png(rgba, 2, 1, 4), "a.png");
  CHECK(image.info.channels == 3);
  CHECK(image.pixels == std::vector<std::uint8_t>{10, 20, 30, 0, 0, 0});
  const std::vector<std::uint8_t> ga{77, 255, 99, 0};
  const auto grey = data::decode_png(encode_png(ga, 2, 1, 2), "ga.png");
  CHECK(grey.info.channels == 1);
  CHECK(grey.pixels == std::vector<std::uint8_t>{77, 0});
}

TEST_CASE("JPEG: grey and RGB decode close to the encoded pixels (lossy), and the header gives the size") {
  for (std::size_t channels : {1u, 3u}) {
    CAPTURE(channels);
    // A smooth image: JPEG at quality 100 reproduces it within a few levels.
    std::vector<std::uint8_t> pixels(16 * 8 * channels);
    for (std::size_t y = 0; y < 8; ++y)
      for (std::size_t x = 0; x < 16; ++x)
        for (std::size_t c = 0; c < channels; ++c)
          pixels[(y * 16 + x) * channels + c] = static_cast<std::uint8_t>(40 + 8 * x + 5 * y + 30 * c);
    const auto file = encode_jpeg(pixels, 16, 8, channels, 100);
    CHECK(data::sniff_image_kind(file) == data::image_kind::jpeg);
    const auto info = data::read_jpeg_info(file, "x.jpg");
    CHECK(info.width == 16);
    CHECK(info.height == 8);
    CHECK(info.channels == channels);
    const auto image = data::decode_jpeg(file, "x.jpg");
    REQUIRE(image.pixels.size() == pixels.size());
    CHECK(max_abs_diff(image.pixels, pixels) <= 4);
  }
}

TEST_CASE("a truncated PNG is an error naming the file; its header may still read") {
  const auto file = encode_png(pattern_pixels(32, 32, 3, 1), 32, 32, 3);
  const std::vector<std::uint8_t> cut(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(file.size() / 2));
  CHECK(data::read_png_info(cut, "cut.png").width == 32);
  const auto msg = file_error_of([&] { data::decode_png(cut, "dir/cut.png"); });
  CHECK(msg.find("dir/cut.png") != std::string::npos);
  CHECK(msg.find("PNG") != std::string::npos);
  const std::vector<std::uint8_t> header_only(file.begin(), file.begin() + 12);
  CHECK(file_error_of([&] { data::decode_png(header_only, "h.png"); }).find("h.png") == 0);
}

TEST_CASE("a truncated or corrupt JPEG is an error naming the file, not grey filler") {
  const auto file = encode_jpeg(pattern_pixels(32, 32, 3, 1), 32, 32, 3);
  const std::vector<std::uint8_t> cut(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(file.size() * 2 / 3));
  const auto msg = file_error_of([&] { data::decode_jpeg(cut, "cut.jpg"); });
  CHECK(msg.find("cut.jpg") == 0);
  CHECK(msg.find("JPEG") != std::string::npos);
  const std::vector<std::uint8_t> soi_only{0xff, 0xd8, 0xff};
  CHECK(file_error_of([&] { data::read_jpeg_info(soi_only, "soi.jpg"); }).find("soi.jpg") == 0);
  CHECK(file_error_of([&] { data::read_jpeg_info({}, "empty.jpg"); }).find("empty.jpg") == 0);
}

TEST_CASE("files: a text file named .jpg, an empty file, a missing file and a folder are errors naming them") {
  fusenet::test::scratch_dir dir;
  const auto text = dir / "notes.jpg";
  fusenet::test::write_text(text, "hello, this is not an image\n");
  const auto msg = file_error_of([&] { data::read_image(text.string()); });
  CHECK(msg.find(text.string()) == 0);
  CHECK(msg.find("neither a PNG nor a JPEG") != std::string::npos);
  CHECK(msg.find("'hello, t'") != std::string::npos);
  CHECK(file_error_of([&] { data::read_image_info(text.string()); }) == msg);
  const auto empty = dir / "empty.png";
  fusenet::test::write_file(empty, {});
  CHECK(file_error_of([&] { data::read_image(empty.string()); }).find("empty") != std::string::npos);
  CHECK(file_error_of([&] { data::read_image((dir / "missing.png").string()); }).find("does not exist") !=
        std::string::npos);
  CHECK(file_error_of([&] { data::read_image(dir.path().string()); }).find("is a directory") != std::string::npos);
}

TEST_CASE("the decoder is chosen by content: a PNG named .jpg decodes as PNG") {
  fusenet::test::scratch_dir dir;
  const auto pixels = pattern_pixels(4, 3, 3, 9);
  fusenet::test::write_file(dir / "really_png.jpg", encode_png(pixels, 4, 3, 3));
  CHECK(data::read_image((dir / "really_png.jpg").string()).pixels == pixels);
}

TEST_CASE("an image larger than max_image_pixels is rejected from its header, before allocating") {
  // A real 1×1 PNG whose IHDR then claims 2^16 × 2^16 pixels, with the chunk's CRC recomputed (zlib's crc32 is
  // PNG's), so libpng accepts the header and the size check is what rejects it.
  auto file = encode_png({0}, 1, 1, 1);
  // IHDR: length at 8, type at 12, width at 16, height at 20 (big-endian), CRC of bytes 12..28 at 29.
  const std::uint8_t big[8] = {0, 1, 0, 0, 0, 1, 0, 0};
  std::copy(big, big + 8, file.begin() + 16);
  const auto crc = static_cast<std::uint32_t>(crc32(0, file.data() + 12, 17));
  for (int k = 0; k < 4; ++k) file[29 + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(crc >> (24 - 8 * k));
  CHECK(data::read_png_info(encode_png({0}, 1, 1, 1), "ok.png").width == 1);
  const auto msg = file_error_of([&] { data::decode_png(file, "big.png"); });
  CHECK(msg.find("big.png") == 0);
  CHECK(msg.find("65536 x 65536") != std::string::npos);
}

TEST_CASE("PNG: a palette image decodes to its palette's RGB colours") {
  // Three colours, a 3×2 image of indices; libpng's encoder writes PLTE and 8-bit indices.
  const std::uint8_t palette[9] = {255, 0, 0, 0, 128, 0, 10, 20, 30};
  const std::vector<std::uint8_t> indices{0, 1, 2, 2, 1, 0};
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = 3;
  image.height = 2;
  image.format = PNG_FORMAT_RGB_COLORMAP;
  image.colormap_entries = 3;
  png_alloc_size_t size = 0;
  REQUIRE(png_image_write_to_memory(&image, nullptr, &size, 0, indices.data(), 0, palette) != 0);
  std::vector<std::uint8_t> file(size);
  REQUIRE(png_image_write_to_memory(&image, file.data(), &size, 0, indices.data(), 0, palette) != 0);
  file.resize(size);
  REQUIRE(file[25] == 3);  // IHDR colour type 3: the file really is a palette PNG
  const auto decoded = data::decode_png(file, "palette.png");
  REQUIRE(decoded.info.channels == 3);
  std::vector<std::uint8_t> expected;
  for (auto i : indices) expected.insert(expected.end(), palette + 3 * i, palette + 3 * i + 3);
  CHECK(decoded.pixels == expected);
}
