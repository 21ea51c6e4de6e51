// SPDX-License-Identifier: MIT
// Shuffling (determinism, permutation, uniformity), batch counts under each last-batch policy, gathering.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <fusenet/data/batches.hpp>
#include <map>
#include <numeric>
#include <random>
#include <vector>

namespace data = fusenet::data;

namespace {

bool is_permutation_of_iota(std::span<const std::size_t> order) {
  std::vector<std::size_t> sorted(order.begin(), order.end());
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i)
    if (sorted[i] != i) return false;
  return true;
}

}  // namespace

TEST_CASE("the engine is the standard's mt19937_64") {
  // [rand.predef]: the 10000th consecutive invocation of a default-constructed mt19937_64 produces this value.
  std::mt19937_64 rng;
  rng.discard(9999);
  CHECK(rng() == 9981545732273789042ull);
}

TEST_CASE("uniform_below stays in range, including bounds 1 and just above 2^63") {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100; ++i) CHECK(data::uniform_below(rng, 1) == 0);
  const std::uint64_t big = (std::uint64_t{1} << 63) + 1;
  for (int i = 0; i < 1000; ++i) CHECK(data::uniform_below(rng, big) < big);
  for (int i = 0; i < 1000; ++i) CHECK(data::uniform_below(rng, 7) < 7);
}

TEST_CASE("epoch permutations: a permutation, same (seed, epoch) same order, other seed or epoch another") {
  const std::size_t n = 1000;
  const auto a = data::epoch_permutation(n, 42, 0);
  CHECK(is_permutation_of_iota(a));
  CHECK(a == data::epoch_permutation(n, 42, 0));
  CHECK(a != data::epoch_permutation(n, 43, 0));
  CHECK(a != data::epoch_permutation(n, 42, 1));
  CHECK(data::epoch_permutation(n, 42, 1) != data::epoch_permutation(n, 42, 2));
  CHECK(data::epoch_permutation(n, 1ull << 32, 0) != data::epoch_permutation(n, 0, 0));  // high seed bits count
  std::vector<std::size_t> iota(n);
  std::iota(iota.begin(), iota.end(), std::size_t{0});
  CHECK(a != iota);
  CHECK(data::epoch_permutation(0, 1, 0).empty());
  CHECK(data::epoch_permutation(1, 1, 0) == std::vector<std::size_t>{0});
}

TEST_CASE("the shuffle is uniform: all 24 orders of 4 items equally often (chi-square)") {
  std::map<std::vector<std::size_t>, int> counts;
  const int trials = 48000;
  for (int s = 0; s < trials; ++s) ++counts[data::epoch_permutation(4, static_cast<std::uint64_t>(s), 7)];
  REQUIRE(counts.size() == 24);
  const double expected = trials / 24.0;
  double chi2 = 0;
  for (const auto& [order, c] : counts) chi2 += (c - expected) * (c - expected) / expected;
  CHECK(chi2 < 49.7);  // 23 degrees of freedom: P(chi2 > 49.7) < 0.001 for a uniform shuffle
}

TEST_CASE("last-batch policy decides the batch count; each kept index appears exactly once per epoch") {
  struct row {
    std::size_t n, batch;
    data::last_batch policy;
    std::size_t batches, last_size;
  };
  using lb = data::last_batch;
  for (const auto& r : std::vector<row>{{10, 4, lb::keep, 3, 2},
                                        {10, 4, lb::drop_last, 2, 4},
                                        {10, 4, lb::drop_if_smaller_than_2, 3, 2},
                                        {9, 4, lb::keep, 3, 1},
                                        {9, 4, lb::drop_last, 2, 4},
                                        {9, 4, lb::drop_if_smaller_than_2, 2, 4},
                                        {8, 4, lb::drop_if_smaller_than_2, 2, 4},
                                        {1, 4, lb::drop_if_smaller_than_2, 0, 0},
                                        {1, 4, lb::keep, 1, 1},
                                        {0, 4, lb::keep, 0, 0}}) {
    CAPTURE(r.n);
    CAPTURE(r.batch);
    CAPTURE(static_cast<int>(r.policy));
    data::batch_sampler s{r.n, {.batch_size = r.batch, .seed = 5, .last = r.policy}};
    for (std::uint64_t epoch = 0; epoch < 3; ++epoch) {
      s.start_epoch(epoch);
      REQUIRE(s.num_batches() == r.batches);
      if (r.batches > 0) CHECK(s.batch(r.batches - 1).size() == r.last_size);
      std::vector<std::size_t> seen;
      for (std::size_t b = 0; b < s.num_batches(); ++b) {
        const auto idx = s.batch(b);
        seen.insert(seen.end(), idx.begin(), idx.end());
      }
      CHECK(std::equal(seen.begin(), seen.end(), s.order().begin()));  // batches are consecutive slices
      if (seen.size() == r.n) CHECK(is_permutation_of_iota(seen));
      std::sort(seen.begin(), seen.end());
      CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());  // no index twice
      CHECK(is_permutation_of_iota(s.order()));
    }
    CHECK_THROWS_AS(static_cast<void>(s.batch(r.batches)), std::out_of_range);
  }
  CHECK_THROWS_AS((data::batch_sampler{10, {.batch_size = 0}}), std::invalid_argument);
}

TEST_CASE("without shuffling every epoch visits the samples in order; with it, orders follow epoch_permutation") {
  data::batch_sampler plain{7, {.batch_size = 3, .shuffle = false, .last = data::last_batch::keep}};
  plain.start_epoch(5);
  CHECK(std::vector<std::size_t>(plain.order().begin(), plain.order().end()) == std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6});
  data::batch_sampler shuffled{7, {.batch_size = 3, .seed = 9}};
  shuffled.start_epoch(2);
  const auto expected = data::epoch_permutation(7, 9, 2);
  CHECK(std::equal(expected.begin(), expected.end(), shuffled.order().begin(), shuffled.order().end()));
}

TEST_CASE("gather copies the chosen samples into reused buffers and converts labels") {
  const std::size_t n = 6, h = 2, w = 3;
  data::dataset d{xt::xtensor<float, 4>::from_shape({n, 1, h, w}), xt::xtensor<std::uint8_t, 1>::from_shape({n})};
  for (std::size_t k = 0; k < n; ++k) {
    d.labels(k) = static_cast<std::uint8_t>(9 - k);
    for (std::size_t p = 0; p < h * w; ++p) d.images.data()[k * h * w + p] = static_cast<float>(100 * k + p);
  }
  xt::xtensor<float, 4> x;
  xt::xtensor<std::int64_t, 1> y;
  const std::vector<std::size_t> first{4, 0, 5}, second{1, 2, 3};
  data::gather(d, first, x, y);
  REQUIRE(x.shape() == std::array<std::size_t, 4>{3, 1, h, w});
  const float* buffer = x.data();
  for (std::size_t j = 0; j < first.size(); ++j) {
    CHECK(y(j) == static_cast<std::int64_t>(9 - first[j]));
    for (std::size_t r = 0; r < h; ++r)
      for (std::size_t c = 0; c < w; ++c) CHECK(x(j, 0, r, c) == d.images(first[j], 0, r, c));
  }
  data::gather(d, second, x, y);
  CHECK(x.data() == buffer);  // same batch size: no reallocation
  CHECK(x(2, 0, 1, 2) == d.images(3, 0, 1, 2));
  data::gather(d, std::vector<std::size_t>{5}, x, y);
  CHECK(x.shape()[0] == 1);
  CHECK(y(0) == 4);
  CHECK_THROWS_AS(data::gather(d, std::vector<std::size_t>{0, 6}, x, y), std::out_of_range);
}
