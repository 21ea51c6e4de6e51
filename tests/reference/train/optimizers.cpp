// SPDX-License-Identifier: MIT
// fusenet's SGD, Adam and AdamW against torch.optim on recorded gradients (fixtures from
// gen_train.py).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fusenet/io/npy.hpp>
#include <fusenet/train/optimizers.hpp>
#include <string>
#include <vector>

namespace {

const std::string dir = std::string(FUSENET_REFERENCE_DIR) + "/train/fixtures/";

// Tolerance: |ours - torch| <= abs_tol + rel_tol * |torch|. Both sides run the same float formulas;
// the slack covers scalars that torch rounds from Python doubles (lr, 1 - beta) and FMA
// contraction.
constexpr double rel_tol = 1e-6;
constexpr double abs_tol = 1e-7;

// A stand-in for a model: a 4x3 weight and a 5-element bias, listed like a state_dict.
struct fake_model {
  std::vector<float> w, b, gw, gb;
  fake_model() : w(load("init_p0")), b(load("init_p1")), gw(w.size(), 0.0f), gb(b.size(), 0.0f) {}
  static std::vector<float> load(const std::string& name) {
    auto a = fusenet::io::load_npy<float>(dir + name + ".npy");
    return {a.begin(), a.end()};
  }
  std::vector<fusenet::param_view> parameters() {
    return {{"0.weight", w.data(), gw.data(), w.size()}, {"0.bias", b.data(), gb.data(), b.size()}};
  }
  std::vector<float> flat() const {
    std::vector<float> all(w);
    all.insert(all.end(), b.begin(), b.end());
    return all;
  }
};

// Feeds the recorded gradients for three steps and compares all parameters with torch after each
// step.
template <class Optimizer, class Options>
void check_against_torch(const std::string& name, Options options) {
  fake_model m;
  Optimizer opt{m, options};
  const auto gw = fusenet::io::load_npy<float>(dir + "grads_p0.npy");
  const auto gb = fusenet::io::load_npy<float>(dir + "grads_p1.npy");
  const auto expected = fusenet::io::load_npy<float>(dir + name + ".npy");
  REQUIRE(expected.shape()[0] == 3);
  REQUIRE(expected.shape()[1] == m.w.size() + m.b.size());
  for (std::size_t s = 0; s < 3; ++s) {
    opt.zero_grad();
    CHECK(std::all_of(m.gw.begin(), m.gw.end(), [](float g) { return g == 0.0f; }));
    std::copy_n(&gw(s, 0, 0), m.gw.size(), m.gw.begin());
    std::copy_n(&gb(s, 0), m.gb.size(), m.gb.begin());
    opt.step();
    const auto got = m.flat();
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double want = expected(s, i);
      INFO(name << " step " << s + 1 << " element " << i << ": fusenet " << got[i] << ", torch "
                << want);
      CHECK(std::abs(got[i] - want) <= abs_tol + rel_tol * std::abs(want));
    }
  }
}

}  // namespace

TEST_CASE("sgd: plain") {
  check_against_torch<fusenet::sgd>("sgd_plain", fusenet::sgd_options{.lr = 0.1f});
}

TEST_CASE("sgd: momentum 0.9, dampening 0.1, weight decay 1e-2") {
  check_against_torch<fusenet::sgd>(
      "sgd_momentum",
      fusenet::sgd_options{.lr = 0.1f, .momentum = 0.9f, .dampening = 0.1f, .weight_decay = 1e-2f});
}

TEST_CASE("sgd: nesterov") {
  check_against_torch<fusenet::sgd>(
      "sgd_nesterov", fusenet::sgd_options{.lr = 0.1f, .momentum = 0.9f, .nesterov = true});
}

TEST_CASE("adam: defaults") {
  check_against_torch<fusenet::adam>("adam_default", fusenet::adam_options{});
}

TEST_CASE("adam: weight decay 1e-2 (L2 added to the gradient)") {
  check_against_torch<fusenet::adam>("adam_weight_decay",
                                     fusenet::adam_options{.lr = 0.01f, .weight_decay = 1e-2f});
}

TEST_CASE("adamw: decoupled weight decay, betas (0.8, 0.99)") {
  check_against_torch<fusenet::adamw>(
      "adamw", fusenet::adamw_options{.lr = 0.01f, .betas = {0.8f, 0.99f}, .weight_decay = 0.1f});
}
