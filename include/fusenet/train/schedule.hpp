// SPDX-License-Identifier: MIT
// Learning-rate schedules in the closed forms of torch.optim.lr_scheduler.
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
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

/// Sets the optimizer's learning rate to the schedule's value for `epoch`; call it at the start of
/// each epoch. Example: `fusenet::apply_schedule(fusenet::cosine_lr{1e-3f, 10}, opt, epoch);`
template <lr_schedule Schedule, class Optimizer>
requires requires(Optimizer& o, float lr) { o.set_lr(lr); }
void apply_schedule(const Schedule& schedule, Optimizer& opt, std::size_t epoch) {
  opt.set_lr(schedule.lr_at(epoch));
}

}  // namespace fusenet
