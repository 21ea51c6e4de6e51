// SPDX-License-Identifier: MIT
// pipeline_batches: fit's batch-source interface over a batch_pipeline gives the pipeline's batches in order,
// the same batches when asked out of order (restarts), and loader errors with the epoch and batch appended.
#include <doctest/doctest.h>

#include <fusenet/data/pipeline_batches.hpp>
#include <string>
#include <vector>

namespace data = fusenet::data;

namespace {

// Sample i: 2×2×2 values 100·i + position, label i mod 3; sample `bad` throws.
class small_source final : public data::sample_source {
 public:
  explicit small_source(std::size_t n, std::size_t bad = SIZE_MAX) : n_(n), bad_(bad) {}
  std::size_t size() const override { return n_; }
  std::array<std::size_t, 3> sample_shape() const override { return {2, 2, 2}; }
  std::uint32_t load(std::size_t index, std::span<float> out) const override {
    if (index == bad_) throw fusenet::file_error("img_" + std::to_string(index) + ".png: truncated");
    for (std::size_t p = 0; p < out.size(); ++p) out[p] = static_cast<float>(100 * index + p);
    return static_cast<std::uint32_t>(index % 3);
  }

 private:
  std::size_t n_, bad_;
};

data::pipeline_options opts(std::size_t threads) {
  return {.batches = {.batch_size = 4, .seed = 3, .last = data::last_batch::keep},
          .augment = {.crop_padding = 1, .horizontal_flip = true},
          .threads = threads,
          .epochs = 2};
}

using images = std::vector<float>;

}  // namespace

TEST_CASE("in order, the batches are the pipeline's; out of order (as evaluate and resume ask), the same") {
  small_source src(10);
  data::batch_pipeline direct(src, opts(2));
  std::vector<images> expected;
  std::vector<std::vector<std::int64_t>> labels;
  while (const auto* b = direct.next()) {
    expected.emplace_back(b->images.begin(), b->images.end());
    labels.emplace_back(b->labels.begin(), b->labels.end());
  }
  REQUIRE(expected.size() == 6);  // 10 samples in batches of 4 (keep): 3 per epoch, 2 epochs
  data::pipeline_batches batches(src, opts(2));
  CHECK(batches.num_batches() == 3);
  xt::xtensor<float, 4> x;
  xt::xtensor<std::int64_t, 1> y;
  for (std::uint64_t e = 0; e < 2; ++e) {
    batches.start_epoch(e);
    for (std::size_t b = 0; b < 3; ++b) {
      batches.load(b, x, y);
      CHECK(images(x.begin(), x.end()) == expected[e * 3 + b]);
      CHECK(std::vector<std::int64_t>(y.begin(), y.end()) == labels[e * 3 + b]);
    }
  }
  // Epoch 1 again, batch 2 before batch 0, then epoch 0 (a restart each time), then past the configured epochs.
  batches.start_epoch(1);
  batches.load(2, x, y);
  CHECK(images(x.begin(), x.end()) == expected[5]);
  batches.load(0, x, y);
  CHECK(images(x.begin(), x.end()) == expected[3]);
  batches.start_epoch(0);
  batches.load(1, x, y);
  CHECK(images(x.begin(), x.end()) == expected[1]);
  batches.start_epoch(7);
  CHECK_NOTHROW(batches.load(0, x, y));
  CHECK(x.shape()[0] == 4);
}

TEST_CASE("a loader error names the file, then the epoch and batch (1-based)") {
  small_source src(10, /*bad=*/6);
  auto o = opts(1);
  o.batches.shuffle = false;  // sample 6 is in batch 2
  data::pipeline_batches batches(src, o);
  xt::xtensor<float, 4> x;
  xt::xtensor<std::int64_t, 1> y;
  batches.start_epoch(0);
  batches.load(0, x, y);
  std::string msg;
  try {
    batches.load(1, x, y);
  } catch (const fusenet::file_error& e) {
    msg = e.what();
  }
  CHECK(msg == "img_6.png: truncated (epoch 1, batch 2 of 3)");
}
