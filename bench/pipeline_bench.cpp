// SPDX-License-Identifier: MIT
// Images per second the data pipeline decodes and augments from a folder of 32×32 RGB PNGs (1 and 2 loader
// threads), against the training throughput of examples/image_folder's ResNet at batch 64 (1 and 2 model
// threads), and the two overlapped as examples/image_folder runs them. One JSON object per line.
// Usage: pipeline_bench [IMAGES]   (default 2048; the folder is generated in a temporary directory)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fusenet/data/batch_pipeline.hpp>
#include <fusenet/data/image_folder.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <random>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "../examples/image_folder_net.hpp"
#include "../tests/data/image_writer.hpp"

namespace fn = fusenet;
namespace data = fusenet::data;
using Net = image_folder_example::net;

namespace {

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

void set_model_threads(int n) {
#ifdef _OPENMP
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

// CIFAR's augmentation, as examples/image_folder applies it.
data::augmentation cifar_augment() {
  return {.crop_padding = 4, .horizontal_flip = true, .normalize_with = {{0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}}};
}

// Pulls every batch of `epochs` epochs through the pipeline, doing nothing with them.
double pipeline_rate(const data::image_folder& folder, std::size_t threads, std::size_t epochs) {
  data::batch_pipeline p(folder, {.batches = {.batch_size = 64, .seed = 1}, .augment = cifar_augment(),
                                  .threads = threads, .epochs = epochs});
  const auto t0 = clock_type::now();
  std::size_t images = 0;
  while (const auto* b = p.next()) images += b->labels.size();
  return static_cast<double>(images) / seconds_since(t0);
}

// Decoding alone (read_image + to_tensor) and augmenting alone, on one thread: where a loader's time goes.
void breakdown(const data::image_folder& folder) {
  std::vector<float> sample(3 * 32 * 32), scratch;
  auto t0 = clock_type::now();
  for (std::size_t i = 0; i < folder.size(); ++i) folder.load(i, sample);
  const double decode = static_cast<double>(folder.size()) / seconds_since(t0);
  const auto aug = cifar_augment();
  t0 = clock_type::now();
  for (std::size_t i = 0; i < folder.size(); ++i) {
    auto rng = data::sample_rng::for_sample(1, 0, i);
    aug.apply(sample, {3, 32, 32}, rng, scratch);
  }
  const double augment = static_cast<double>(folder.size()) / seconds_since(t0);
  std::printf("{\"bench\":\"pipeline\",\"what\":\"decode_png_32x32_rgb\",\"threads\":1,\"images_per_s\":%.0f}\n", decode);
  std::printf("{\"bench\":\"pipeline\",\"what\":\"augment_crop4_flip_normalize\",\"threads\":1,\"images_per_s\":%.0f}\n",
              augment);
}

// Training steps (forward, cross-entropy, backward, Adam) at batch 64 on random data.
double train_rate(int threads, std::size_t steps) {
  set_model_threads(threads);
  fn::model<Net, fn::mode::train> m{1};
  fn::adam opt{m, {.lr = 1e-3f}};
  xt::xtensor<float, 4> x = xt::xtensor<float, 4>::from_shape({64, 3, 32, 32});
  xt::xtensor<std::int64_t, 1> y = xt::xtensor<std::int64_t, 1>::from_shape({64});
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  for (auto& v : x) v = normal(rng);
  for (std::size_t i = 0; i < 64; ++i) y(i) = static_cast<std::int64_t>(i % 10);
  auto step = [&] {
    const auto logits = m.forward(x);
    auto [loss, dlogits] = fn::cross_entropy(logits, y);
    m.zero_grad();
    m.backward(dlogits);
    opt.step();
  };
  step();  // warm-up: first-touch allocations
  const auto t0 = clock_type::now();
  for (std::size_t s = 0; s < steps; ++s) step();
  return static_cast<double>(64 * steps) / seconds_since(t0);
}

// The training loop of examples/image_folder: batches from the pipeline, trained on as they arrive.
double overlapped_rate(const data::image_folder& folder, std::size_t loader_threads, int model_threads) {
  set_model_threads(model_threads);
  fn::model<Net, fn::mode::train> m{1};
  fn::adam opt{m, {.lr = 1e-3f}};
  data::batch_pipeline p(folder, {.batches = {.batch_size = 64, .seed = 1}, .augment = cifar_augment(),
                                  .threads = loader_threads});
  const auto t0 = clock_type::now();
  std::size_t images = 0;
  while (const auto* b = p.next()) {
    const auto logits = m.forward(b->images);
    auto [loss, dlogits] = fn::cross_entropy(logits, b->labels);
    m.zero_grad();
    m.backward(dlogits);
    opt.step();
    images += b->labels.size();
  }
  return static_cast<double>(images) / seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? static_cast<std::size_t>(std::atoi(argv[1])) : 2048;
  fusenet::test::scratch_dir dir;
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> byte(0, 255);
  for (std::size_t i = 0; i < n; ++i) {
    // Smooth-ish random images (a gradient plus noise), so PNG compression is typical rather than worst case.
    std::vector<std::uint8_t> px(32 * 32 * 3);
    const int base = byte(rng);
    for (std::size_t p = 0; p < px.size(); ++p) px[p] = static_cast<std::uint8_t>((base + static_cast<int>(p / 3) + byte(rng) / 8) % 256);
    fusenet::test::write_file(dir / ("c" + std::to_string(i % 10)) / (std::to_string(i) + ".png"),
                              fusenet::test::encode_png(px, 32, 32, 3));
  }
  const data::image_folder folder(dir.path().string(), {3, 32, 32});
  breakdown(folder);
  for (std::size_t threads : {1u, 2u})
    std::printf("{\"bench\":\"pipeline\",\"what\":\"decode+augment_batches_64\",\"loader_threads\":%zu,\"images_per_s\":%.0f}\n",
                threads, pipeline_rate(folder, threads, 2));
  for (int threads : {1, 2})
    std::printf("{\"bench\":\"pipeline\",\"what\":\"train_step_resnet_batch_64\",\"model_threads\":%d,\"images_per_s\":%.0f}\n",
                threads, train_rate(threads, 20));
  for (const auto& [loaders, model] : {std::pair<std::size_t, int>{1, 1}, {1, 2}})
    std::printf("{\"bench\":\"pipeline\",\"what\":\"train_from_folder_overlapped\",\"loader_threads\":%zu,"
                "\"model_threads\":%d,\"images_per_s\":%.0f}\n",
                loaders, model, overlapped_rate(folder, loaders, model));
  std::fflush(stdout);
  return 0;
}
