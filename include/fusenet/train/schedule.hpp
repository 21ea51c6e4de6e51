// SPDX-License-Identifier: MIT
// Learning-rate schedules in the closed forms of torch.optim.lr_scheduler.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <functional>
#include <numbers>
#include <stdexcept>
#include <string>

namespace fusenet {

/// StepLR: the learning rate is multiplied by gamma every step_size epochs.
struct step_lr {
  float base_lr;
  std::size_t step_size;
  float gamma = 0.1f;

  /// Learning rate for `epoch` (0 is the first epoch): base_lr * gamma^(epoch / step_size).
  [[nodiscard]] float lr_at(std::size_t epoch) const {
    if (step_size == 0) throw std::invalid_argument("fusenet: step_lr: step_size must be positive");
    // Computed in double like PyTorch's closed form (Python floats), rounded once at the end.
    const double decays = static_cast<double>(epoch / step_size);
    return static_cast<float>(static_cast<double>(base_lr) *
                              std::pow(static_cast<double>(gamma), decays));
  }
};

/// CosineAnnealingLR: half a cosine from base_lr down to eta_min over t_max epochs (then back up,
/// periodically).
struct cosine_lr {
  float base_lr;
  std::size_t t_max;
  float eta_min = 0.0f;

  /// Learning rate for `epoch`: eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2.
  [[nodiscard]] float lr_at(std::size_t epoch) const {
    if (t_max == 0) throw std::invalid_argument("fusenet: cosine_lr: t_max must be positive");
    const double lo = eta_min;
    const double hi = base_lr;
    const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max);
    return static_cast<float>(lo + (hi - lo) * (1.0 + std::cos(phase)) / 2.0);
  }
};

/// A schedule: maps an epoch index to a learning rate.
template <class Schedule>
concept lr_schedule = requires(const Schedule& s, std::size_t epoch) {
  { s.lr_at(epoch) } -> std::convertible_to<float>;
};

/// ConstantLR with factor 1: base_lr at every epoch.
struct constant_lr {
  float base_lr;
  /// Learning rate for `epoch`: base_lr.
  [[nodiscard]] float lr_at(std::size_t) const { return base_lr; }
};

/// Where training is when a per-step schedule is asked for a learning rate.
struct schedule_point {
  std::size_t epoch = 0;            ///< 0 is the first epoch
  std::size_t step_in_epoch = 0;    ///< optimizer steps already taken in this epoch
  std::size_t steps_per_epoch = 0;  ///< optimizer steps in this epoch
  std::size_t global_step = 0;      ///< optimizer steps already taken since the start of training
};

/// A schedule asked before every optimizer step.
template <class Schedule>
concept step_schedule = requires(const Schedule& s, const schedule_point& p) {
  { s.lr_at(p) } -> std::convertible_to<float>;
};

/// Linear warmup composed with an epoch schedule: lr = after.lr_at(epoch) * f, where f grows linearly from
/// start_factor at global step 0 to 1 at global step warmup_steps and stays 1 after, as torch's
/// LinearLR(start_factor, total_iters = warmup_steps) stepped once per optimizer step and chained with `after`
/// stepped per epoch (ChainedScheduler multiplies their factors). torch's default start_factor is 1/3.
/// Example: `fusenet::linear_warmup<fusenet::cosine_lr>{{1e-3f, epochs}, 500}`
template <lr_schedule After>
struct linear_warmup {
  After after;
  std::size_t warmup_steps;
  float start_factor = 1.0f / 3.0f;

  /// Learning rate before the optimizer step at `p`.
  [[nodiscard]] float lr_at(const schedule_point& p) const {
    if (!(start_factor > 0.0f && start_factor <= 1.0f))
      throw std::invalid_argument("fusenet: linear_warmup: start_factor must be in (0, 1], got " +
                                  std::to_string(start_factor));
    const double base = static_cast<double>(after.lr_at(p.epoch));
    if (warmup_steps == 0 || p.global_step >= warmup_steps) return static_cast<float>(base);
    const double f = static_cast<double>(start_factor) + (1.0 - static_cast<double>(start_factor)) *
                                                            static_cast<double>(p.global_step) /
                                                            static_cast<double>(warmup_steps);
    return static_cast<float>(base * f);
  }
};

/// A learning rate for every optimizer step, from either kind of schedule: an epoch schedule (lr_at(epoch)) is
/// asked with the step's epoch, a step schedule (lr_at(schedule_point)) with the point itself.
using step_lr_function = std::function<float(const schedule_point&)>;

/// Wraps a schedule of either kind as a step_lr_function (for fit_options::schedule).
template <class Schedule>
  requires lr_schedule<Schedule> || step_schedule<Schedule>
step_lr_function every_step(Schedule s) {
  if constexpr (step_schedule<Schedule>) {
    return [s](const schedule_point& p) { return static_cast<float>(s.lr_at(p)); };
  } else {
    return [s](const schedule_point& p) { return static_cast<float>(s.lr_at(p.epoch)); };
  }
}

/// Sets the optimizer's learning rate to the schedule's value for `epoch`; call it at the start of
/// each epoch. Example: `fusenet::apply_schedule(fusenet::cosine_lr{1e-3f, 10}, opt, epoch);`
template <lr_schedule Schedule, class Optimizer>
requires requires(Optimizer& o, float lr) { o.set_lr(lr); }
void apply_schedule(const Schedule& schedule, Optimizer& opt, std::size_t epoch) {
  opt.set_lr(schedule.lr_at(epoch));
}

}  // namespace fusenet
