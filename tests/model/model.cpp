// SPDX-License-Identifier: MIT
// model<Net, mode::train> behaviour outside the numerics: save/load round trips, load errors that name the file
// and key and leave the model untouched, batch-of-1 BatchNorm and input-shape errors, and eval_forward's
// independence from training state.

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <fusenet/fusenet.hpp>
#include <fusenet/io/model_io.hpp>
#include <fusenet/io/safetensors.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <random>
#include <string>
#include <vector>

#include "io/throws.hpp"
#include "reference/model/nets.hpp"

namespace fn = fusenet;
namespace fs = std::filesystem;
using fn::test::check_mentions;
using fn::test::message_of;

namespace {

using fusenet::test::random_tensor;

using mixed_model = fn::model<fn::test::mixed_net, fn::mode::train>;
using reference_model = fn::model<fn::test::reference_net, fn::mode::train>;

/// A fresh directory under the system temp dir, removed at scope exit.
struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() / ("fusenet_test_model_" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  [[nodiscard]] std::string file(const std::string& name) const { return (path / name).string(); }
};

/// Every stored tensor's values (and the counters), in state_dict order.
struct snapshot {
  std::vector<std::string> names;
  std::vector<std::vector<float>> values;
  std::vector<std::int64_t> counters;
  bool operator==(const snapshot&) const = default;
};

template <class Model>
snapshot take(Model& m) {
  snapshot s;
  for (const auto& t : m.tensors()) {
    s.names.push_back(t.name);
    if (t.counter != nullptr) s.counters.push_back(*t.counter);
    else s.values.emplace_back(t.value, t.value + t.spec.size());
  }
  return s;
}

template <class Model>
std::vector<std::vector<float>> grads_of(Model& m) {
  std::vector<std::vector<float>> g;
  for (const auto& p : m.parameters()) g.emplace_back(p.grad, p.grad + p.size);
  return g;
}

/// Trains a mixed-net model for a few SGD steps so that every tensor (running stats, counters) is non-trivial.
void train_a_little(mixed_model& m, std::uint32_t seed) {
  const auto x = random_tensor<mixed_model::input_tensor>({6, 3, 15, 15}, seed);
  const xt::xtensor<std::int64_t, 1> labels = {0, 1, 2, 3, 4, 0};
  fn::sgd opt{m, {.lr = 0.05f, .momentum = 0.9f}};
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    auto [loss, dy] = fn::cross_entropy(m.forward(x), labels);
    m.backward(dy);
    opt.step();
  }
}

}  // namespace

TEST_CASE("save then load into a fresh model gives identical tensors and eval outputs") {
  temp_dir dir;
  mixed_model a{1};
  a.set_dropout(false);
  train_a_little(a, 11);
  fn::save(a, dir.file("mixed.safetensors"));

  mixed_model b{2};  // different initialisation
  REQUIRE_FALSE(take(a) == take(b));
  fn::load(b, dir.file("mixed.safetensors"));
  CHECK(take(a) == take(b));

  const auto x = random_tensor<mixed_model::input_tensor>({4, 3, 15, 15}, 12);
  const auto ya = a.eval_forward(x);
  const auto yb = b.eval_forward(x);
  CHECK(ya == yb);
  // The file is PyTorch's state_dict layout: num_batches_tracked is an I64 scalar holding 3 steps.
  const auto file = fn::io::read_safetensors(dir.file("mixed.safetensors"));
  CHECK(file.tensors.at("1.num_batches_tracked").dtype == "I64");
  CHECK(fn::io::read_i64_scalar(file.tensors.at("3.block.1.num_batches_tracked"), "k") == 3);
  CHECK(file.tensors.at("5.shortcut.0.weight").shape == std::vector<std::size_t>{12, 8, 1, 1});
}

TEST_CASE("load errors name the file and key and leave the model unchanged") {
  temp_dir dir;
  mixed_model source{1};
  train_a_little(source, 21);
  const std::string good = dir.file("good.safetensors");
  fn::save(source, good);
  const auto file = fn::io::read_safetensors(good);

  mixed_model m{3};
  train_a_little(m, 22);
  const snapshot before = take(m);
  REQUIRE_FALSE(before == take(source));

  SUBCASE("a missing key") {
    auto f = file;
    f.tensors.erase("5.block.4.running_var");
    const std::string path = dir.file("missing.safetensors");
    fn::io::write_safetensors(path, f);
    const auto msg = message_of<fn::weights_mismatch>([&] { fn::load(m, path); });
    check_mentions(msg, {path, "missing", "'5.block.4.running_var'"});
  }
  SUBCASE("an extra key") {
    auto f = file;
    f.tensors["17.weight"] = f.tensors.at("16.weight");
    const std::string path = dir.file("extra.safetensors");
    fn::io::write_safetensors(path, f);
    const auto msg = message_of<fn::weights_mismatch>([&] { fn::load(m, path); });
    check_mentions(msg, {path, "unexpected", "'17.weight'"});
  }
  SUBCASE("a wrong shape in the last tensor (all earlier ones fit)") {
    auto f = file;
    auto& w = f.tensors.at("16.weight");  // dense<5> on 16 features: 5×16, stored as 16×5
    w.shape = {16, 5};
    const std::string path = dir.file("shape.safetensors");
    fn::io::write_safetensors(path, f);
    const auto msg = message_of<fn::weights_mismatch>([&] { fn::load(m, path); });
    check_mentions(msg, {path, "'16.weight'", "[16, 5]", "[5, 16]"});
  }
  SUBCASE("a wrong dtype for num_batches_tracked") {
    auto f = file;
    f.tensors["14.num_batches_tracked"] = fn::io::make_f32({}, std::vector<float>{3.0f}.data());
    const std::string path = dir.file("dtype.safetensors");
    fn::io::write_safetensors(path, f);
    const auto msg = message_of<fn::weights_mismatch>([&] { fn::load(m, path); });
    check_mentions(msg, {path, "'14.num_batches_tracked'", "F32", "I64"});
  }
  SUBCASE("a truncated file") {
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string path = dir.file("truncated.safetensors");
    std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() - 40);
    const auto msg = message_of<fn::file_error>([&] { fn::load(m, path); });
    check_mentions(msg, {path});
  }
  SUBCASE("a file that does not exist") {
    const std::string path = dir.file("absent.safetensors");
    const auto msg = message_of<fn::file_error>([&] { fn::load(m, path); });
    check_mentions(msg, {path});
  }
  CHECK(take(m) == before);
}

TEST_CASE("the state of another network is rejected with every differing key, model unchanged") {
  temp_dir dir;
  mixed_model mixed{1};
  const std::string path = dir.file("mixed.safetensors");
  fn::save(mixed, path);
  reference_model ref{2};
  const snapshot before = take(ref);
  const auto msg = message_of<fn::weights_mismatch>([&] { fn::load(ref, path); });
  // Keys present in both ("0.weight": 32×1×3×3 vs 8×3×3×3) are checked for shape only after the key sets match,
  // so the message lists the keys of each side that the other lacks.
  check_mentions(msg, {path, "missing", "'10.running_var'", "'12.bias'", "unexpected", "'3.block.0.weight'",
                       "'5.shortcut.0.weight'"});
  CHECK(take(ref) == before);
}

TEST_CASE("a key present in both networks with a different shape is named with both shapes") {
  temp_dir dir;
  reference_model ref{1};
  const std::string path = dir.file("ref.safetensors");
  fn::save(ref, path);
  auto f = fn::io::read_safetensors(path);
  std::vector<float> w(8 * 3 * 3 * 3, 0.5f);
  f.tensors["0.weight"] = fn::io::make_f32({8, 3, 3, 3}, w.data());  // the mixed net's first conv
  fn::io::write_safetensors(path, f);
  reference_model m{2};
  const snapshot before = take(m);
  const auto msg = message_of<fn::weights_mismatch>([&] { fn::load(m, path); });
  check_mentions(msg, {path, "'0.weight'", "[8, 3, 3, 3]", "[32, 1, 3, 3]"});
  CHECK(take(m) == before);
}

TEST_CASE("train-mode batch_norm on one value per channel throws, as PyTorch") {
  reference_model m{1};
  const auto x = random_tensor<reference_model::input_tensor>({1, 1, 28, 28}, 5);
  // The 2-d batch_norms see 28×28 and 14×14 values per channel; the 1-d one after dense<128> sees only 1.
  const auto msg = message_of<std::invalid_argument>([&] { m.forward(x); });
  check_mentions(msg, {"batch_norm", "layer 10", "1\u00d7128"});
  // Evaluation uses running statistics and accepts a batch of 1.
  CHECK(m.eval_forward(x).shape()[0] == 1);
  // A batch of 2 trains.
  const auto x2 = random_tensor<reference_model::input_tensor>({2, 1, 28, 28}, 6);
  CHECK(m.forward(x2).shape()[1] == 10);
}

TEST_CASE("forward with a wrong input shape names the expected and the actual shape") {
  reference_model m{1};
  const auto x = random_tensor<reference_model::input_tensor>({2, 1, 27, 28}, 5);
  check_mentions(message_of<std::invalid_argument>([&] { m.forward(x); }), {"1\u00d728\u00d728", "2\u00d71\u00d727\u00d728"});
  const auto c = random_tensor<reference_model::input_tensor>({2, 3, 28, 28}, 5);
  check_mentions(message_of<std::invalid_argument>([&] { m.eval_forward(c); }),
                 {"1\u00d728\u00d728", "2\u00d73\u00d728\u00d728"});
}

TEST_CASE("eval_forward changes no tensor and does not disturb a pending backward") {
  mixed_model a{4}, b{4};
  a.set_dropout(false);
  b.set_dropout(false);
  const auto x = random_tensor<mixed_model::input_tensor>({6, 3, 15, 15}, 31);
  const auto other = random_tensor<mixed_model::input_tensor>({3, 3, 15, 15}, 32);
  const auto dy = random_tensor<mixed_model::output_tensor>({6, 5}, 33);

  const auto ya = a.forward(x);
  const snapshot after_forward = take(a);
  const auto eval_y = a.eval_forward(other);
  CHECK(take(a) == after_forward);  // running statistics and num_batches_tracked untouched
  CHECK(eval_y.shape()[0] == 3);
  const auto dxa = a.backward_with_input_grad(dy);

  const auto yb = b.forward(x);
  const auto dxb = b.backward_with_input_grad(dy);
  CHECK(ya == yb);
  CHECK(grads_of(a) == grads_of(b));
  CHECK(dxa == dxb);
  CHECK(take(a) == take(b));

  // With dropout on: eval_forward neither consumes the random stream nor forgets the train-mode mask.
  mixed_model c{4}, d{4};
  const auto yc = c.forward(x);
  static_cast<void>(c.eval_forward(other));
  const auto dxc = c.backward_with_input_grad(dy);
  const auto yd = d.forward(x);
  const auto dxd = d.backward_with_input_grad(dy);
  CHECK(yc == yd);
  CHECK_FALSE(yc == ya);  // dropout did act
  CHECK(grads_of(c) == grads_of(d));
  CHECK(dxc == dxd);
}
