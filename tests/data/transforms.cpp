// SPDX-License-Identifier: MIT
// Transforms against hand-computed results: crop with padding, flip, normalise, channel statistics, and the
// sample generator (SplitMix64's published first output, determinism, ranges).
#include <doctest/doctest.h>

#include <fusenet/data/transforms.hpp>
#include <set>
#include <vector>

namespace data = fusenet::data;

namespace {

std::vector<float> iota_image(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i + 1);
  return v;
}

}  // namespace

TEST_CASE("sample_rng is SplitMix64: state 0 first gives 0xe220a8397b1dcdaf; streams depend on seed, epoch, index") {
  data::sample_rng r(0);
  CHECK(r.next() == 0xe220a8397b1dcdafull);
  auto a = data::sample_rng::for_sample(1, 2, 3), b = data::sample_rng::for_sample(1, 2, 3);
  CHECK(a.next() == b.next());
  const auto first = [](std::uint64_t s, std::uint64_t e, std::uint64_t i) {
    return data::sample_rng::for_sample(s, e, i).next();
  };
  CHECK(first(1, 2, 3) != first(1, 2, 4));
  CHECK(first(1, 2, 3) != first(1, 3, 3));
  CHECK(first(1, 2, 3) != first(2, 2, 3));
  data::sample_rng c(5);
  std::set<std::uint64_t> seen;
  for (int k = 0; k < 2000; ++k) {
    const auto v = c.below(9);
    CHECK(v < 9);
    seen.insert(v);
    const float u = c.uniform();
    CHECK((u >= 0.0f && u < 1.0f));
  }
  CHECK(seen.size() == 9);
}

TEST_CASE("pad_and_crop: the window of the zero-padded image, worked out by hand") {
  // One channel 3×3:  1 2 3 / 4 5 6 / 7 8 9, padding 1 (padded 5×5). Offset (0, 0) is the top-left window:
  // 0 0 0 / 0 1 2 / 0 4 5. Offset (2, 1): rows 2..4, cols 1..3 of the padded image: 4 5 6 / 7 8 9 / 0 0 0.
  std::vector<float> scratch;
  auto img = iota_image(9);
  data::pad_and_crop(img, {1, 3, 3}, 1, 0, 0, scratch);
  CHECK(img == std::vector<float>{0, 0, 0, 0, 1, 2, 0, 4, 5});
  img = iota_image(9);
  data::pad_and_crop(img, {1, 3, 3}, 1, 2, 1, scratch);
  CHECK(img == std::vector<float>{4, 5, 6, 7, 8, 9, 0, 0, 0});
  img = iota_image(9);
  data::pad_and_crop(img, {1, 3, 3}, 1, 1, 1, scratch);
  CHECK(img == iota_image(9));  // the centre window is the image
  // Two channels move together: channel 1 of a 2×1×2 image (values 3, 4) at offset (1, 2), padding 1.
  auto two = iota_image(4);
  data::pad_and_crop(two, {2, 1, 2}, 1, 1, 2, scratch);
  CHECK(two == std::vector<float>{2, 0, 4, 0});
  CHECK_THROWS_AS(data::pad_and_crop(two, {2, 1, 2}, 1, 3, 0, scratch), std::invalid_argument);
}

TEST_CASE("random_crop draws top then left in [0, 2·padding] and crops there") {
  std::set<std::pair<std::size_t, std::size_t>> offsets;
  std::vector<float> scratch, expected;
  for (std::uint64_t s = 0; s < 300; ++s) {
    data::sample_rng rng(s), copy(s);
    const auto top = copy.below(5), left = copy.below(5);
    offsets.insert({top, left});
    auto img = iota_image(3 * 4 * 4);
    expected = img;
    data::pad_and_crop(expected, {3, 4, 4}, 2, top, left, scratch);
    data::random_crop(img, {3, 4, 4}, 2, rng, scratch);
    CHECK(img == expected);
    CHECK(rng.next() == copy.next());  // exactly two draws
  }
  CHECK(offsets.size() == 25);
}

TEST_CASE("horizontal flip mirrors rows; random flip uses one draw and flips when it is below 1/2") {
  auto img = iota_image(2 * 2 * 3);
  data::horizontal_flip(img, {2, 2, 3});
  CHECK(img == std::vector<float>{3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10});
  int flips = 0;
  for (std::uint64_t s = 0; s < 1000; ++s) {
    data::sample_rng rng(s), copy(s);
    auto x = iota_image(3);
    data::random_horizontal_flip(x, {1, 1, 3}, rng);
    const bool flipped = x[0] == 3.0f;
    CHECK(flipped == (copy.uniform() < 0.5f));
    flips += flipped;
  }
  CHECK(flips > 430);  // 1000 fair coins: 500 ± 15.8; 430 is 4.4 sigma
  CHECK(flips < 570);
}

TEST_CASE("normalize: (x - mean[c]) / std[c] per channel; bad stats rejected") {
  std::vector<float> img{1, 3, 10, 20};  // channel 0 = {1, 3}, channel 1 = {10, 20}
  data::normalize(img, {2, 1, 2}, {{2.0f, 10.0f}, {0.5f, 4.0f}});
  CHECK(img[0] == doctest::Approx(-2.0f));
  CHECK(img[1] == doctest::Approx(2.0f));
  CHECK(img[2] == doctest::Approx(0.0f));
  CHECK(img[3] == doctest::Approx(2.5f));
  CHECK_THROWS_AS(data::normalize(img, {2, 1, 2}, {{0.0f}, {1.0f}}), std::invalid_argument);
  CHECK_THROWS_AS(data::normalize(img, {2, 1, 2}, {{0.0f, 0.0f}, {1.0f, 0.0f}}), std::invalid_argument);
}

TEST_CASE("compute_channel_stats: mean and population std per channel over all samples") {
  // Two samples, 2 channels of 2 pixels. Channel 0 values {0, 2, 4, 6}: mean 3, var (9+1+1+9)/4 = 5.
  // Channel 1 values {1, 1, 1, 1}: mean 1, std 0.
  fusenet::data::dataset d{xt::xtensor<float, 4>::from_shape({2, 2, 1, 2}), xt::xtensor<std::uint8_t, 1>::from_shape({2})};
  const std::vector<float> values{0, 2, 1, 1, 4, 6, 1, 1};
  std::copy(values.begin(), values.end(), d.images.begin());
  const auto stats = data::compute_channel_stats(data::dataset_source(d));
  CHECK(stats.mean[0] == doctest::Approx(3.0f));
  CHECK(stats.std[0] == doctest::Approx(std::sqrt(5.0f)));
  CHECK(stats.mean[1] == doctest::Approx(1.0f));
  CHECK(stats.std[1] == doctest::Approx(0.0f));
}

TEST_CASE("augmentation applies crop, then flip, then normalise, with draws in that order") {
  data::augmentation aug{.crop_padding = 1, .horizontal_flip = true, .normalize_with = {{0.5f}, {2.0f}}};
  std::vector<float> scratch;
  for (std::uint64_t s = 0; s < 50; ++s) {
    auto img = iota_image(9), expected = iota_image(9);
    data::sample_rng rng(s), copy(s);
    aug.apply(img, {1, 3, 3}, rng, scratch);
    data::random_crop(expected, {1, 3, 3}, 1, copy, scratch);
    data::random_horizontal_flip(expected, {1, 3, 3}, copy);
    for (float& v : expected) v = (v - 0.5f) / 2.0f;
    for (std::size_t i = 0; i < 9; ++i) CHECK(img[i] == doctest::Approx(expected[i]));
  }
}
