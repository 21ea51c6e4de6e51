// SPDX-License-Identifier: MIT
// Training checkpoints: model, optimizer state and training progress in one safetensors file, to resume a run.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "fusenet/io/error.hpp"
#include "fusenet/io/safetensors.hpp"
#include "fusenet/train/optimizers.hpp"

namespace fusenet {

/// Where a run stands: what a checkpoint stores besides the tensors, so that resuming continues the same run.
struct training_progress {
  std::size_t epoch = 0;          ///< the epoch in progress (0 is the first); every earlier one is complete
  std::size_t step_in_epoch = 0;  ///< optimizer steps already taken in that epoch
  std::size_t global_step = 0;    ///< optimizer steps already taken in the run
  double loss_sum = 0;            ///< the epoch so far: sum of batch loss × batch size
  std::size_t seen = 0;           ///< the epoch so far: samples trained on
  std::size_t correct = 0;        ///< the epoch so far: samples classified correctly
  double seconds = 0;             ///< the epoch so far: training time
  /// Facts of the run that must not change on resume (seed, batch size, data...); load_checkpoint returns them
  /// and the caller compares (see check_run_facts).
  std::map<std::string, std::string> run;
};

namespace detail {
inline constexpr const char* checkpoint_format = "fusenet-checkpoint-1";

// Doubles and counts go into the safetensors metadata (a string map) exactly: hexadecimal floats round-trip.
inline std::string exact_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

inline double parse_double(const std::string& text, const std::string& key, const std::string& path) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size())
    throw file_error(path + ": checkpoint metadata '" + key + "' is '" + text + "', not a number");
  return v;
}

inline std::size_t parse_count(const std::string& text, const std::string& key, const std::string& path) {
  std::size_t v = 0;
  bool ok = !text.empty() && text.size() <= 19;
  for (char c : text) {
    ok = ok && c >= '0' && c <= '9';
    if (ok) v = v * 10 + static_cast<std::size_t>(c - '0');
  }
  if (!ok) throw file_error(path + ": checkpoint metadata '" + key + "' is '" + text + "', not a count");
  return v;
}

inline const std::string& metadata_at(const io::safetensors_file& f, const std::string& key, const std::string& path) {
  const auto it = f.metadata.find(key);
  if (it == f.metadata.end())
    throw file_error(path + ": not a fusenet training checkpoint (metadata '" + key +
                     "' is missing); a weights file from fusenet::save cannot resume training");
  return it->second;
}

template <class Optimizer>
constexpr const char* optimizer_type_name() {
  if constexpr (std::is_same_v<Optimizer, adam>)
    return "adam";
  else if constexpr (std::is_same_v<Optimizer, adamw>)
    return "adamw";
  else if constexpr (std::is_same_v<Optimizer, sgd>)
    return "sgd";
  else
    return nullptr;
}

inline std::vector<std::size_t> param_shape(std::size_t n) { return {n}; }
}  // namespace detail

/// An optimizer whose state a checkpoint can hold: fusenet::adam, adamw or sgd.
template <class Optimizer>
concept checkpointable_optimizer = detail::optimizer_type_name<Optimizer>()
!= nullptr;

/// A wrapper around a checkpointable optimizer (dist::synced_optimizer): its checkpoint is the state of
/// inner(), written by the processes whose writes_checkpoints() is true (one per job) and read by every one.
template <class Optimizer>
concept checkpointable_wrapper = requires(Optimizer& o) {
  { o.writes_checkpoints() } -> std::convertible_to<bool>;
  requires checkpointable_optimizer<std::remove_cvref_t<decltype(o.inner())>>;
};

/// Writes model, optimizer state and progress to `path` (atomically: a temporary file, then rename).
/// Keys: "model.<state_dict key>" for every tensor of the model (as fusenet::save writes them), and the
/// optimizer's state as torch.optim's state_dict lays it out, flattened with dots: for parameter k (the index
/// in model.parameters(), torch's index in the param group) "optimizer.state.<k>.step" (F32 scalar, as torch
/// 1.13 stores it), "optimizer.state.<k>.exp_avg" and ".exp_avg_sq" (Adam, AdamW), or
/// "optimizer.state.<k>.momentum_buffer" (SGD with momentum, once it exists). "optimizer.param_groups.0.lr"
/// holds the current learning rate. Progress, the optimizer's type and hyperparameters and progress.run go
/// into the metadata. Throws file_error naming the path if it cannot be written.
/// Example: examples/fashion_mnist.cpp
template <class Model, checkpointable_optimizer Optimizer>
void save_checkpoint(const std::string& path, Model& m, Optimizer& opt, const training_progress& p) {
  io::safetensors_file file;
  for (const auto& t : m.tensors()) {
    if (t.counter != nullptr) {
      file.tensors["model." + t.name] = io::make_i64_scalar(*t.counter);
    } else {
      std::vector<std::size_t> shape(t.spec.shape.begin(),
                                     t.spec.shape.begin() + static_cast<std::ptrdiff_t>(t.spec.rank));
      file.tensors["model." + t.name] = io::make_f32(shape, t.value);
    }
  }
  const auto& params = opt.parameters();
  for (std::size_t k = 0; k < params.size(); ++k) {
    const std::string key = "optimizer.state." + std::to_string(k) + ".";
    const auto shape = detail::param_shape(params[k].size);
    if constexpr (std::is_same_v<Optimizer, sgd>) {
      if (opt.has_momentum_buffers())
        file.tensors[key + "momentum_buffer"] = io::make_f32(shape, opt.momentum_buffer(k).data());
    } else {
      if (opt.steps() > 0) {
        const float step = static_cast<float>(opt.steps());
        file.tensors[key + "step"] = io::make_f32({}, &step);
        file.tensors[key + "exp_avg"] = io::make_f32(shape, opt.exp_avg(k).data());
        file.tensors[key + "exp_avg_sq"] = io::make_f32(shape, opt.exp_avg_sq(k).data());
      }
    }
  }
  const float lr = opt.lr();
  file.tensors["optimizer.param_groups.0.lr"] = io::make_f32({}, &lr);
  file.metadata["format"] = "pt";
  file.metadata["fusenet.checkpoint"] = detail::checkpoint_format;
  file.metadata["optimizer.type"] = detail::optimizer_type_name<Optimizer>();
  file.metadata["optimizer.hyperparameters"] = opt.hyperparameters();
  if constexpr (!std::is_same_v<Optimizer, sgd>) file.metadata["optimizer.steps"] = std::to_string(opt.steps());
  file.metadata["model.random_state"] = m.random_state();  // dropout's draws continue where they stopped
  file.metadata["progress.epoch"] = std::to_string(p.epoch);
  file.metadata["progress.step_in_epoch"] = std::to_string(p.step_in_epoch);
  file.metadata["progress.global_step"] = std::to_string(p.global_step);
  file.metadata["progress.loss_sum"] = detail::exact_text(p.loss_sum);
  file.metadata["progress.seen"] = std::to_string(p.seen);
  file.metadata["progress.correct"] = std::to_string(p.correct);
  file.metadata["progress.seconds"] = detail::exact_text(p.seconds);
  for (const auto& [k, v] : p.run) file.metadata["run." + k] = v;
  io::write_safetensors(path, file);
}

/// Reads a checkpoint written by save_checkpoint into the model and the optimizer and returns the progress.
/// The file goes through the validating safetensors reader; then every key, dtype and shape is checked against
/// this model and optimizer (the optimizer's type and hyperparameters too) before anything is copied, so on any
/// error (file_error or weights_mismatch naming the file and the key) model and optimizer are unchanged.
/// The learning rate is left to the caller's schedule.
template <class Model, checkpointable_optimizer Optimizer>
training_progress load_checkpoint(const std::string& path, Model& m, Optimizer& opt) {
  const io::safetensors_file file = io::read_safetensors(path);
  if (detail::metadata_at(file, "fusenet.checkpoint", path) != detail::checkpoint_format)
    throw file_error(path + ": checkpoint format '" + file.metadata.at("fusenet.checkpoint") + "', expected '" +
                     detail::checkpoint_format + "'");
  const std::string type = detail::metadata_at(file, "optimizer.type", path);
  if (type != detail::optimizer_type_name<Optimizer>())
    throw weights_mismatch(path + ": the checkpoint holds the state of optimizer '" + type + "', not '" +
                           detail::optimizer_type_name<Optimizer>() + "'");
  const std::string hyper = detail::metadata_at(file, "optimizer.hyperparameters", path);
  if (hyper != opt.hyperparameters())
    throw weights_mismatch(path + ": the checkpoint's optimizer has '" + hyper + "', this one has '" +
                           opt.hyperparameters() + "'");

  training_progress p;
  p.epoch = detail::parse_count(detail::metadata_at(file, "progress.epoch", path), "progress.epoch", path);
  p.step_in_epoch =
      detail::parse_count(detail::metadata_at(file, "progress.step_in_epoch", path), "progress.step_in_epoch", path);
  p.global_step =
      detail::parse_count(detail::metadata_at(file, "progress.global_step", path), "progress.global_step", path);
  p.loss_sum = detail::parse_double(detail::metadata_at(file, "progress.loss_sum", path), "progress.loss_sum", path);
  p.seen = detail::parse_count(detail::metadata_at(file, "progress.seen", path), "progress.seen", path);
  p.correct = detail::parse_count(detail::metadata_at(file, "progress.correct", path), "progress.correct", path);
  p.seconds = detail::parse_double(detail::metadata_at(file, "progress.seconds", path), "progress.seconds", path);
  const std::string random_state = detail::metadata_at(file, "model.random_state", path);
  for (const auto& [k, v] : file.metadata)
    if (k.rfind("run.", 0) == 0) p.run[k.substr(4)] = v;
  std::size_t steps = 0;
  if constexpr (!std::is_same_v<Optimizer, sgd>)
    steps = detail::parse_count(detail::metadata_at(file, "optimizer.steps", path), "optimizer.steps", path);

  // The expected keys: the model's, then the optimizer's for its state.
  auto tensors = m.tensors();
  const auto& params = opt.parameters();
  std::vector<std::string> names;
  for (const auto& t : tensors) names.push_back("model." + t.name);
  bool sgd_started = false;
  if constexpr (std::is_same_v<Optimizer, sgd>) {
    sgd_started = opt.options().momentum != 0.0f && file.tensors.contains("optimizer.state.0.momentum_buffer");
  }
  for (std::size_t k = 0; k < params.size(); ++k) {
    const std::string key = "optimizer.state." + std::to_string(k) + ".";
    if constexpr (std::is_same_v<Optimizer, sgd>) {
      if (sgd_started) names.push_back(key + "momentum_buffer");
    } else if (steps > 0) {
      names.push_back(key + "step");
      names.push_back(key + "exp_avg");
      names.push_back(key + "exp_avg_sq");
    }
  }
  names.push_back("optimizer.param_groups.0.lr");
  io::check_keys(file, names, path);

  // Stage everything, so that a mismatch in the last tensor leaves model and optimizer untouched.
  std::vector<std::vector<float>> staged(tensors.size());
  std::vector<std::int64_t> counters(tensors.size(), 0);
  std::vector<std::vector<float>> first(params.size()), second(params.size());
  try {
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const auto& t = tensors[i];
      const std::string key = "model." + t.name;
      const auto& entry = file.tensors.at(key);
      if (t.counter != nullptr) {
        counters[i] = io::read_i64_scalar(entry, key);
      } else {
        staged[i].resize(t.spec.size());
        io::copy_f32(entry, std::span<const std::size_t>(t.spec.shape.data(), t.spec.rank), staged[i].data(), key);
      }
    }
    for (std::size_t k = 0; k < params.size(); ++k) {
      const std::string key = "optimizer.state." + std::to_string(k) + ".";
      const std::size_t shape[1] = {params[k].size};
      if constexpr (std::is_same_v<Optimizer, sgd>) {
        if (!sgd_started) continue;
        first[k].resize(params[k].size);
        io::copy_f32(file.tensors.at(key + "momentum_buffer"), shape, first[k].data(), key + "momentum_buffer");
      } else {
        if (steps == 0) continue;
        float step = 0;
        io::copy_f32(file.tensors.at(key + "step"), std::span<const std::size_t>{}, &step, key + "step");
        if (static_cast<double>(step) != static_cast<double>(steps))
          throw weights_mismatch("tensor '" + key + "step' is " + std::to_string(step) + ", but optimizer.steps is " +
                                 std::to_string(steps));
        first[k].resize(params[k].size);
        second[k].resize(params[k].size);
        io::copy_f32(file.tensors.at(key + "exp_avg"), shape, first[k].data(), key + "exp_avg");
        io::copy_f32(file.tensors.at(key + "exp_avg_sq"), shape, second[k].data(), key + "exp_avg_sq");
      }
    }
  } catch (const weights_mismatch& e) {
    throw weights_mismatch(path + ": " + e.what());
  }
  {
    std::istringstream in(random_state);
    std::mt19937_64 probe;
    in >> probe;
    if (in.fail() || !(in >> std::ws).eof())
      throw file_error(path + ": checkpoint metadata 'model.random_state' is not a random-generator state");
  }

  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].counter != nullptr)
      *tensors[i].counter = counters[i];
    else
      std::copy(staged[i].begin(), staged[i].end(), tensors[i].value);
  }
  for (std::size_t k = 0; k < params.size(); ++k) {
    if constexpr (std::is_same_v<Optimizer, sgd>) {
      if (sgd_started) std::copy(first[k].begin(), first[k].end(), opt.momentum_buffer(k).begin());
    } else {
      if (steps == 0) {
        std::fill(opt.exp_avg(k).begin(), opt.exp_avg(k).end(), 0.0f);
        std::fill(opt.exp_avg_sq(k).begin(), opt.exp_avg_sq(k).end(), 0.0f);
      } else {
        std::copy(first[k].begin(), first[k].end(), opt.exp_avg(k).begin());
        std::copy(second[k].begin(), second[k].end(), opt.exp_avg_sq(k).begin());
      }
    }
  }
  if constexpr (std::is_same_v<Optimizer, sgd>)
    opt.set_momentum_started(sgd_started);
  else
    opt.set_steps(steps);
  m.set_random_state(random_state);
  return p;
}

/// Throws std::invalid_argument if a fact recorded in a checkpoint differs from the current run's (or is
/// missing), naming the fact, both values and the checkpoint: resuming with another seed or batch size would
/// silently continue a different run.
inline void check_run_facts(const std::map<std::string, std::string>& recorded,
                            const std::map<std::string, std::string>& current, const std::string& path) {
  std::string diff;
  for (const auto& [k, v] : current) {
    const auto it = recorded.find(k);
    if (it == recorded.end())
      diff += "; " + k + " is not recorded";
    else if (it->second != v)
      diff += "; " + k + " was " + it->second + ", now " + v;
  }
  if (!diff.empty()) throw std::invalid_argument(path + ": cannot resume this run with other settings" + diff);
}

}  // namespace fusenet
