// SPDX-License-Identifier: MIT
// fusenet::fit and fusenet::evaluate: the training loop every classifier needs, with per-epoch metrics, a CSV
// log, a progress bar, callbacks, learning-rate schedules, checkpoints that resume, and clean stops on
// non-finite losses and on SIGINT/SIGTERM.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

#include "fusenet/check_finite.hpp"
#include "fusenet/data/batches.hpp"
#include "fusenet/io/error.hpp"
#include "fusenet/train/checkpoint.hpp"
#include "fusenet/train/losses.hpp"
#include "fusenet/train/progress.hpp"
#include "fusenet/train/schedule.hpp"

namespace fusenet {

/// Batches of (inputs, integer labels) per epoch: start_epoch(e) fixes epoch e's order, num_batches() counts
/// them, load(b, x, y) fills batch b. The order must depend only on the epoch, so that a run can resume.
template <class Batches, class X, class Y>
concept batch_source = requires(Batches& b, std::uint64_t epoch, std::size_t i, X& x, Y& y) {
  b.start_epoch(epoch);
  { b.num_batches() } -> std::convertible_to<std::size_t>;
  b.load(i, x, y);
};

/// The first `limit` samples of an image dataset in batches: shuffled per (seed, epoch) for training, or in
/// order for evaluation. Requires: the dataset outlives this object.
/// Example: examples/fashion_mnist.cpp
class dataset_batches {
 public:
  dataset_batches(const data::dataset& d, data::batch_options options,
                  std::size_t limit = std::numeric_limits<std::size_t>::max())
      : data_(&d), sampler_(std::min(limit, d.size()), options), size_(std::min(limit, d.size())) {}
  /// The same batches, in order, with the short last batch kept: what evaluate wants.
  static dataset_batches in_order(const data::dataset& d, std::size_t batch_size,
                                  std::size_t limit = std::numeric_limits<std::size_t>::max()) {
    return dataset_batches(d, {.batch_size = batch_size, .shuffle = false, .last = data::last_batch::keep}, limit);
  }
  void start_epoch(std::uint64_t epoch) { sampler_.start_epoch(epoch); }
  [[nodiscard]] std::size_t num_batches() const { return sampler_.num_batches(); }
  template <class Label>
  void load(std::size_t b, xt::xtensor<float, 4>& x, xt::xtensor<Label, 1>& y) const {
    data::gather(*data_, sampler_.batch(b), x, y);
  }
  /// Samples used per epoch (before the last-batch policy).
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  const data::dataset* data_;
  data::batch_sampler sampler_;
  std::size_t size_;
};

/// Mean cross-entropy and accuracy of a classifier on some batches.
struct eval_result {
  double loss = 0;
  double accuracy = 0;
  std::size_t samples = 0;
};

namespace detail {
template <class Logits, class Labels>
std::size_t count_correct(const Logits& logits, const Labels& y) {
  std::size_t correct = 0;
  const std::size_t n = logits.shape()[0], classes = logits.shape()[1];
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t best = 0;
    for (std::size_t c = 1; c < classes; ++c)
      if (logits(i, c) > logits(i, best)) best = c;
    correct += best == static_cast<std::size_t>(y(i)) ? 1 : 0;
  }
  return correct;
}
}  // namespace detail

/// Evaluates a classifier (a train model through eval_forward, with running statistics; an infer model through
/// forward) on every batch of `batches`, epoch 0's order.
template <class Model, class Batches>
eval_result evaluate(Model& m, Batches& batches) {
  typename Model::input_tensor x;
  xt::xtensor<std::int64_t, 1> y;
  eval_result r;
  double loss_sum = 0;
  std::size_t correct = 0;
  batches.start_epoch(0);
  for (std::size_t b = 0; b < batches.num_batches(); ++b) {
    batches.load(b, x, y);
    typename Model::output_tensor logits;
    if constexpr (requires { m.eval_forward(x); })
      logits = m.eval_forward(x);
    else
      logits = m.forward(x);
    loss_sum += static_cast<double>(cross_entropy(logits, y).loss) * static_cast<double>(y.size());
    correct += detail::count_correct(logits, y);
    r.samples += y.size();
  }
  if (r.samples == 0) throw std::invalid_argument("fusenet: evaluate: the batches hold no sample");
  r.loss = loss_sum / static_cast<double>(r.samples);
  r.accuracy = static_cast<double>(correct) / static_cast<double>(r.samples);
  return r;
}

/// The metrics of one completed epoch.
struct epoch_metrics {
  std::size_t epoch = 0;      ///< 1-based
  std::size_t steps = 0;      ///< optimizer steps since the start of the run, at the end of this epoch
  double lr = 0;              ///< learning rate of the epoch's last step
  double train_loss = 0;      ///< mean over the epoch's samples, in training mode (batch statistics)
  double train_accuracy = 0;  ///< likewise
  double seconds = 0;         ///< training time of the epoch (forward, backward, update), without validation
  bool validated = false;     ///< whether test_loss / test_accuracy hold fit_options::validate's result
  double test_loss = 0;
  double test_accuracy = 0;
};

/// Where training is after an optimizer step, for fit_options::on_steps.
struct step_info {
  std::size_t epoch = 0;          ///< 0-based
  std::size_t step_in_epoch = 0;  ///< steps done in this epoch
  std::size_t steps_per_epoch = 0;
  std::size_t global_step = 0;  ///< steps done in the run
  double lr = 0;
  double loss = 0;  ///< this step's batch loss
};

/// What a callback wants next.
enum class callback_action { keep_going, stop };

/// Whether fit draws a progress bar on stderr: when stderr is a terminal (automatic), never, or always.
enum class progress_mode { automatic, off, on };

/// Options of fusenet::fit.
struct fit_options {
  std::size_t epochs = 1;  ///< total epochs of the run (a resumed run counts the ones already done)
  /// Learning rate before every step (see every_step in schedule.hpp); empty: the optimizer's lr throughout.
  step_lr_function schedule{};
  /// Called after every epoch for the test metrics (e.g. evaluate on a held-out set); empty: none.
  std::function<eval_result()> validate{};
  /// CSV log, one row per epoch, flushed after each (see csv_header); empty: none. A fresh run rewrites the
  /// file; a resumed run keeps the rows of the epochs the checkpoint completed and appends.
  std::string log_path{};
  /// Training checkpoint (save_checkpoint), written after every epoch and on SIGINT/SIGTERM; empty: written
  /// only on a signal, to interrupt_path.
  std::string checkpoint_path{};
  /// Where a signal's checkpoint goes when checkpoint_path is empty; empty too: no checkpoint on a signal.
  std::string interrupt_path{};
  /// Progress loaded by load_checkpoint: the run continues from that epoch and step, with its epoch sums.
  std::optional<training_progress> resume{};
  /// Facts written into every checkpoint (seed, batch size...), for check_run_facts on resume.
  std::map<std::string, std::string> run_facts{};
  progress_mode progress = progress_mode::automatic;
  /// One line per epoch goes here; nullptr: quiet.
  std::FILE* report = stdout;
  /// Catch SIGINT and SIGTERM during fit: finish the step, write the checkpoint, return interrupted.
  bool handle_signals = true;
  /// Called after every epoch, after the log row; returning stop ends the run (stop_reason::callback).
  std::vector<std::function<callback_action(const epoch_metrics&)>> on_epoch_end{};
  /// on_steps is called after every `every_steps` optimizer steps (counted over the run); 0: never.
  std::size_t every_steps = 0;
  std::function<callback_action(const step_info&)> on_steps{};
};

/// Why fit returned.
enum class stop_reason {
  completed,           ///< every epoch ran
  non_finite_loss,     ///< a loss was NaN or infinite; that step's update was not applied
  non_finite_weights,  ///< after an epoch, a stored value was NaN or infinite
  interrupted,         ///< SIGINT or SIGTERM; the checkpoint (if any path) holds the state after the last step
  callback,            ///< a callback returned stop
};

/// What fit did.
struct fit_result {
  stop_reason reason = stop_reason::completed;
  std::vector<epoch_metrics> history;  ///< the epochs this call completed
  std::size_t epoch = 0;               ///< non-finite loss / interruption: 1-based epoch
  std::size_t step = 0;                ///< non-finite loss: 1-based step; interruption: steps done in the epoch
  std::size_t steps_per_epoch = 0;
  float loss = 0;              ///< the non-finite loss
  std::string problem;         ///< non-finite weights: find_non_finite's description
  int signal = 0;              ///< interruption: SIGINT or SIGTERM
  std::string checkpoint;      ///< interruption: the checkpoint written (empty: none)
  training_progress progress;  ///< where the run stands when fit returns
};

/// The CSV log's header: one row per epoch, test_* empty when there is no validation.
inline constexpr const char* csv_header = "epoch,steps,lr,train_loss,train_accuracy,test_loss,test_accuracy,seconds";

namespace detail {

inline volatile std::sig_atomic_t pending_signal = 0;

extern "C" inline void fit_signal_handler(int signo) {
  pending_signal = signo;
  std::signal(signo, SIG_DFL);  // a second signal stops at once
}

/// Installs the handler for SIGINT and SIGTERM for its lifetime, restoring the previous ones after.
class signal_guard {
 public:
  explicit signal_guard(bool active) : active_(active) {
    if (!active_) return;
    pending_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = &fit_signal_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~signal_guard() {
    if (!active_) return;
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  signal_guard(const signal_guard&) = delete;
  signal_guard& operator=(const signal_guard&) = delete;
  [[nodiscard]] int pending() const { return active_ ? static_cast<int>(pending_signal) : 0; }

 private:
  bool active_;
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

inline std::string csv_number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

/// Opens the CSV log: a fresh file with the header, or (resuming after `done_epochs` epochs) the existing file
/// cut back to its header and the rows of those epochs.
inline std::ofstream open_csv_log(const std::string& path, std::size_t done_epochs, bool resuming) {
  std::vector<std::string> keep;
  if (resuming) {
    std::ifstream in(path);
    std::string line;
    if (in && std::getline(in, line)) {
      if (line != csv_header)
        throw file_error(path + ": the log to continue has the header '" + line + "', expected '" + csv_header +
                         "'; pass another log path");
      while (std::getline(in, line)) {
        const std::size_t epoch = std::strtoull(line.c_str(), nullptr, 10);
        if (epoch >= 1 && epoch <= done_epochs) keep.push_back(line);
      }
    }
  }
  std::ofstream out(path, std::ios::trunc);
  if (!out) throw file_error("cannot write the log file " + path);
  out << csv_header << '\n';
  for (const auto& l : keep) out << l << '\n';
  out.flush();
  return out;
}

}  // namespace detail

/// Trains a classifier with cross-entropy: for each epoch, every batch of `train` (forward, loss, backward,
/// optimizer step), then validation, the report line, the CSV row, the callbacks and the checkpoint.
/// A NaN or infinite loss stops before that step's update (non_finite_loss, naming epoch and step); a NaN or
/// infinite weight after an epoch stops before anything is saved (non_finite_weights). With handle_signals, a
/// SIGINT or SIGTERM lets the current step finish, writes the checkpoint (checkpoint_path, else
/// interrupt_path) and returns interrupted; the caller reports it and exits (130 / 143 by convention).
/// Resuming from a checkpoint of the same run (same data order, seed and thread count) gives bit-identical
/// weights to the uninterrupted run, for networks without dropout (the model's dropout generator is not part
/// of its public state, so a checkpoint cannot hold it). A checkpointable_wrapper optimizer
/// (dist::synced_optimizer) checkpoints its inner() optimizer, written only where writes_checkpoints().
/// Requires: the optimizer was built on m's parameters.
/// Example: examples/fashion_mnist.cpp
template <class Model, class Optimizer, class Batches>
requires batch_source<Batches, typename Model::input_tensor, xt::xtensor<std::int64_t, 1>> fit_result
fit(Model& m, Optimizer& opt, Batches& train, const fit_options& o) {
  using clock = std::chrono::steady_clock;
  if constexpr (!checkpointable_optimizer<Optimizer> && !checkpointable_wrapper<Optimizer>) {
    if (!o.checkpoint_path.empty() || !o.interrupt_path.empty())
      throw std::invalid_argument("fusenet: fit: checkpoints need an adam, adamw or sgd optimizer");
  }
  fit_result r;
  training_progress p = o.resume.value_or(training_progress{});
  p.run = o.run_facts;
  if (p.epoch > o.epochs || (p.epoch == o.epochs && p.step_in_epoch > 0))
    throw std::invalid_argument("fusenet: fit: the checkpoint is at epoch " + std::to_string(p.epoch + 1) +
                                ", past the run's " + std::to_string(o.epochs) + " epochs; ask for more epochs");
  std::ofstream log;
  if (!o.log_path.empty()) log = detail::open_csv_log(o.log_path, p.epoch, o.resume.has_value());
  const bool show =
      o.progress == progress_mode::on || (o.progress == progress_mode::automatic && progress_bar::is_terminal(stderr));
  progress_bar bar(stderr, show);
  detail::signal_guard signals(o.handle_signals);

  const auto write_checkpoint = [&](const std::string& path) {
    if constexpr (checkpointable_optimizer<Optimizer>)
      save_checkpoint(path, m, opt, p);
    else if constexpr (checkpointable_wrapper<Optimizer>)  // data-parallel: one process writes for all
      if (opt.writes_checkpoints()) save_checkpoint(path, m, opt.inner(), p);
  };
  const auto interrupted = [&](int signo, std::size_t steps_per_epoch) {
    bar.clear();
    r.reason = stop_reason::interrupted;
    r.signal = signo;
    r.epoch = p.epoch + 1;
    r.step = p.step_in_epoch;
    r.steps_per_epoch = steps_per_epoch;
    const std::string& path = o.checkpoint_path.empty() ? o.interrupt_path : o.checkpoint_path;
    if (!path.empty()) {
      write_checkpoint(path);
      r.checkpoint = path;
    }
    r.progress = p;
    return r;
  };

  typename Model::input_tensor x;
  xt::xtensor<std::int64_t, 1> y;
  while (p.epoch < o.epochs) {
    train.start_epoch(p.epoch);
    const std::size_t batches = train.num_batches();
    if (batches == 0)
      throw std::invalid_argument("fusenet: fit: epoch " + std::to_string(p.epoch + 1) + " has no batch");
    if (const int s = signals.pending()) return interrupted(s, batches);
    auto t0 = clock::now() - std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(p.seconds));
    const auto elapsed = [&] { return std::chrono::duration<double>(clock::now() - t0).count(); };
    // The rate of the last step taken, for the epoch's row (a resumed epoch may have no step left to take).
    double lr = o.schedule && p.step_in_epoch > 0
                    ? o.schedule(schedule_point{p.epoch, p.step_in_epoch - 1, batches, p.global_step - 1})
                    : opt.lr();
    for (std::size_t b = p.step_in_epoch; b < batches; ++b) {
      if (o.schedule) {
        lr = o.schedule(schedule_point{p.epoch, b, batches, p.global_step});
        opt.set_lr(static_cast<float>(lr));
      }
      train.load(b, x, y);
      const auto logits = m.forward(x);
      auto [loss, dlogits] = cross_entropy(logits, y);
      if (!std::isfinite(loss)) {
        bar.clear();
        r.reason = stop_reason::non_finite_loss;
        r.epoch = p.epoch + 1;
        r.step = b + 1;
        r.steps_per_epoch = batches;
        r.loss = loss;
        r.progress = p;
        return r;
      }
      m.zero_grad();
      m.backward(dlogits);
      opt.step();
      const std::size_t bs = y.size();
      p.loss_sum += static_cast<double>(loss) * static_cast<double>(bs);
      p.seen += bs;
      p.correct += detail::count_correct(logits, y);
      p.step_in_epoch = b + 1;
      ++p.global_step;
      p.seconds = elapsed();
      if (bar.enabled() && (b % 10 == 0 || b + 1 == batches)) {
        const double rate = static_cast<double>(p.seen) / std::max(p.seconds, 1e-9);
        const double per_step = p.seconds / static_cast<double>(b + 1);
        bar.draw({p.epoch + 1, o.epochs, b + 1, batches, rate, p.loss_sum / static_cast<double>(p.seen),
                  per_step * static_cast<double>(batches - b - 1)});
      }
      if (o.every_steps > 0 && o.on_steps && p.global_step % o.every_steps == 0) {
        const auto before = clock::now();
        const auto action = o.on_steps({p.epoch, b + 1, batches, p.global_step, lr, static_cast<double>(loss)});
        t0 += clock::now() - before;  // what the callback spends is not training time
        if (action == callback_action::stop) {
          bar.clear();
          r.reason = stop_reason::callback;
          r.progress = p;
          return r;
        }
      }
      if (const int s = signals.pending()) return interrupted(s, batches);
    }
    bar.clear();
    const double seconds = p.seconds;
    if (const auto bad = find_non_finite(m)) {
      r.reason = stop_reason::non_finite_weights;
      r.epoch = p.epoch + 1;
      r.problem = *bad;
      r.progress = p;
      return r;
    }
    epoch_metrics e;
    e.epoch = p.epoch + 1;
    e.steps = p.global_step;
    e.lr = lr;
    e.train_loss = p.loss_sum / static_cast<double>(std::max<std::size_t>(p.seen, 1));
    e.train_accuracy = static_cast<double>(p.correct) / static_cast<double>(std::max<std::size_t>(p.seen, 1));
    e.seconds = seconds;
    if (o.validate) {
      const eval_result v = o.validate();
      e.validated = true;
      e.test_loss = v.loss;
      e.test_accuracy = v.accuracy;
    }
    if (o.report != nullptr) {
      std::fprintf(o.report, "epoch %zu  train loss %.4f  train accuracy %.4f", e.epoch, e.train_loss,
                   e.train_accuracy);
      if (e.validated) std::fprintf(o.report, "  test accuracy %.4f", e.test_accuracy);
      std::fprintf(o.report, "  lr %.3g  %.1f s\n", e.lr, e.seconds);
      std::fflush(o.report);
    }
    if (log.is_open()) {
      log << e.epoch << ',' << e.steps << ',' << detail::csv_number(e.lr) << ',' << detail::csv_number(e.train_loss)
          << ',' << detail::csv_number(e.train_accuracy) << ',' << (e.validated ? detail::csv_number(e.test_loss) : "")
          << ',' << (e.validated ? detail::csv_number(e.test_accuracy) : "") << ',' << detail::csv_number(e.seconds)
          << '\n';
      log.flush();
      if (!log) throw file_error("cannot write the log file " + o.log_path);
    }
    r.history.push_back(e);
    // The epoch is complete: the progress moves to the start of the next one before any checkpoint.
    p = training_progress{p.epoch + 1, 0, p.global_step, 0, 0, 0, 0, p.run};
    bool stop = false;
    for (const auto& cb : o.on_epoch_end) stop = cb(e) == callback_action::stop || stop;
    if (!o.checkpoint_path.empty()) write_checkpoint(o.checkpoint_path);
    if (stop) {
      r.reason = stop_reason::callback;
      r.progress = p;
      return r;
    }
  }
  r.progress = p;
  return r;
}

}  // namespace fusenet
