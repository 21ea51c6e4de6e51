// SPDX-License-Identifier: MIT
// The main job: train the reference CNN on Fashion-MNIST, evaluate saved weights, or print the network.
//   fashion_mnist summary
//   fashion_mnist train [--epochs N] [--batch B] [--lr LR] [--schedule cosine|constant] [--seed S]
//                       [--threads T] [--data DIR] [--save PATH] [--log PATH.csv] [--limit N]
//   fashion_mnist eval --weights PATH [--data DIR] [--dump-logits N OUT.npy]
// train --save PATH rewrites PATH after every completed epoch; a NaN/Inf loss stops training before that step's
// update, keeps PATH as the last completed epoch left it, and exits with status 3.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <fusenet/data/batches.hpp>
#include <fusenet/data/fashion_mnist.hpp>
#include <fusenet/fusenet.hpp>
#include <fusenet/io/npy.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <fusenet/train/schedule.hpp>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fn = fusenet;
using namespace fusenet::layers;

// The reference network (torch: Conv2d(1,32,3,padding=1), BatchNorm2d, ReLU, MaxPool2d(2), ...).
using Net = fn::sequential<input<1, 28, 28>,                                      //
                           conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,  //
                           conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>,  //
                           flatten, dense<128>, batch_norm, relu,                     //
                           dense<10>>;
static_assert(fn::output_shape<Net> == fn::shape<10>{});
using trainer = fn::model<Net, fn::mode::train>;

namespace {

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* const usage_text =
    "usage:\n"
    "  fashion_mnist summary\n"
    "  fashion_mnist train [--epochs N] [--batch B] [--lr LR] [--schedule cosine|constant] [--seed S]\n"
    "                      [--threads T] [--data DIR] [--save PATH] [--log PATH.csv] [--limit N]\n"
    "  fashion_mnist eval --weights PATH [--data DIR] [--dump-logits N OUT.npy]\n"
    "train saves the weights to --save PATH after every completed epoch. A NaN or infinite loss stops it before\n"
    "that step's update (exit status 3, the message names the epoch and step); PATH keeps the last epoch saved.\n"
    "exit status: 0 done, 1 error, 2 usage, 3 training diverged (non-finite loss)\n";

// Flags as --name value; every value is checked where it is read.
struct flags {
  std::map<std::string, std::vector<std::string>> values;

  flags(int argc, char** argv, int first, const std::map<std::string, int>& known) {
    for (int i = first; i < argc; ++i) {
      const std::string name = argv[i];
      const auto k = known.find(name);
      if (k == known.end()) throw usage_error("unknown option '" + name + "'");
      if (i + k->second >= argc) throw usage_error("option " + name + " needs " + std::to_string(k->second) + " value(s)");
      auto& v = values[name];
      for (int j = 0; j < k->second; ++j) v.push_back(argv[++i]);
    }
  }
  bool has(const std::string& n) const { return values.count(n) != 0; }
  std::string text(const std::string& n, const std::string& fallback, std::size_t i = 0) const {
    return has(n) ? values.at(n)[i] : fallback;
  }
  long long integer(const std::string& n, long long fallback, long long lo, std::size_t i = 0) const {
    if (!has(n)) return fallback;
    const std::string& s = values.at(n)[i];
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || s.empty() || v < lo)
      throw usage_error(n + " expects a whole number \u2265 " + std::to_string(lo) + ", got '" + s + "'");
    return v;
  }
  float real(const std::string& n, float fallback) const {
    if (!has(n)) return fallback;
    const std::string& s = values.at(n)[0];
    std::size_t used = 0;
    float v = 0;
    try {
      v = std::stof(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || s.empty() || !(v > 0.0f) || !std::isfinite(v))
      throw usage_error(n + " expects a positive number, got '" + s + "'");
    return v;
  }
};

// Test accuracy of the inference model (BatchNorm folded, stages fused), in batches of 500.
double accuracy(fn::model<Net, fn::mode::infer>& m, const fn::data::dataset& data, std::size_t limit,
                xt::xtensor<float, 2>* first_logits = nullptr) {
  const std::size_t n = std::min(limit, data.size());
  const std::size_t batch = 500;
  std::size_t correct = 0;
  xt::xtensor<float, 4> x;
  xt::xtensor<std::int64_t, 1> y;
  std::vector<std::size_t> idx;
  for (std::size_t start = 0; start < n; start += batch) {
    idx.clear();
    for (std::size_t i = start; i < std::min(n, start + batch); ++i) idx.push_back(i);
    fn::data::gather(data, idx, x, y);
    const auto logits = m.forward(x);
    if (first_logits != nullptr && start == 0) *first_logits = logits;
    for (std::size_t i = 0; i < idx.size(); ++i) {
      std::size_t best = 0;
      for (std::size_t c = 1; c < 10; ++c)
        if (logits(i, c) > logits(i, best)) best = c;
      correct += best == static_cast<std::size_t>(y(i));
    }
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

void progress(std::size_t epoch, std::size_t done, std::size_t total, double images_per_s, double loss, double eta) {
  const int width = 30;
  const int filled = static_cast<int>(width * static_cast<double>(done) / static_cast<double>(total));
  std::fprintf(stderr, "\repoch %zu [%.*s%*s] %zu/%zu  %.0f img/s  loss %.4f  ETA %.0fs ", epoch, filled,
               "##############################", width - filled, "", done, total, images_per_s, loss, eta);
  std::fflush(stderr);
}

// Exit status of a run stopped by a NaN or infinite loss (or weights), apart from 1 (error) and 2 (usage).
constexpr int diverged_status = 3;

const char* non_finite_name(double v) { return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"); }

// Reports a run stopped on a non-finite value: `what` says where, then what --save PATH now holds.
int diverged(const std::string& what, const flags& f, std::size_t saved_epoch, bool tty) {
  std::string kept;
  if (f.has("--save")) {
    const std::string path = f.text("--save", "");
    kept = saved_epoch == 0 ? "; no epoch completed; " + path + " not written"
                            : "; kept the checkpoint of epoch " + std::to_string(saved_epoch) + " in " + path;
  }
  std::fprintf(stderr, "%sfashion_mnist: %s%s; try a smaller --lr\n", tty ? "\n" : "", what.c_str(), kept.c_str());
  return diverged_status;
}

int train(const flags& f) {
  const auto epochs = static_cast<std::size_t>(f.integer("--epochs", 1, 1));
  const auto batch = static_cast<std::size_t>(f.integer("--batch", 64, 2));
  const float lr = f.real("--lr", 1e-3f);
  const auto seed = static_cast<std::uint64_t>(f.integer("--seed", 42, 0));
  const auto threads = f.integer("--threads", 2, 1);
  const auto limit = static_cast<std::size_t>(f.integer("--limit", 60000, 2));
  const std::string dir = f.text("--data", fn::data::default_data_dir());
  // Cosine annealing over the run (torch's CosineAnnealingLR with T_max = epochs, stepped per epoch):
  // the late small steps settle the weights instead of oscillating at lr.
  const std::string schedule = f.text("--schedule", "cosine");
  if (schedule != "cosine" && schedule != "constant")
    throw usage_error("--schedule expects cosine or constant, got '" + schedule + "'");
#ifdef _OPENMP
  omp_set_num_threads(static_cast<int>(threads));
#else
  if (threads > 1) std::cerr << "note: built without OpenMP; running on one thread\n";
#endif
  const auto train_set = fn::data::load_fashion_mnist(dir, fn::data::split::train);
  const auto test_set = fn::data::load_fashion_mnist(dir, fn::data::split::test);
  const std::size_t n = std::min(limit, train_set.size());

  std::ofstream log;
  if (f.has("--log")) {
    log.open(f.text("--log", ""));
    if (!log) throw std::runtime_error("cannot write log file " + f.text("--log", ""));
    log << "epoch,train_loss,train_accuracy,test_accuracy,seconds\n";
  }
  trainer m{seed};
  fn::adam opt{m, {.lr = lr}};
  fn::data::batch_sampler sampler{n, {.batch_size = batch, .seed = seed}};
  const bool tty = isatty(fileno(stderr)) != 0;
  xt::xtensor<float, 4> x;
  xt::xtensor<std::int64_t, 1> y;
  double test_acc = 0;
  std::size_t saved_epoch = 0;  // the epoch whose weights --save PATH holds (0: none written)
  for (std::size_t epoch = 1; epoch <= epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    sampler.start_epoch(epoch - 1);
    if (schedule == "cosine") fn::apply_schedule(fn::cosine_lr{lr, epochs}, opt, epoch - 1);
    double loss_sum = 0;
    std::size_t seen = 0, correct = 0;
    const std::size_t batches = sampler.num_batches();
    for (std::size_t b = 0; b < batches; ++b) {
      fn::data::gather(train_set, sampler.batch(b), x, y);
      const auto logits = m.forward(x);
      auto [loss, dlogits] = fn::cross_entropy(logits, y);
      // Stop before this step's update: the weights stay those of the last finite step, and the file holds
      // the last completed epoch (it is only written at epoch ends).
      if (!std::isfinite(loss))
        return diverged(std::string("non-finite loss (") + non_finite_name(loss) + ") at epoch " +
                            std::to_string(epoch) + ", step " + std::to_string(b + 1) + " of " +
                            std::to_string(batches),
                        f, saved_epoch, tty);
      m.zero_grad();
      m.backward(dlogits);
      opt.step();
      const std::size_t bs = y.size();
      loss_sum += static_cast<double>(loss) * static_cast<double>(bs);
      seen += bs;
      for (std::size_t i = 0; i < bs; ++i) {
        std::size_t best = 0;
        for (std::size_t c = 1; c < 10; ++c)
          if (logits(i, c) > logits(i, best)) best = c;
        correct += best == static_cast<std::size_t>(y(i));
      }
      if (tty && (b % 10 == 0 || b + 1 == batches)) {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double rate = static_cast<double>(seen) / std::max(s, 1e-9);
        progress(epoch, b + 1, batches, rate, loss_sum / static_cast<double>(seen),
                 static_cast<double>(n - seen) / std::max(rate, 1e-9));
      }
    }
    if (tty) std::fprintf(stderr, "\n");
    // Every loss was finite, but the last update may still have overflowed a weight: never save that.
    if (const auto bad = fn::find_non_finite(m))
      return diverged("non-finite weights after epoch " + std::to_string(epoch) + " (" + *bad + ")", f, saved_epoch,
                      false);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fn::model<Net, fn::mode::infer> deployed{m};
    test_acc = accuracy(deployed, test_set, test_set.size());
    const double train_loss = loss_sum / static_cast<double>(seen);
    const double train_acc = static_cast<double>(correct) / static_cast<double>(seen);
    std::printf("epoch %zu  train loss %.4f  train accuracy %.4f  test accuracy %.4f  %.1f s\n", epoch, train_loss,
                train_acc, test_acc, seconds);
    std::fflush(stdout);
    if (log) log << epoch << ',' << train_loss << ',' << train_acc << ',' << test_acc << ',' << seconds << '\n';
    // A checkpoint per epoch, written atomically (temporary file, then rename), so PATH always holds the last
    // completed epoch, whatever stops a later one.
    if (f.has("--save")) {
      fn::save(m, f.text("--save", ""));
      saved_epoch = epoch;
    }
  }
  std::printf("test accuracy: %.4f\n", test_acc);
  if (f.has("--save")) std::printf("weights saved to %s\n", f.text("--save", "").c_str());
  return 0;
}

int eval(const flags& f) {
  if (!f.has("--weights")) throw usage_error("eval needs --weights PATH");
  const auto test_set = fn::data::load_fashion_mnist(f.text("--data", fn::data::default_data_dir()), fn::data::split::test);
  fn::model<Net, fn::mode::infer> m{f.text("--weights", "")};
  xt::xtensor<float, 2> logits;
  const double acc = accuracy(m, test_set, test_set.size(), &logits);
  std::printf("test accuracy: %.4f\n", acc);
  if (f.has("--dump-logits")) {
    const auto count = static_cast<std::size_t>(f.integer("--dump-logits", 0, 1, 0));
    if (count > logits.shape()[0]) throw usage_error("--dump-logits N: N must be at most 500");
    std::vector<float> rows(logits.data(), logits.data() + count * 10);
    fn::io::save_npy<float>(f.text("--dump-logits", "", 1), rows.data(), {count, 10});
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) throw usage_error("missing command");
    const std::string cmd = argv[1];
    if (cmd == "summary") {
      if (argc > 2) throw usage_error("summary takes no options");
      std::cout << fn::summary<Net>() << "\ninference stages:\n" << fn::model<Net, fn::mode::infer>::describe();
      return 0;
    }
    if (cmd == "train")
      return train(flags(argc, argv, 2,
                         {{"--epochs", 1}, {"--batch", 1}, {"--lr", 1}, {"--schedule", 1}, {"--seed", 1}, {"--threads", 1}, {"--data", 1},
                          {"--save", 1}, {"--log", 1}, {"--limit", 1}}));
    if (cmd == "eval") return eval(flags(argc, argv, 2, {{"--weights", 1}, {"--data", 1}, {"--dump-logits", 2}}));
    if (cmd == "--help" || cmd == "-h") {
      std::cout << usage_text;
      return 0;
    }
    throw usage_error("unknown command '" + cmd + "'");
  } catch (const usage_error& e) {
    std::cerr << "fashion_mnist: " << e.what() << "\n" << usage_text;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "fashion_mnist: error: " << e.what() << "\n";
    return 1;
  }
}
