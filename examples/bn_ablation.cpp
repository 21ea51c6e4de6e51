// SPDX-License-Identifier: MIT
// What BatchNorm buys: the reference network against its BatchNorm-free twin (without_t) on Fashion-MNIST.
//   bn_ablation --quick [--out DIR]      a data subset, 3 seeds, about 2 minutes on 2 cores
//   bn_ablation [--out DIR]              the full study (all 60000 training images)
// Options: --seeds N  --epochs N  --limit N (training images)  --test-limit N  --threads T  --data DIR
//          --threshold ACC (test accuracy for "steps to reach")  --settings a,b,... (a subset of the settings)
// Settings, each run for both networks and every seed (Adam, constant learning rate, batch 64):
//   base (lr 1e-3, PyTorch's default init), lr=1e-4, lr=1e-2, lr=3e-2 (the sweep, with base as 1e-3),
//   init=0.1, init=10 (conv and dense weights scaled after the default init, fusenet::scale_weights).
// Measured per run: final train loss, train and test accuracy (evaluation mode) and their gap, whether it
// diverged (a non-finite loss or weight, or a final test accuracy below 0.2, near chance), the optimizer
// steps until the test accuracy (probed on a test subset every few steps) first reaches the threshold, and
// seconds per epoch (BN and BN-free runs alternate, so both see the same machine load).
// Writes to DIR: runs/<setting>_<net>_s<seed>.csv (fusenet::fit's per-epoch log), runs/<...>_steps.csv (the
// probe curve), summary.csv (one row per run) and summary.md (mean ± std over seeds). Plot them with
// /usr/bin/python3 scripts/plot_runs.py --ablation DIR.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <fusenet/data/fashion_mnist.hpp>
#include <fusenet/fusenet.hpp>
#include <fusenet/train/fit.hpp>
#include <fusenet/train/optimizers.hpp>
#include <fusenet/train/weight_scale.hpp>
#include <fusenet/without.hpp>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fn = fusenet;
using namespace fusenet::layers;

// The reference network of examples/fashion_mnist.cpp and its twin without the three BatchNorms.
using Net = fn::sequential<input<1, 28, 28>,                                          //
                           conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,  //
                           conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>,  //
                           flatten, dense<128>, batch_norm, relu,                     //
                           dense<10>>;
using Twin = fn::without_t<Net, batch_norm>;
static_assert(fn::count_layers_of_kind<Twin, batch_norm> == 0 && Twin::layer_count == Net::layer_count - 3);

namespace {

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* const usage_text =
    "usage: bn_ablation [--quick] [--out DIR] [--seeds N] [--epochs N] [--limit N] [--test-limit N]\n"
    "                   [--threads T] [--data DIR] [--threshold ACC] [--every STEPS] [--settings NAME,...]\n"
    "settings: base lr=1e-4 lr=1e-2 lr=3e-2 init=0.1 init=10\n";

struct config {
  bool quick = false;
  std::string out;
  std::string data = fn::data::default_data_dir();
  std::size_t seeds = 3, epochs = 3, train_limit = 60000, test_limit = 10000, probe_limit = 2000;
  std::size_t every_steps = 100, batch = 64, threads = 1;
  double threshold = 0.88;
  float base_lr = 1e-3f;
  std::vector<std::string> settings{"base", "lr=1e-4", "lr=1e-2", "lr=3e-2", "init=0.1", "init=10"};
};

struct setting {
  std::string name;
  float lr;
  float scale;
};

setting parse_setting(const std::string& name, float base_lr) {
  if (name == "base") return {name, base_lr, 1.0f};
  const auto value = [&](std::size_t at) {
    std::size_t used = 0;
    float v = 0;
    try {
      v = std::stof(name.substr(at), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || at + used != name.size() || !(v > 0.0f)) throw usage_error("bad setting '" + name + "'");
    return v;
  };
  if (name.rfind("lr=", 0) == 0) return {name, value(3), 1.0f};
  if (name.rfind("init=", 0) == 0) return {name, base_lr, value(5)};
  throw usage_error("unknown setting '" + name + "' (base, lr=X, init=X)");
}

struct outcome {
  std::string setting, net;
  std::uint64_t seed = 0;
  float lr = 0, scale = 1;
  std::size_t epochs = 0, steps = 0;
  double final_loss = NAN, train_acc = NAN, test_acc = NAN, gap = NAN, seconds_per_epoch = NAN;
  bool diverged = false;
  long steps_to_threshold = -1;  // -1: never reached
};

std::string run_name(const std::string& setting, const std::string& net, std::uint64_t seed) {
  std::string s = setting;
  for (char& c : s)
    if (c == '=') c = '_';
  return s + "_" + net + "_s" + std::to_string(seed);
}

template <class N>
outcome train_one(const setting& st, const char* net_name, std::uint64_t seed, const config& c,
                  const fn::data::dataset& train_set, const fn::data::dataset& test_set) {
  outcome r;
  r.setting = st.name;
  r.net = net_name;
  r.seed = seed;
  r.lr = st.lr;
  r.scale = st.scale;
  fn::model<N, fn::mode::train> m{seed};
  fn::scale_weights(m, st.scale);
  fn::adam opt{m, {.lr = st.lr}};
  fn::dataset_batches train_batches{train_set, {.batch_size = c.batch, .seed = seed}, c.train_limit};
  auto test_batches = fn::dataset_batches::in_order(test_set, 500, c.test_limit);
  auto probe_batches = fn::dataset_batches::in_order(test_set, 500, c.probe_limit);
  auto train_eval = fn::dataset_batches::in_order(train_set, 500, c.test_limit);

  const std::string base = c.out + "/runs/" + run_name(st.name, net_name, seed);
  std::ofstream steps_csv(base + "_steps.csv");
  if (!steps_csv) throw fn::file_error("cannot write " + base + "_steps.csv");
  steps_csv << "step,epoch,lr,train_loss,probe_accuracy\n";

  fn::fit_options o;
  o.epochs = c.epochs;
  o.log_path = base + ".csv";
  o.report = nullptr;
  o.progress = fn::progress_mode::off;
  o.validate = [&] { return fn::evaluate(m, test_batches); };
  o.every_steps = c.every_steps;
  o.on_steps = [&](const fn::step_info& s) {
    const double acc = fn::evaluate(m, probe_batches).accuracy;
    steps_csv << s.global_step << ',' << s.epoch + 1 << ',' << s.lr << ',' << s.loss << ',' << acc << '\n';
    steps_csv.flush();
    if (r.steps_to_threshold < 0 && acc >= c.threshold) r.steps_to_threshold = static_cast<long>(s.global_step);
    return fn::callback_action::keep_going;
  };
  const fn::fit_result fr = fn::fit(m, opt, train_batches, o);
  r.epochs = fr.history.size();
  r.steps = fr.progress.global_step;
  r.diverged = fr.reason == fn::stop_reason::non_finite_loss || fr.reason == fn::stop_reason::non_finite_weights;
  if (!fr.history.empty()) {
    const auto& last = fr.history.back();
    r.final_loss = last.train_loss;
    r.test_acc = last.test_accuracy;
    double s = 0;
    for (const auto& e : fr.history) s += e.seconds;
    r.seconds_per_epoch = s / static_cast<double>(fr.history.size());
    // Stuck near chance (0.1 for 10 classes): the run did not learn, which is how a too-high rate shows when the
    // loss stays finite (dead ReLUs, saturated logits).
    if (!(last.test_accuracy >= 0.2)) r.diverged = true;
  }
  if (!r.diverged) {
    r.train_acc = fn::evaluate(m, train_eval).accuracy;
    r.gap = r.train_acc - r.test_acc;
  }
  return r;
}

struct stats {
  double mean = NAN, std = NAN;
  std::size_t n = 0;
};
stats summarize(const std::vector<double>& v) {
  stats s;
  std::vector<double> ok;
  for (double x : v)
    if (std::isfinite(x)) ok.push_back(x);
  s.n = ok.size();
  if (ok.empty()) return s;
  s.mean = std::accumulate(ok.begin(), ok.end(), 0.0) / static_cast<double>(ok.size());
  double ss = 0;
  for (double x : ok) ss += (x - s.mean) * (x - s.mean);
  s.std = ok.size() > 1 ? std::sqrt(ss / static_cast<double>(ok.size() - 1)) : 0.0;  // sample std (n - 1)
  return s;
}
std::string pm(const stats& s, const char* fmt) {
  if (s.n == 0) return "–";
  char a[64], b[64];
  std::snprintf(a, sizeof a, fmt, s.mean);
  std::snprintf(b, sizeof b, fmt, s.std);
  return std::string(a) + " ± " + b;
}

void write_summary(const config& c, const std::vector<outcome>& all) {
  std::ofstream csv(c.out + "/summary.csv");
  if (!csv) throw fn::file_error("cannot write " + c.out + "/summary.csv");
  csv << "setting,net,seed,lr,init_scale,epochs,steps,final_train_loss,train_accuracy,test_accuracy,gap,diverged,"
         "steps_to_threshold,seconds_per_epoch\n";
  for (const auto& r : all)
    csv << r.setting << ',' << r.net << ',' << r.seed << ',' << r.lr << ',' << r.scale << ',' << r.epochs << ','
        << r.steps << ',' << r.final_loss << ',' << r.train_acc << ',' << r.test_acc << ',' << r.gap << ','
        << (r.diverged ? 1 : 0) << ',' << r.steps_to_threshold << ',' << r.seconds_per_epoch << '\n';

  std::ofstream md(c.out + "/summary.md");
  if (!md) throw fn::file_error("cannot write " + c.out + "/summary.md");
  md << "# BatchNorm ablation (" << (c.quick ? "quick" : "full") << ")\n\n"
     << "Reference network (`bn`) against `without_t<Net, batch_norm>` (`no_bn`); Adam, constant lr, batch " << c.batch
     << ", " << c.epochs << " epochs on " << c.train_limit << " training images, test accuracy on " << c.test_limit
     << " test images; " << c.seeds << " seeds, mean ± std (sample). Steps to reach test accuracy " << c.threshold
     << " probed every " << c.every_steps << " steps on " << c.probe_limit
     << " test images (runs that reached it / runs). Diverged: a non-finite loss or weight, or a final test "
        "accuracy below 0.2 (chance is 0.1); accuracy and gap are means over the runs that did not diverge (n=k "
        "when fewer than all).\n\n"
     << "| setting | lr | init scale | net | test accuracy | train − test gap | steps to " << c.threshold
     << " | diverged | s / epoch |\n|---|---|---|---|---|---|---|---|---|\n";
  std::map<std::string, double> sec_per_epoch;
  for (const auto& name : c.settings)
    for (const char* net : {"bn", "no_bn"}) {
      std::vector<double> acc, gap, steps, sec;
      std::size_t diverged = 0, runs = 0, reached = 0;
      float lr = 0, scale = 1;
      for (const auto& r : all) {
        if (r.setting != name || r.net != net) continue;
        ++runs;
        lr = r.lr;
        scale = r.scale;
        acc.push_back(r.diverged ? NAN : r.test_acc);
        gap.push_back(r.gap);
        if (r.steps_to_threshold >= 0) {
          steps.push_back(static_cast<double>(r.steps_to_threshold));
          ++reached;
        }
        sec.push_back(r.seconds_per_epoch);
        diverged += r.diverged ? 1 : 0;
      }
      if (runs == 0) continue;
      const stats s = summarize(sec);
      if (name == "base") sec_per_epoch[net] = s.mean;
      char head[128];
      std::snprintf(head, sizeof head, "| %s | %g | %g | %s | ", name.c_str(), static_cast<double>(lr),
                    static_cast<double>(scale), net);
      const auto over = [&](const stats& x, const char* fmt) {  // mean over the runs that did not diverge
        return pm(x, fmt) + (x.n > 0 && x.n < runs ? " (n=" + std::to_string(x.n) + ")" : std::string());
      };
      md << head << over(summarize(acc), "%.4f") << " | " << over(summarize(gap), "%.4f") << " | "
         << pm(summarize(steps), "%.0f") << " (" << reached << "/" << runs << ") | " << diverged << "/" << runs << " | "
         << pm(s, "%.2f") << " |\n";
    }
  if (sec_per_epoch.count("bn") && sec_per_epoch.count("no_bn")) {
    char line[200];
    std::snprintf(line, sizeof line,
                  "\nCost of BatchNorm (base setting, runs alternating in one process): %.3f s / epoch with BN, "
                  "%.3f without, ratio %.2f.\n",
                  sec_per_epoch["bn"], sec_per_epoch["no_bn"], sec_per_epoch["bn"] / sec_per_epoch["no_bn"]);
    md << line;
  }
}

int run(int argc, char** argv) {
  config c;
  std::map<std::string, std::string> given;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      c.quick = true;
    } else if (a == "--help" || a == "-h") {
      std::cout << usage_text;
      return 0;
    } else if (a.rfind("--", 0) == 0 && i + 1 < argc) {
      given[a] = argv[++i];
    } else {
      throw usage_error("unexpected argument '" + a + "'");
    }
  }
  if (c.quick) {
    c.epochs = 3;
    c.train_limit = 2000;
    c.test_limit = 2000;
    c.probe_limit = 500;
    c.every_steps = 8;
    c.threshold = 0.80;
  }
  c.out = c.quick ? "bn_ablation_quick" : "bn_ablation_full";
  const auto count = [&](const std::string& k, std::size_t& v, std::size_t lo) {
    if (!given.count(k)) return;
    const std::string& s = given[k];
    std::size_t used = 0;
    unsigned long long x = 0;
    try {
      x = std::stoull(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size() || x < lo)
      throw usage_error(k + " expects a whole number >= " + std::to_string(lo) + ", got '" + s + "'");
    v = static_cast<std::size_t>(x);
    given.erase(k);
  };
  count("--seeds", c.seeds, 1);
  count("--epochs", c.epochs, 1);
  count("--limit", c.train_limit, 2);
  count("--test-limit", c.test_limit, 1);
  count("--threads", c.threads, 1);
  count("--every", c.every_steps, 1);
  c.probe_limit = std::min(c.probe_limit, c.test_limit);
  if (given.count("--out")) c.out = given["--out"], given.erase("--out");
  if (given.count("--data")) c.data = given["--data"], given.erase("--data");
  if (given.count("--threshold")) {
    c.threshold = std::stod(given["--threshold"]);
    given.erase("--threshold");
  }
  if (given.count("--settings")) {
    c.settings.clear();
    std::stringstream ss(given["--settings"]);
    for (std::string s; std::getline(ss, s, ',');) c.settings.push_back(s);
    given.erase("--settings");
  }
  if (!given.empty()) throw usage_error("unknown option '" + given.begin()->first + "'");
  std::vector<setting> settings;
  for (const auto& s : c.settings) settings.push_back(parse_setting(s, c.base_lr));
#ifdef _OPENMP
  omp_set_num_threads(static_cast<int>(c.threads));
#endif
  std::filesystem::create_directories(c.out + "/runs");
  const auto train_set = fn::data::load_fashion_mnist(c.data, fn::data::split::train);
  const auto test_set = fn::data::load_fashion_mnist(c.data, fn::data::split::test);
  c.train_limit = std::min(c.train_limit, train_set.size());
  c.test_limit = std::min(c.test_limit, test_set.size());

  std::vector<outcome> all;
  const std::size_t total = settings.size() * c.seeds * 2;
  for (const auto& st : settings)
    for (std::uint64_t seed = 1; seed <= c.seeds; ++seed) {
      // BN and BN-free runs alternate, so the seconds per epoch of both see the same machine load.
      for (int which = 0; which < 2; ++which) {
        const outcome r = which == 0 ? train_one<Net>(st, "bn", seed, c, train_set, test_set)
                                     : train_one<Twin>(st, "no_bn", seed, c, train_set, test_set);
        all.push_back(r);
        std::printf(
            "[%zu/%zu] %-9s %-5s seed %llu: test accuracy %.4f  gap %+.4f  steps to %.2f: %ld%s  %.2f s/epoch\n",
            all.size(), total, r.setting.c_str(), r.net.c_str(), static_cast<unsigned long long>(r.seed), r.test_acc,
            r.gap, c.threshold, r.steps_to_threshold, r.diverged ? "  DIVERGED" : "", r.seconds_per_epoch);
        std::fflush(stdout);
      }
      write_summary(c, all);  // after every pair, so an interrupted study keeps what it measured
    }
  std::printf("wrote %s/summary.md, %s/summary.csv and %zu runs in %s/runs\n", c.out.c_str(), c.out.c_str(), all.size(),
              c.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const usage_error& e) {
    std::cerr << "bn_ablation: " << e.what() << "\n" << usage_text;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "bn_ablation: error: " << e.what() << "\n";
    return 1;
  }
}
