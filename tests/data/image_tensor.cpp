// SPDX-License-Identifier: MIT
// to_tensor: channel conversion, centre crop and bilinear resize against values worked out by hand.
#include <doctest/doctest.h>

#include <fusenet/data/image_tensor.hpp>
#include <vector>

namespace data = fusenet::data;

namespace {

data::decoded_image make(std::size_t w, std::size_t h, std::size_t c, std::vector<std::uint8_t> pixels) {
  return {{w, h, c}, std::move(pixels)};
}

std::vector<float> run(const data::decoded_image& image, data::image_format f) {
  std::vector<float> out(f.size(), -1.0f);
  data::to_tensor(image, f, out);
  return out;
}

}  // namespace

TEST_CASE("same size: bytes / 255 in C×H×W order (interleaved RGB becomes planes)") {
  // 2×1 RGB: pixel 0 = (0, 51, 255), pixel 1 = (102, 153, 204).
  const auto out = run(make(2, 1, 3, {0, 51, 255, 102, 153, 204}), {3, 1, 2});
  CHECK(out == std::vector<float>{0.0f / 255, 102.0f / 255, 51.0f / 255, 153.0f / 255, 255.0f / 255, 204.0f / 255});
}

TEST_CASE("grey to RGB repeats the value; RGB to grey uses Pillow's integer luma") {
  CHECK(run(make(1, 1, 1, {200}), {3, 1, 1}) == std::vector<float>{200.0f / 255, 200.0f / 255, 200.0f / 255});
  // (R, G, B) = (255, 0, 0): (255·19595 + 32768) >> 16 = 76; (10, 200, 30): (195950 + 7694000 + 224130 + 32768)
  // >> 16 = 8146848 >> 16 = 124; (255, 255, 255): 255.
  const auto grey = run(make(3, 1, 3, {255, 0, 0, 10, 200, 30, 255, 255, 255}), {1, 1, 3});
  CHECK(grey == std::vector<float>{76.0f / 255, 124.0f / 255, 255.0f / 255});
}

TEST_CASE("centre crop: torchvision's offsets (round half to even) and zero padding when smaller") {
  // A 1-row grey image with value = column index; crop width 3 from widths 4, 5, 6, 8 takes offsets
  // round(0.5) = 0, 1, round(1.5) = 2, round(2.5) = 2.
  for (const auto& c : std::vector<std::pair<std::size_t, std::size_t>>{{4, 0}, {5, 1}, {6, 2}, {8, 2}}) {
    const auto& [width, offset] = c;
    CAPTURE(c.first);  // not width: clang 14 cannot capture a structured binding (CAPTURE is a lambda)
    std::vector<std::uint8_t> row(width);
    for (std::size_t x = 0; x < width; ++x) row[x] = static_cast<std::uint8_t>(x);
    const auto out = run(make(width, 1, 1, row), {1, 1, 3, data::fit::center_crop});
    for (std::size_t x = 0; x < 3; ++x) CHECK(out[x] == static_cast<float>(offset + x) / 255.0f);
  }
  // Width 2 into 5: torchvision pads (5 - 2) // 2 = 1 on the left, 2 on the right.
  const auto padded = run(make(2, 1, 1, {10, 20}), {1, 1, 5, data::fit::center_crop});
  CHECK(padded == std::vector<float>{0.0f, 10.0f / 255, 20.0f / 255, 0.0f, 0.0f});
}

TEST_CASE("bilinear resize matches PyTorch's align_corners=False sampling") {
  // 2 → 4 along x: source x = (d + 0.5)/2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (upper tap clamped).
  const float a = 0.0f, b = 200.0f / 255;
  const auto up = run(make(2, 1, 1, {0, 200}), {1, 1, 4});
  CHECK(up[0] == doctest::Approx(a));
  CHECK(up[1] == doctest::Approx(0.75f * a + 0.25f * b));
  CHECK(up[2] == doctest::Approx(0.25f * a + 0.75f * b));
  CHECK(up[3] == doctest::Approx(b));
  // 4 → 2 along y: source y = (d + 0.5)·2 - 0.5 = 0.5, 2.5: the means of rows (0, 1) and (2, 3).
  const auto down = run(make(1, 4, 1, {0, 100, 200, 250}), {1, 2, 1});
  CHECK(down[0] == doctest::Approx(50.0f / 255));
  CHECK(down[1] == doctest::Approx(225.0f / 255));
  // With fit::resize a same-size image is copied unchanged.
  CHECK(run(make(1, 2, 1, {3, 4}), {1, 2, 1}) == std::vector<float>{3.0f / 255, 4.0f / 255});
}

TEST_CASE("to_tensor rejects a channel count other than 1 or 3 and an output of the wrong size") {
  const auto image = make(1, 1, 1, {0});
  std::vector<float> out(2);
  CHECK_THROWS_AS(data::to_tensor(image, {2, 1, 1}, out), std::invalid_argument);
  CHECK_THROWS_AS(data::to_tensor(image, {1, 1, 1}, out), std::invalid_argument);
}
