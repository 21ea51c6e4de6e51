// SPDX-License-Identifier: MIT
// fusenet::fit, evaluate and training checkpoints on a small synthetic dataset: resuming after k steps or epochs
// (from a checkpoint written at an epoch end, on a step callback, or on SIGINT) of a network with dropout gives
// bit-identical weights,
// optimizer state and metrics to the uninterrupted run, for Adam and SGD with momentum; the CSV log's format and
// its flush after every epoch; bad checkpoints give clear errors and change nothing; the progress line's width;
// linear warmup against torch's recursive LinearLR; scale_weights.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <fusenet/fusenet.hpp>
#include <fusenet/train/checkpoint.hpp>
#include <fusenet/train/fit.hpp>
#include <fusenet/train/weight_scale.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "io/scratch.hpp"

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

// With dropout: a resumed run must also continue the model's random draws where they stopped.
using net = fn::sequential<input<1, 8, 8>, conv2d<4, 3, padding<1>>, batch_norm, relu, max_pool<2>, flatten, dense<16>,
                           batch_norm, relu, dropout, dense<3>>;
using other_net = fn::sequential<input<1, 8, 8>, conv2d<2, 3, padding<1>>, relu, flatten, dense<3>>;
using train_model = fn::model<net, fn::mode::train>;

// 3 classes: which third of the image (left, middle, right columns) is brightest, plus noise.
fn::data::dataset synthetic(std::size_t n, std::uint32_t seed) {
  fn::data::dataset d;
  d.images = xt::xtensor<float, 4>::from_shape({n, 1, 8, 8});
  d.labels = xt::xtensor<std::uint8_t, 1>::from_shape({n});
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 0.5f);
  for (std::size_t i = 0; i < n; ++i) {
    const auto label = static_cast<std::uint8_t>(rng() % 3);
    d.labels(i) = label;
    for (std::size_t r = 0; r < 8; ++r)
      for (std::size_t c = 0; c < 8; ++c) d.images(i, 0, r, c) = u(rng) + (c * 3 / 8 == label ? 0.5f : 0.0f);
  }
  return d;
}

const fn::data::dataset& data() {
  static const fn::data::dataset d = synthetic(100, 7);  // 100 = 6 batches of 16 and one of 4
  return d;
}

struct state {
  std::vector<std::string> names;
  std::vector<std::vector<unsigned char>> bytes;
  bool operator==(const state&) const = default;
};

state take(train_model& m) {
  state s;
  for (const auto& t : m.tensors()) {
    const auto* p = t.counter != nullptr ? static_cast<const void*>(t.counter) : static_cast<const void*>(t.value);
    const std::size_t size = t.counter != nullptr ? sizeof(std::int64_t) : t.spec.size() * sizeof(float);
    s.names.push_back(t.name);
    s.bytes.emplace_back(static_cast<const unsigned char*>(p), static_cast<const unsigned char*>(p) + size);
  }
  return s;
}

template <class Opt>
state take_opt(Opt& o) {
  state s;
  for (std::size_t k = 0; k < o.parameters().size(); ++k) {
    std::vector<std::span<float>> parts;
    if constexpr (std::is_same_v<Opt, fn::sgd>) {
      parts = {o.momentum_buffer(k)};
    } else {
      parts = {o.exp_avg(k), o.exp_avg_sq(k)};
    }
    for (auto sp : parts) {
      s.names.push_back(o.parameters()[k].name);
      const auto* p = reinterpret_cast<const unsigned char*>(sp.data());
      s.bytes.emplace_back(p, p + sp.size() * sizeof(float));
    }
  }
  return s;
}

fn::fit_options base_options(std::size_t epochs) {
  fn::fit_options o;
  o.epochs = epochs;
  o.report = nullptr;
  o.progress = fn::progress_mode::off;
  o.schedule = fn::every_step(fn::linear_warmup<fn::cosine_lr>{{1e-2f, epochs}, 10});
  o.run_facts = {{"seed", "3"}};
  return o;
}

fn::dataset_batches batches() { return fn::dataset_batches{data(), {.batch_size = 16, .seed = 11}}; }

template <class Opt>
Opt make_opt(train_model& m) {
  if constexpr (std::is_same_v<Opt, fn::sgd>) {
    return Opt{m, {.lr = 1e-2f, .momentum = 0.9f}};
  } else {
    return Opt{m, {.lr = 1e-2f}};
  }
}

template <class Opt>
struct run {
  state weights, moments;
  std::vector<fn::epoch_metrics> history;
};

template <class Opt>
run<Opt> uninterrupted(std::size_t epochs) {
  train_model m{3};
  Opt opt = make_opt<Opt>(m);
  auto b = batches();
  auto o = base_options(epochs);
  auto eval_batches = fn::dataset_batches::in_order(data(), 50);
  o.validate = [&] { return fn::evaluate(m, eval_batches); };
  const auto r = fn::fit(m, opt, b, o);
  REQUIRE(r.reason == fn::stop_reason::completed);
  return {take(m), take_opt(opt), r.history};
}

void same_metrics(const fn::epoch_metrics& a, const fn::epoch_metrics& b) {
  CHECK(a.epoch == b.epoch);
  CHECK(a.steps == b.steps);
  CHECK(a.lr == b.lr);
  CHECK(a.train_loss == b.train_loss);
  CHECK(a.train_accuracy == b.train_accuracy);
  CHECK(a.test_loss == b.test_loss);
  CHECK(a.test_accuracy == b.test_accuracy);
}

// Trains until `stop_after` global steps (the step callback stops there), saves a checkpoint, then resumes in a
// fresh model built from another seed and a fresh optimizer, and returns the resumed run's final state.
template <class Opt>
run<Opt> resumed_after_steps(std::size_t epochs, std::size_t stop_after, const std::string& path) {
  std::vector<fn::epoch_metrics> history;
  {
    train_model m{3};
    Opt opt = make_opt<Opt>(m);
    auto b = batches();
    auto o = base_options(epochs);
    auto eval_batches = fn::dataset_batches::in_order(data(), 50);
    o.validate = [&] { return fn::evaluate(m, eval_batches); };
    o.every_steps = 1;
    o.on_steps = [&](const fn::step_info& s) {
      return s.global_step == stop_after ? fn::callback_action::stop : fn::callback_action::keep_going;
    };
    const auto r = fn::fit(m, opt, b, o);
    REQUIRE(r.reason == fn::stop_reason::callback);
    REQUIRE(r.progress.global_step == stop_after);
    fn::save_checkpoint(path, m, opt, r.progress);
    history = r.history;
  }
  train_model m{99};  // another init: everything must come from the checkpoint
  Opt opt = make_opt<Opt>(m);
  auto o = base_options(epochs);
  o.resume = fn::load_checkpoint(path, m, opt);
  CHECK(o.resume->global_step == stop_after);
  CHECK(o.resume->run.at("seed") == "3");
  auto b = batches();
  auto eval_batches = fn::dataset_batches::in_order(data(), 50);
  o.validate = [&] { return fn::evaluate(m, eval_batches); };
  const auto r = fn::fit(m, opt, b, o);
  REQUIRE(r.reason == fn::stop_reason::completed);
  history.insert(history.end(), r.history.begin(), r.history.end());
  return {take(m), take_opt(opt), history};
}

}  // namespace

TEST_CASE_TEMPLATE("fit: resuming after k steps equals the uninterrupted run bit for bit", Opt, fn::adam, fn::sgd) {
  const auto full = uninterrupted<Opt>(3);
  REQUIRE(full.history.size() == 3);
  CHECK(full.history.back().train_accuracy > 0.6);  // it learns (chance is 1/3)
  fn::test::scratch_dir dir;
  // 7 steps per epoch: 3 stops mid-epoch 1, 7 at the end of epoch 1 (before its validation), 12 mid-epoch 2.
  for (std::size_t k : {std::size_t{3}, std::size_t{7}, std::size_t{12}}) {
    CAPTURE(k);
    const auto resumed = resumed_after_steps<Opt>(3, k, dir / "ck.safetensors");
    CHECK(resumed.weights == full.weights);
    CHECK(resumed.moments == full.moments);
    REQUIRE(resumed.history.size() == full.history.size());
    for (std::size_t e = 0; e < full.history.size(); ++e) same_metrics(resumed.history[e], full.history[e]);
  }
}

TEST_CASE("fit: SIGINT finishes the step, writes the checkpoint, and a resume equals the uninterrupted run") {
  const auto full = uninterrupted<fn::adam>(2);
  fn::test::scratch_dir dir;
  const std::string path = dir / "interrupted.safetensors";
  train_model m{3};
  fn::adam opt{m, {.lr = 1e-2f}};
  auto b = batches();
  auto o = base_options(2);
  auto eval_batches = fn::dataset_batches::in_order(data(), 50);
  o.validate = [&] { return fn::evaluate(m, eval_batches); };
  o.interrupt_path = path;
  o.every_steps = 1;
  o.on_steps = [](const fn::step_info& s) {
    if (s.global_step == 4) std::raise(SIGINT);  // arrives during step 4's bookkeeping, as a Ctrl-C would
    return fn::callback_action::keep_going;
  };
  struct sigaction before_fit {};
  sigaction(SIGINT, nullptr, &before_fit);
  const auto r = fn::fit(m, opt, b, o);
  REQUIRE(r.reason == fn::stop_reason::interrupted);
  CHECK(r.signal == SIGINT);
  CHECK(r.checkpoint == path);
  CHECK(r.epoch == 1);
  CHECK(r.step == 4);
  CHECK(opt.steps() == 4);
  // fit's handler is removed after it: the one before (doctest's) is back.
  struct sigaction now {};
  sigaction(SIGINT, nullptr, &now);
  CHECK((now.sa_handler == before_fit.sa_handler));

  train_model resumed{5};
  fn::adam opt2{resumed, {.lr = 1e-2f}};
  auto o2 = base_options(2);
  o2.resume = fn::load_checkpoint(path, resumed, opt2);
  auto eval2 = fn::dataset_batches::in_order(data(), 50);
  o2.validate = [&] { return fn::evaluate(resumed, eval2); };
  auto b2 = batches();
  REQUIRE(fn::fit(resumed, opt2, b2, o2).reason == fn::stop_reason::completed);
  CHECK(take(resumed) == full.weights);
  CHECK(take_opt(opt2) == full.moments);
}

TEST_CASE("fit: the CSV log has the header and one row per epoch, flushed before the epoch-end callbacks") {
  fn::test::scratch_dir dir;
  const std::string log = dir / "log.csv";
  train_model m{3};
  fn::adam opt{m, {.lr = 1e-2f}};
  auto b = batches();
  auto o = base_options(3);
  auto eval_batches = fn::dataset_batches::in_order(data(), 50);
  o.validate = [&] { return fn::evaluate(m, eval_batches); };
  o.log_path = log;
  std::vector<std::size_t> rows_seen;
  o.on_epoch_end.push_back([&](const fn::epoch_metrics&) {
    std::ifstream in(log);  // another reader sees the row already: it was flushed
    std::size_t lines = 0;
    for (std::string l; std::getline(in, l);) ++lines;
    rows_seen.push_back(lines - 1);
    return fn::callback_action::keep_going;
  });
  const auto r = fn::fit(m, opt, b, o);
  CHECK(rows_seen == std::vector<std::size_t>{1, 2, 3});
  std::ifstream in(log);
  std::string header;
  std::getline(in, header);
  CHECK(header == "epoch,steps,lr,train_loss,train_accuracy,test_loss,test_accuracy,seconds");
  for (std::size_t e = 0; e < 3; ++e) {
    std::string line;
    REQUIRE(std::getline(in, line));
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    REQUIRE(f.size() == 8);
    const auto& h = r.history[e];
    CHECK(std::stoul(f[0]) == e + 1);
    CHECK(std::stoul(f[1]) == 7 * (e + 1));  // 100 samples in batches of 16: 6 full and one of 4
    // The lr of the epoch's last step (global step 7e + 6), from torch's closed forms: cosine at epoch e times
    // LinearLR's factor over 10 warmup steps from 1/3.
    const double cosine = 1e-2 * (1 + std::cos(3.141592653589793 * static_cast<double>(e) / 3.0)) / 2;
    const double warm = std::min(1.0, 1.0 / 3.0 + (2.0 / 3.0) * static_cast<double>(7 * e + 6) / 10.0);
    CHECK(std::stod(f[2]) == doctest::Approx(cosine * warm).epsilon(1e-6));
    CHECK(std::stod(f[3]) == doctest::Approx(h.train_loss).epsilon(1e-8));
    CHECK(std::stod(f[4]) == doctest::Approx(h.train_accuracy).epsilon(1e-8));
    CHECK(std::stod(f[6]) == doctest::Approx(h.test_accuracy).epsilon(1e-8));
    CHECK(std::stod(f[7]) >= 0.0);
  }
  std::string extra;
  CHECK(!std::getline(in, extra));
}

TEST_CASE("fit: a resumed run keeps the log's rows of the completed epochs and appends the others") {
  fn::test::scratch_dir dir;
  const auto csv_without_seconds = [](const std::string& path) {
    std::ifstream in(path);
    std::string all;
    for (std::string l; std::getline(in, l);) all += l.substr(0, l.rfind(',')) + "\n";
    return all;
  };
  {
    train_model m{3};
    fn::adam opt{m, {.lr = 1e-2f}};
    auto b = batches();
    auto o = base_options(3);
    o.log_path = dir / "full.csv";
    fn::fit(m, opt, b, o);
  }
  train_model m{3};
  fn::adam opt{m, {.lr = 1e-2f}};
  auto b = batches();
  auto o = base_options(3);
  o.log_path = dir / "part.csv";
  o.checkpoint_path = dir / "ck.safetensors";
  o.on_epoch_end.push_back([](const fn::epoch_metrics& e) {
    return e.epoch == 2 ? fn::callback_action::stop : fn::callback_action::keep_going;
  });
  REQUIRE(fn::fit(m, opt, b, o).reason == fn::stop_reason::callback);
  {
    std::ofstream stale(dir / "part.csv", std::ios::app);  // a row a later, lost epoch had written
    stale << "3,21,0,0,0,0,0,0\n";
  }
  train_model m2{3};
  fn::adam opt2{m2, {.lr = 1e-2f}};
  auto o2 = base_options(3);
  o2.log_path = dir / "part.csv";
  o2.resume = fn::load_checkpoint(dir / "ck.safetensors", m2, opt2);
  CHECK(o2.resume->epoch == 2);
  CHECK(o2.resume->step_in_epoch == 0);
  auto b2 = batches();
  fn::fit(m2, opt2, b2, o2);
  CHECK(csv_without_seconds(dir / "part.csv") == csv_without_seconds(dir / "full.csv"));
}

TEST_CASE("load_checkpoint: bad files give errors naming file and problem, and change nothing") {
  fn::test::scratch_dir dir;
  train_model m{3};
  fn::adam opt{m, {.lr = 1e-2f}};
  auto b = batches();
  auto o = base_options(1);
  o.checkpoint_path = dir / "ck.safetensors";
  fn::fit(m, opt, b, o);

  train_model target{8};
  fn::adam target_opt{target, {.lr = 1e-2f}};
  const state before = take(target);
  const auto unchanged = [&] {
    CHECK(take(target) == before);
    CHECK(target_opt.steps() == 0);
  };
  const auto message_of = [&](const std::string& path, auto& opt_) {
    try {
      fn::load_checkpoint(path, target, opt_);
    } catch (const fn::file_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };

  SUBCASE("missing file") {
    const std::string msg = message_of(dir / "absent.safetensors", target_opt);
    CHECK(msg.find("absent.safetensors") != std::string::npos);
    unchanged();
  }
  SUBCASE("a weights file is not a training checkpoint") {
    fn::save(m, dir / "weights.safetensors");
    const std::string msg = message_of(dir / "weights.safetensors", target_opt);
    CHECK(msg.find("not a fusenet training checkpoint") != std::string::npos);
    CHECK(msg.find("weights.safetensors") != std::string::npos);
    unchanged();
  }
  SUBCASE("truncated") {
    const std::string bytes = fn::test::slurp(dir / "ck.safetensors");
    std::ofstream(dir / "cut.safetensors", std::ios::binary) << bytes.substr(0, bytes.size() - 100);
    const std::string msg = message_of(dir / "cut.safetensors", target_opt);
    CHECK(msg.find("cut.safetensors") != std::string::npos);
    unchanged();
  }
  SUBCASE("another optimizer") {
    fn::sgd other{target, {.lr = 1e-2f, .momentum = 0.9f}};
    const std::string msg = message_of(dir / "ck.safetensors", other);
    CHECK(msg.find("optimizer 'adam', not 'sgd'") != std::string::npos);
    CHECK(!other.has_momentum_buffers());
    unchanged();
  }
  SUBCASE("other hyperparameters") {
    fn::adam other{target, {.lr = 1e-2f, .betas = {0.8f, 0.999f}}};
    const std::string msg = message_of(dir / "ck.safetensors", other);
    CHECK(msg.find("betas=(0.900000") != std::string::npos);
    CHECK(msg.find("betas=(0.800000") != std::string::npos);
    unchanged();
  }
  SUBCASE("another network") {
    fn::model<other_net, fn::mode::train> small{1};
    fn::adam small_opt{small, {.lr = 1e-2f}};
    std::string msg = "no error";
    try {
      fn::load_checkpoint(dir / "ck.safetensors", small, small_opt);
    } catch (const fn::weights_mismatch& e) {
      msg = e.what();
    }
    CHECK(msg.find("ck.safetensors") != std::string::npos);
    CHECK(msg.find("unexpected") != std::string::npos);
    CHECK(msg.find("'model.1.running_mean'") != std::string::npos);
  }
  SUBCASE("a corrupt progress entry") {
    fn::io::safetensors_file f = fn::io::read_safetensors(dir / "ck.safetensors");
    f.metadata["progress.seen"] = "12x";
    fn::io::write_safetensors(dir / "bad_meta.safetensors", f);
    const std::string msg = message_of(dir / "bad_meta.safetensors", target_opt);
    CHECK(msg.find("'progress.seen' is '12x', not a count") != std::string::npos);
    unchanged();
  }
  SUBCASE("a moment of the wrong shape") {
    fn::io::safetensors_file f = fn::io::read_safetensors(dir / "ck.safetensors");
    auto& e = f.tensors.at("optimizer.state.3.exp_avg");
    e.shape = {e.count() - 1};
    e.bytes.resize(e.bytes.size() - 4);
    fn::io::write_safetensors(dir / "bad_shape.safetensors", f);
    const std::string msg = message_of(dir / "bad_shape.safetensors", target_opt);
    CHECK(msg.find("optimizer.state.3.exp_avg") != std::string::npos);
    unchanged();
  }
  SUBCASE("run facts that differ are named") {
    const auto p = fn::load_checkpoint(dir / "ck.safetensors", target, target_opt);
    CHECK_THROWS_WITH_AS(fn::check_run_facts(p.run, {{"seed", "4"}}, "ck"),
                         "ck: cannot resume this run with other settings; seed was 3, now 4", std::invalid_argument);
    CHECK_NOTHROW(fn::check_run_facts(p.run, {{"seed", "3"}}, "ck"));
  }
}

TEST_CASE("checkpoint keys follow torch.optim's state_dict layout") {
  fn::test::scratch_dir dir;
  train_model m{3};
  fn::adam opt{m, {.lr = 1e-2f}};
  auto b = batches();
  auto o = base_options(1);
  o.checkpoint_path = dir / "ck.safetensors";
  fn::fit(m, opt, b, o);
  const auto f = fn::io::read_safetensors(dir / "ck.safetensors");
  const auto params = m.parameters();
  std::size_t expected = m.tensors().size() + 1;  // the model, and param_groups.0.lr
  for (std::size_t k = 0; k < params.size(); ++k) {
    const std::string key = "optimizer.state." + std::to_string(k) + ".";
    REQUIRE(f.tensors.contains(key + "exp_avg"));
    CHECK(f.tensors.at(key + "exp_avg").shape == std::vector<std::size_t>{params[k].size});
    CHECK(f.tensors.at(key + "exp_avg_sq").dtype == "F32");
    CHECK(fn::io::read_safetensors(dir / "ck.safetensors").tensors.at(key + "step").shape.empty());
    float step = 0;
    std::memcpy(&step, f.tensors.at(key + "step").bytes.data(), 4);
    CHECK(step == 7.0f);
    expected += 3;
  }
  CHECK(f.tensors.contains("model.0.weight"));
  CHECK(f.tensors.contains("model.1.num_batches_tracked"));
  CHECK(f.tensors.size() == expected);
}

TEST_CASE("progress_line: exactly columns - 1 characters at every width, ASCII") {
  const fn::progress_state s{12, 100, 345, 938, 12345.6, 0.123456, 3600};
  for (std::size_t cols = 0; cols <= 300; ++cols) {
    CAPTURE(cols);
    const std::string line = fn::progress_line(cols, s);
    CHECK(line.size() == (cols == 0 ? 0 : cols - 1));
    for (char c : line) CHECK((c >= 32 && c < 127));
  }
  const std::string wide = fn::progress_line(120, s);
  CHECK(wide.find("epoch 12/100 [") == 0);
  CHECK(wide.find("345/938") != std::string::npos);
  CHECK(wide.find("img/s") != std::string::npos);
  // The bar is filled in proportion: 345 of 938 steps.
  const std::size_t open = wide.find('['), close = wide.find(']');
  const std::string bar = wide.substr(open + 1, close - open - 1);
  CHECK(static_cast<std::size_t>(std::count(bar.begin(), bar.end(), '#')) == bar.size() * 345 / 938);
  CHECK(fn::progress_line(40, s).find('[') == std::string::npos);  // too narrow for a bar: text only
}

TEST_CASE("linear_warmup equals torch's recursive LinearLR chained with the epoch schedule") {
  // torch.optim.lr_scheduler.LinearLR.get_lr(): lr_t = lr_{t-1} * (1 + (end - start) / (total * start + (t - 1) *
  // (end - start))) for 0 < t <= total, lr_0 = base * start; stepped once per optimizer step.
  const float base = 0.1f;
  const std::size_t total = 5;
  const double start = 1.0 / 3.0;
  const fn::linear_warmup<fn::constant_lr> w{{base}, total};
  double lr = base * start;
  for (std::size_t t = 0; t < 9; ++t) {
    if (t > 0 && t <= total)
      lr *= 1.0 + (1.0 - start) / (static_cast<double>(total) * start + static_cast<double>(t - 1) * (1.0 - start));
    CAPTURE(t);
    CHECK(w.lr_at(fn::schedule_point{0, t, 100, t}) == doctest::Approx(lr).epsilon(1e-6));
  }
  const fn::linear_warmup<fn::step_lr> stepped{{base, 1, 0.5f}, 3, 0.5f};
  CHECK(stepped.lr_at(fn::schedule_point{2, 0, 10, 20}) == doctest::Approx(0.025));  // warm, epoch 2: base / 4
  CHECK(stepped.lr_at(fn::schedule_point{0, 1, 10, 1}) == doctest::Approx(0.1 * (0.5 + 0.5 / 3)));
  CHECK_THROWS_AS(static_cast<void>(fn::linear_warmup<fn::constant_lr>{{base}, 3, 0.0f}.lr_at({})),
                  std::invalid_argument);
}

TEST_CASE("scale_weights multiplies conv and dense weights only") {
  train_model a{3}, b{3};
  CHECK(fn::scale_weights(b, 10.0f) == 3);  // conv 0, dense 5 and dense 9 (after the dropout)
  const auto ta = a.tensors(), tb = b.tensors();
  for (std::size_t i = 0; i < ta.size(); ++i) {
    CAPTURE(ta[i].name);
    if (ta[i].value == nullptr) continue;
    const bool scaled = ta[i].name == "0.weight" || ta[i].name == "5.weight" || ta[i].name == "9.weight";
    for (std::size_t j = 0; j < ta[i].spec.size(); ++j)
      REQUIRE(tb[i].value[j] == (scaled ? ta[i].value[j] * 10.0f : ta[i].value[j]));
  }
  CHECK_THROWS_AS(fn::scale_weights(b, 0.0f), std::invalid_argument);
  CHECK_THROWS_AS(fn::scale_weights(b, std::nanf("")), std::invalid_argument);
  CHECK_THROWS_AS(fn::scale_weights(b, INFINITY), std::invalid_argument);
}

TEST_CASE("evaluate: mean loss and accuracy over every sample, train model in evaluation mode") {
  train_model m{3};
  auto all = fn::dataset_batches::in_order(data(), 32);  // 32, 32, 32, 4
  const auto r = fn::evaluate(m, all);
  CHECK(r.samples == 100);
  // Independently: one batch of all 100 samples.
  xt::xtensor<float, 4> x;
  xt::xtensor<std::int64_t, 1> y;
  std::vector<std::size_t> idx(100);
  for (std::size_t i = 0; i < 100; ++i) idx[i] = i;
  fn::data::gather(data(), idx, x, y);
  const auto logits = m.eval_forward(x);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < 100; ++i) {
    std::size_t best = 0;
    for (std::size_t c = 1; c < 3; ++c)
      if (logits(i, c) > logits(i, best)) best = c;
    correct += best == static_cast<std::size_t>(y(i)) ? 1 : 0;
  }
  CHECK(r.accuracy == doctest::Approx(static_cast<double>(correct) / 100.0));
  CHECK(r.loss == doctest::Approx(fn::cross_entropy(logits, y).loss).epsilon(1e-5));
}
