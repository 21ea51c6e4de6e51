// SPDX-License-Identifier: MIT
// model<Net, mode::train> against PyTorch (fixtures from gen_model.py, computed in float64 from the float32
// initial state): train-mode logits, cross-entropy, every parameter gradient, the whole state after 3 SGD and 3
// Adam steps (running statistics and num_batches_tracked included) and eval-mode logits.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fusenet/fusenet.hpp>
#include <fusenet/io/model_io.hpp>
#include <fusenet/io/npy.hpp>
#include <fusenet/io/safetensors.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <string>
#include <vector>

#include "reference/model/nets.hpp"

namespace fn = fusenet;

namespace {

const std::string root = std::string(FUSENET_REFERENCE_DIR) + "/model/fixtures/";

// Tolerance: |got - want| <= rel * (|want| + floor), floor = max|want| over the whole tensor. The floor stops
// values near zero (where float32 accumulation leaves an absolute error of about rel * the tensor's scale) from
// demanding a relative precision no float32 computation has.
struct comparison {
  double worst = 0.0;  // largest |got - want| / (|want| + floor)
  double worst_abs = 0.0;  // largest |got - want|
  std::size_t count = 0;
};

comparison compare(const float* got, const std::vector<float>& want, const std::vector<std::int64_t>* index) {
  float scale = 0.0f;
  for (float w : want) scale = std::max(scale, std::abs(w));
  comparison c;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const std::size_t at = index ? static_cast<std::size_t>((*index)[i]) : i;
    const double err = std::abs(static_cast<double>(got[at]) - want[i]);
    c.worst = std::max(c.worst, err / (std::abs(static_cast<double>(want[i])) + scale + 1e-30));
    c.worst_abs = std::max(c.worst_abs, err);
    ++c.count;
  }
  return c;
}

std::vector<float> floats(const fn::io::tensor_entry& e) {
  REQUIRE(e.dtype == "F32");
  std::vector<float> v(e.bytes.size() / sizeof(float));
  std::memcpy(v.data(), e.bytes.data(), e.bytes.size());
  return v;
}

std::vector<std::int64_t> int64s(const fn::io::tensor_entry& e) {
  REQUIRE(e.dtype == "I64");
  std::vector<std::int64_t> v(e.bytes.size() / sizeof(std::int64_t));
  std::memcpy(v.data(), e.bytes.data(), e.bytes.size());
  return v;
}

// Which of the model's tensors to compare: the values or the gradients.
enum class what { values, grads };

float max_abs(const std::vector<float>& v) {
  float m = 0.0f;
  for (float x : v) m = std::max(m, std::abs(x));
  return m;
}

// "3.block.1.running_mean" -> "3.block.0.bias": the bias of the layer feeding this batch_norm.
std::string bias_before(const std::string& running_mean_key) {
  const std::string prefix = running_mean_key.substr(0, running_mean_key.size() - std::string("running_mean").size() - 1);
  const std::size_t dot = prefix.rfind('.');
  const std::string head = dot == std::string::npos ? "" : prefix.substr(0, dot + 1);
  const long index = std::stol(prefix.substr(dot == std::string::npos ? 0 : dot + 1));
  return index == 0 ? std::string{} : head + std::to_string(index - 1) + ".bias";
}

// Exceptions to the relative tolerance, for tensors no float32 computation can reproduce to 1e-4.
struct adam_bounds {
  const fn::io::safetensors_file* true_grads = nullptr;  // after one step from the initial state
  double zero_grad_abs = 0.0;  // a parameter whose true gradient is zero, and the running_mean it feeds
  double param_abs = 0.0;      // any other parameter: added to the relative bound
};

// Compares every tensor of m (values or gradients) with a fixture file; large tensors are stored sampled
// ("key" holds values at the positions listed in "key#index").
template <class Model>
void check_state(Model& m, const std::string& file, what w, double rel, const adam_bounds& adam = {}) {
  const auto expected = fn::io::read_safetensors(file);
  // A bias followed by batch_norm has a true gradient of exactly zero (BN subtracts the batch mean again):
  // float32 leaves only rounding noise in it (measured <= 3e-8, against gradient scales of 1e-3..1).
  double grad_scale = 0.0;
  if (w == what::grads)
    for (const auto& [name, entry] : expected.tensors)
      if (entry.dtype == "F32") grad_scale = std::max(grad_scale, static_cast<double>(max_abs(floats(entry))));
  auto true_grad_is_zero = [&](const std::string& key) {
    const auto& g = w == what::grads ? expected : *adam.true_grads;
    const auto it = g.tensors.find(key);
    return it != g.tensors.end() && max_abs(floats(it->second)) < 1e-12f;
  };
  std::size_t seen = 0;
  for (const auto& t : m.tensors()) {
    if (w == what::grads && t.grad == nullptr) continue;
    CAPTURE(file);
    CAPTURE(t.name);
    auto it = expected.tensors.find(t.name);
    REQUIRE_MESSAGE(it != expected.tensors.end(), "fixture lacks " << t.name);
    ++seen;
    if (t.counter != nullptr) {
      CHECK(*t.counter == int64s(it->second).at(0));  // num_batches_tracked
      continue;
    }
    const auto want = floats(it->second);
    std::vector<std::int64_t> index;
    auto idx = expected.tensors.find(t.name + "#index");
    if (idx != expected.tensors.end()) index = int64s(idx->second);
    else REQUIRE(want.size() == t.spec.size());
    const float* got = w == what::values ? t.value : t.grad;
    const comparison c = compare(got, want, index.empty() ? nullptr : &index);
    const bool is_running_mean = t.name.ends_with("running_mean");
    if (w == what::grads && true_grad_is_zero(t.name)) {
      CHECK_MESSAGE(c.worst_abs <= 1e-5 * grad_scale, t.name << ": zero true gradient, got up to " << c.worst_abs);
    } else if (adam.true_grads != nullptr &&
               (true_grad_is_zero(t.name) || (is_running_mean && true_grad_is_zero(bias_before(t.name))))) {
      // Adam divides that noise by its own RMS, so each step moves such a bias by up to lr in a direction no
      // computation can reproduce (without changing the network's output), and the running_mean of the
      // batch_norm it feeds (0.1 * the batch mean, bias included) moves by less.
      CHECK_MESSAGE(c.worst_abs <= adam.zero_grad_abs, t.name << ": noise-driven, differs by " << c.worst_abs);
    } else {
      CHECK_MESSAGE(c.worst <= rel + adam.param_abs / (max_abs(want) + 1e-30),
                    t.name << ": worst relative error " << c.worst << " (absolute " << c.worst_abs << ") over "
                           << c.count);
    }
  }
  // Every fixture tensor (apart from sample indices) was matched by a model tensor.
  std::size_t fixture_tensors = 0;
  for (const auto& [name, entry] : expected.tensors)
    if (name.find('#') == std::string::npos) ++fixture_tensors;
  CHECK(seen == fixture_tensors);
}

template <class Net>
void check_against_torch(const std::string& name) {
  const std::string dir = root + name + "/";
  const auto x_any = fn::io::load_npy<float>(dir + "x.npy");
  using model_t = fn::model<Net, fn::mode::train>;
  typename model_t::input_tensor x = x_any;
  const xt::xarray<std::int64_t> labels = fn::io::load_npy<std::int64_t>(dir + "labels.npy");

  model_t m{1};
  m.set_dropout(false);  // torch: the Dropout module alone in eval()
  fn::load(m, dir + "init.safetensors");

  SUBCASE("logits, loss and gradients of one train-mode step") {
    const auto logits = m.forward(x);
    const auto want_logits = fn::io::load_npy<float>(dir + "logits.npy");
    REQUIRE(std::vector<std::size_t>(logits.shape().begin(), logits.shape().end()) ==
            std::vector<std::size_t>(want_logits.shape().begin(), want_logits.shape().end()));
    const comparison c = compare(logits.data(), std::vector<float>(want_logits.begin(), want_logits.end()), nullptr);
    CHECK_MESSAGE(c.worst <= 1e-5, "logits: worst relative error " << c.worst);

    auto [loss, dlogits] = fn::cross_entropy(logits, labels);
    const float want_loss = fn::io::load_npy<float>(dir + "loss.npy")(0);
    CHECK(std::abs(loss - want_loss) <= 1e-5f * std::abs(want_loss));

    m.zero_grad();
    m.backward(dlogits);
    check_state(m, dir + "grads.safetensors", what::grads, 1e-4);
  }

  SUBCASE("3 SGD steps (lr 0.05, momentum 0.9), then eval logits") {
    fn::sgd opt{m, {.lr = 0.05f, .momentum = 0.9f}};
    for (int step = 0; step < 3; ++step) {
      opt.zero_grad();
      auto [loss, dlogits] = fn::cross_entropy(m.forward(x), labels);
      m.backward(dlogits);
      opt.step();
    }
    check_state(m, dir + "after_sgd.safetensors", what::values, 1e-4);
    const auto eval_logits = m.eval_forward(x);
    const auto want = fn::io::load_npy<float>(dir + "eval_logits.npy");
    const comparison c = compare(eval_logits.data(), std::vector<float>(want.begin(), want.end()), nullptr);
    CHECK_MESSAGE(c.worst <= 1e-4, "eval logits: worst relative error " << c.worst);
  }

  SUBCASE("3 Adam steps (lr 1e-2)") {
    fn::adam opt{m, {.lr = 1e-2f}};
    for (int step = 0; step < 3; ++step) {
      opt.zero_grad();
      auto [loss, dlogits] = fn::cross_entropy(m.forward(x), labels);
      m.backward(dlogits);
      opt.step();
    }
    const auto grads = fn::io::read_safetensors(dir + "grads.safetensors");
    // Adam's step lr * m / sqrt(v) does not scale with the gradient, so an element whose gradient is
    // comparable to float32's accumulation error takes a step off by a visible fraction of lr: allow
    // 0.5% of the 3 steps' total movement (measured: 2.8e-5 on the reference net's second conv).
    const double steps_lr = 3 * 1e-2;
    check_state(m, dir + "after_adam.safetensors", what::values, 1e-4, {&grads, steps_lr, 5e-3 * steps_lr});
  }
}

}  // namespace

TEST_CASE("reference net (MNIST CNN, batch 8) matches PyTorch in training") {
  check_against_torch<fn::test::reference_net>("reference");
}

TEST_CASE("mixed net (every layer kind, residuals, batch 6) matches PyTorch in training") {
  check_against_torch<fn::test::mixed_net>("mixed");
}

TEST_CASE("ResNet-style net (identity and stride-2 projection blocks, batch 8) matches PyTorch in training") {
  check_against_torch<fn::test::resnet_small_net>("resnet");
}

TEST_CASE("MobileNet-style net (depthwise-separable blocks, stride 2, a pool, batch 8) matches PyTorch in training") {
  check_against_torch<fn::test::mobile_net>("mobile");
}
