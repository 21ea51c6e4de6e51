// SPDX-License-Identifier: MIT
// Optimizer construction rules, zero_grad/set_lr, and first-step closed forms of SGD, Adam and
// AdamW.
#include <doctest/doctest.h>

#include <cmath>
#include <fusenet/train/optimizers.hpp>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace {

// A model with one 6-element parameter; values and gradients chosen per test.
struct tiny_model {
  std::vector<float> w{0.5f, -1.0f, 2.0f, -0.25f, 3.0f, 0.0f};
  std::vector<float> g{1.0f, -2.0f, 0.5f, 0.125f, -4.0f, 3.0f};
  std::vector<fusenet::param_view> parameters() {
    return {{"0.weight", w.data(), g.data(), w.size()}};
  }
};

}  // namespace

TEST_CASE("optimizers take a model by lvalue only: a temporary would leave dangling pointers") {
  static_assert(std::is_constructible_v<fusenet::sgd, tiny_model&, fusenet::sgd_options>);
  static_assert(!std::is_constructible_v<fusenet::sgd, tiny_model, fusenet::sgd_options>);
  static_assert(std::is_constructible_v<fusenet::adam, tiny_model&, fusenet::adam_options>);
  static_assert(!std::is_constructible_v<fusenet::adam, tiny_model, fusenet::adam_options>);
  static_assert(!std::is_constructible_v<fusenet::adamw, tiny_model, fusenet::adamw_options>);
  tiny_model m;
  fusenet::adam opt{m, {.lr = 1e-3f}};  // the DESIGN.md spelling
  CHECK(opt.parameters().size() == 1);
  CHECK(opt.parameters()[0].name == "0.weight");
}

// The bases of the three optimizers have public names (no detail:: in their API); the old detail:: names still
// compile. A base is never constructed, copied or destroyed on its own (protected constructors and destructor).
static_assert(std::is_base_of_v<fusenet::optimizer_base, fusenet::sgd>);
static_assert(std::is_base_of_v<fusenet::adam_base, fusenet::adam> &&
              std::is_base_of_v<fusenet::adam_base, fusenet::adamw>);
static_assert(std::is_same_v<fusenet::detail::optimizer_base, fusenet::optimizer_base>);
static_assert(std::is_same_v<fusenet::detail::adam_impl, fusenet::adam_base>);
static_assert(!std::is_destructible_v<fusenet::optimizer_base> && !std::is_destructible_v<fusenet::adam_base>);
static_assert(!std::is_copy_constructible_v<fusenet::optimizer_base>);
static_assert(std::is_copy_constructible_v<fusenet::adam> && std::is_move_constructible_v<fusenet::sgd>);

namespace {
void halve_lr(fusenet::optimizer_base& opt) { opt.set_lr(opt.lr() / 2); }
}  // namespace

TEST_CASE("any optimizer's learning rate through optimizer_base&") {
  tiny_model m;
  fusenet::sgd s{m, {.lr = 0.5f}};
  fusenet::adam a{m, {.lr = 1e-3f}};
  fusenet::adamw w{m, {.lr = 2e-3f}};
  halve_lr(s);
  halve_lr(a);
  halve_lr(w);
  CHECK(s.lr() == 0.25f);
  CHECK(a.lr() == 5e-4f);
  CHECK(w.lr() == 1e-3f);
  fusenet::adam_base& base = a;
  CHECK(base.steps() == 0);
}

TEST_CASE("options that torch.optim rejects throw std::invalid_argument") {
  tiny_model m;
  CHECK_THROWS_AS(fusenet::sgd(m, {.lr = -0.1f}), std::invalid_argument);
  CHECK_THROWS_AS(fusenet::sgd(m, {.lr = 0.1f, .nesterov = true}), std::invalid_argument);
  CHECK_THROWS_AS(
      fusenet::sgd(m, {.lr = 0.1f, .momentum = 0.9f, .dampening = 0.1f, .nesterov = true}),
      std::invalid_argument);
  CHECK_THROWS_AS(fusenet::adam(m, {.betas = {1.0f, 0.999f}}), std::invalid_argument);
  CHECK_THROWS_AS(fusenet::adam(m, {.eps = -1.0f}), std::invalid_argument);
  CHECK_THROWS_AS(fusenet::adamw(m, {.weight_decay = -1.0f}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(fusenet::adam(m, {.amsgrad = true}), doctest::Contains("amsgrad"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(fusenet::adamw(m, {.amsgrad = true}), doctest::Contains("amsgrad"),
                       std::invalid_argument);
}

TEST_CASE("zero_grad zeroes the gradients; set_lr changes the next step") {
  tiny_model m;
  const auto w0 = m.w;
  fusenet::sgd opt{m, {.lr = 0.1f}};
  opt.set_lr(0.5f);
  CHECK(opt.lr() == 0.5f);
  opt.step();
  for (std::size_t i = 0; i < m.w.size(); ++i)
    CHECK(m.w[i] == doctest::Approx(w0[i] - 0.5f * m.g[i]));
  opt.zero_grad();
  for (float gi : m.g) CHECK(gi == 0.0f);
  const auto w1 = m.w;
  opt.step();  // zero gradient, no momentum: nothing moves
  CHECK(m.w == w1);
  CHECK_THROWS_AS(opt.set_lr(-1.0f), std::invalid_argument);
}

TEST_CASE(
    "sgd momentum: the first step uses the raw gradient, the second mu*b + (1 - dampening)*g") {
  tiny_model m;
  const auto w0 = m.w;
  fusenet::sgd opt{m, {.lr = 0.1f, .momentum = 0.9f, .dampening = 0.5f}};
  opt.step();
  opt.step();  // same gradient: b2 = 0.9 g + 0.5 g = 1.4 g; total move = 0.1 * (1 + 1.4) g
  for (std::size_t i = 0; i < m.w.size(); ++i)
    CHECK(m.w[i] == doctest::Approx(static_cast<double>(w0[i]) - 0.24 * m.g[i]).epsilon(1e-6));
}

TEST_CASE(
    "adam: the first step moves each parameter by lr * g / (|g| + eps) (bias corrections cancel)") {
  tiny_model m;
  const auto w0 = m.w;
  fusenet::adam opt{m, {.lr = 0.01f}};
  opt.step();
  CHECK(opt.steps() == 1);
  for (std::size_t i = 0; i < m.w.size(); ++i) {
    const double g = m.g[i];
    CHECK(m.w[i] == doctest::Approx(w0[i] - 0.01 * g / (std::abs(g) + 1e-8)).epsilon(1e-6));
  }
}

TEST_CASE(
    "adam adds weight_decay * p to the gradient; adamw scales p by 1 - lr * weight_decay instead") {
  tiny_model ma, mw;
  for (auto* m : {&ma, &mw}) std::fill(m->g.begin(), m->g.end(), 0.0f);
  const auto w0 = ma.w;
  fusenet::adam a{ma, {.lr = 0.01f, .weight_decay = 0.1f}};
  fusenet::adamw aw{mw, {.lr = 0.01f, .weight_decay = 0.1f}};
  a.step();
  aw.step();
  for (std::size_t i = 0; i < w0.size(); ++i) {
    const double p = w0[i];
    // Adam: g = 0.1 p, so the first step is lr * sign(p) (0 for p = 0).
    const double sign = p > 0 ? 1.0 : p < 0 ? -1.0 : 0.0;
    CHECK(ma.w[i] == doctest::Approx(p - 0.01 * sign).epsilon(1e-6));
    // AdamW with zero gradient: only the decoupled decay acts.
    CHECK(mw.w[i] == doctest::Approx(p * (1.0 - 0.01 * 0.1)).epsilon(1e-7));
  }
}
