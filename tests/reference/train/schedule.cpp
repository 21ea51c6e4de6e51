// SPDX-License-Identifier: MIT
// fusenet's learning-rate schedules against torch.optim.lr_scheduler over 10 epochs (fixtures from
// gen_train.py).
#include <doctest/doctest.h>

#include <cmath>
#include <fusenet/io/npy.hpp>
#include <fusenet/train/optimizers.hpp>
#include <fusenet/train/schedule.hpp>
#include <string>

namespace {

const std::string dir = std::string(FUSENET_REFERENCE_DIR) + "/train/fixtures/";

// fusenet returns float; torch keeps the lr as a Python double and uses its recursive form, so
// allow 1e-6 relative.
constexpr double rel_tol = 1e-6;

template <class Schedule>
void check_schedule(const Schedule& schedule, const std::string& name) {
  const auto expected = fusenet::io::load_npy<double>(dir + name + ".npy");
  REQUIRE(expected.size() == 10);
  for (std::size_t epoch = 0; epoch < 10; ++epoch) {
    INFO(name << " epoch " << epoch << ": fusenet " << schedule.lr_at(epoch) << ", torch "
              << expected(epoch));
    CHECK(std::abs(schedule.lr_at(epoch) - expected(epoch)) <= rel_tol * expected(epoch));
  }
}

}  // namespace

TEST_CASE("step_lr matches StepLR(step_size=3, gamma=0.5)") {
  check_schedule(fusenet::step_lr{0.1f, 3, 0.5f}, "step_lr");
}

TEST_CASE("cosine_lr matches CosineAnnealingLR(T_max=10, eta_min=1e-3)") {
  check_schedule(fusenet::cosine_lr{0.1f, 10, 1e-3f}, "cosine_lr");
}

TEST_CASE("cosine_lr matches CosineAnnealingLR(T_max=4) past t_max (it rises again)") {
  check_schedule(fusenet::cosine_lr{0.1f, 4, 1e-3f}, "cosine_lr_tmax4");
}

TEST_CASE("apply_schedule sets the optimizer's lr for the epoch") {
  std::vector<float> v(3, 1.0f), g(3, 1.0f);
  fusenet::sgd opt{std::vector<fusenet::param_view>{{"w", v.data(), g.data(), v.size()}},
                   {.lr = 0.1f}};
  const auto expected = fusenet::io::load_npy<double>(dir + "step_lr.npy");
  const fusenet::step_lr schedule{0.1f, 3, 0.5f};
  fusenet::apply_schedule(schedule, opt, 7);
  CHECK(std::abs(opt.lr() - expected(7)) <= rel_tol * expected(7));
  opt.step();  // p -= lr * g with g = 1
  CHECK(std::abs((1.0 - v[0]) - expected(7)) <= 1e-6);
}
