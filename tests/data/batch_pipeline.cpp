// SPDX-License-Identifier: MIT
// batch_pipeline: the batches equal what the sampler and transforms give by hand, the same for 0, 1 and 2
// loader threads and any ring depth; loader errors arrive in order; early exit and errors shut down cleanly.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <fusenet/data/batch_pipeline.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace data = fusenet::data;

namespace {

// Sample i is a 3×4×4 image with value 1000·i + position, label i mod 5; sample `bad` (if any) throws; a small
// random-looking sleep makes the threads finish out of order.
class synthetic_source final : public data::sample_source {
 public:
  explicit synthetic_source(std::size_t n, std::size_t bad = SIZE_MAX) : n_(n), bad_(bad) {}
  std::size_t size() const override { return n_; }
  std::array<std::size_t, 3> sample_shape() const override { return {3, 4, 4}; }
  std::uint32_t load(std::size_t index, std::span<float> out) const override {
    loads_.fetch_add(1);
    if (index == bad_) throw fusenet::file_error("sample_" + std::to_string(index) + ".png: corrupt");
    std::this_thread::sleep_for(std::chrono::microseconds((index * 7919) % 200));
    for (std::size_t p = 0; p < out.size(); ++p) out[p] = static_cast<float>(1000 * index + p);
    return static_cast<std::uint32_t>(index % 5);
  }
  mutable std::atomic<std::size_t> loads_{0};

 private:
  std::size_t n_, bad_;
};

struct batch_copy {
  std::uint64_t epoch;
  std::size_t index;
  std::vector<float> images;
  std::vector<std::int64_t> labels;
  bool operator==(const batch_copy&) const = default;
};

std::vector<batch_copy> run(const data::sample_source& source, data::pipeline_options o) {
  data::batch_pipeline p(source, o);
  std::vector<batch_copy> out;
  while (const auto* b = p.next())
    out.push_back({b->epoch, b->index, {b->images.begin(), b->images.end()}, {b->labels.begin(), b->labels.end()}});
  return out;
}

data::pipeline_options options(std::size_t threads, std::size_t depth) {
  return {.batches = {.batch_size = 8, .seed = 11, .last = data::last_batch::keep},
          .augment = {.crop_padding = 1, .horizontal_flip = true, .normalize_with = {{1.0f, 2.0f, 3.0f}, {2.0f, 2.0f, 4.0f}}},
          .threads = threads,
          .depth = depth,
          .epochs = 3,
          .first_epoch = 4};
}

}  // namespace

TEST_CASE("the batches are the sampler's, each sample loaded and augmented with its own (seed, epoch, index) draws") {
  synthetic_source src(21);
  const auto o = options(2, 3);
  const auto got = run(src, o);
  REQUIRE(got.size() == 3 * 3);  // 21 samples in batches of 8: 8, 8, 5 (keep)
  data::batch_sampler sampler(21, o.batches);
  std::vector<float> scratch, sample(48);
  std::size_t k = 0;
  for (std::uint64_t epoch = 4; epoch < 7; ++epoch) {
    sampler.start_epoch(epoch);
    for (std::size_t b = 0; b < sampler.num_batches(); ++b, ++k) {
      CAPTURE(epoch);
      CAPTURE(b);
      CHECK(got[k].epoch == epoch);
      CHECK(got[k].index == b);
      const auto idx = sampler.batch(b);
      REQUIRE(got[k].labels.size() == idx.size());
      for (std::size_t j = 0; j < idx.size(); ++j) {
        CHECK(got[k].labels[j] == static_cast<std::int64_t>(src.load(idx[j], sample)));
        auto rng = data::sample_rng::for_sample(11, epoch, idx[j]);
        o.augment.apply(sample, {3, 4, 4}, rng, scratch);
        CHECK(std::equal(sample.begin(), sample.end(), got[k].images.begin() + static_cast<std::ptrdiff_t>(j * 48)));
      }
    }
  }
}

TEST_CASE("deterministic: 0, 1 and 2 loader threads and ring depths 1, 2, 5 give identical batches") {
  synthetic_source src(37);
  const auto reference = run(src, options(1, 0));
  CHECK(reference.size() == 15);
  for (std::size_t threads : {0u, 1u, 2u})
    for (std::size_t depth : {1u, 2u, 5u}) {
      CAPTURE(threads);
      CAPTURE(depth);
      CHECK(run(src, options(threads, depth)) == reference);
    }
  auto other = options(2, 0);
  other.batches.seed = 12;
  CHECK(run(src, other) != reference);
}

TEST_CASE("a loader error is rethrown at its batch, after every earlier batch, with the file's message") {
  for (std::size_t threads : {0u, 1u, 2u}) {
    CAPTURE(threads);
    synthetic_source src(40, /*bad=*/17);
    auto o = options(threads, 0);
    o.batches.shuffle = false;  // sample 17 is in batch 2 of the first epoch
    data::batch_pipeline p(src, o);
    CHECK(p.next()->index == 0);
    CHECK(p.next()->index == 1);
    std::string msg;
    try {
      p.next();
    } catch (const fusenet::file_error& e) {
      msg = e.what();
    }
    CHECK(msg == "sample_17.png: corrupt");
    CHECK_THROWS_AS(p.next(), fusenet::file_error);  // stays failed
  }
}

TEST_CASE("early exit: destroying the pipeline mid-run stops the loaders without loading the rest") {
  synthetic_source src(2000);
  const auto start = std::chrono::steady_clock::now();
  {
    auto o = options(2, 3);
    o.epochs = 100;
    data::batch_pipeline p(src, o);
    REQUIRE(p.next() != nullptr);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // At most the ring (3 batches) plus one batch per thread were loaded, far from 100 epochs of 2000.
  CHECK(src.loads_.load() <= 8 * (3 + 2 + 1));
  CHECK(s < 5.0);
}

TEST_CASE("empty run and bad options") {
  synthetic_source src(5);
  auto o = options(2, 0);
  o.epochs = 0;
  data::batch_pipeline p(src, o);
  CHECK(p.next() == nullptr);
  o.batches.batch_size = 0;
  CHECK_THROWS_AS(data::batch_pipeline(src, o), std::invalid_argument);
}
