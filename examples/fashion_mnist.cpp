// SPDX-License-Identifier: MIT
// The main job: train the reference CNN on Fashion-MNIST, evaluate saved weights, or print the network.
//   fashion_mnist summary
//   fashion_mnist train [--epochs N] [--batch B] [--lr LR] [--schedule cosine|constant] [--warmup STEPS]
//                       [--seed S] [--threads T] [--data DIR] [--save PATH] [--log PATH.csv] [--limit N]
//                       [--checkpoint PATH] [--resume CHECKPOINT]
//   fashion_mnist eval --weights PATH [--data DIR] [--dump-logits N OUT.npy]
// train runs on the library's loop (fusenet::fit). --save PATH rewrites PATH after every completed epoch; a
// NaN/Inf loss stops training before that step's update, keeps PATH as the last completed epoch left it, and
// exits with status 3. SIGINT/SIGTERM finish the step, write a checkpoint (--checkpoint PATH, else --resume's
// file, else next to --save) and exit with 130/143; --resume continues from it, bit-identically.
// Under mpirun / srun (a build with MPI), train is data-parallel: --batch is the global batch, split evenly among
// the processes, BatchNorm uses the global batch's statistics, and only rank 0 prints and writes --save / --log /
// --checkpoint (after each epoch; signals end the job without one); every process --resume's from the same file.

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <fusenet/data/batches.hpp>
#include <fusenet/data/fashion_mnist.hpp>
#include <fusenet/fusenet.hpp>
#include <fusenet/io/npy.hpp>
#include <fusenet/train/checkpoint.hpp>
#include <fusenet/train/fit.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <fusenet/train/schedule.hpp>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef FUSENET_MPI
#include <fusenet/dist/all.hpp>
#endif

#include "cli_flags.hpp"

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

#ifdef FUSENET_MPI
const fn::dist::communicator* world = nullptr;  // set when launched by mpirun or srun
#endif
/// The processes of this run and this one's rank (1 and 0 without a launcher).
std::size_t ranks() {
#ifdef FUSENET_MPI
  if (world != nullptr) return static_cast<std::size_t>(world->size());
#endif
  return 1;
}
std::size_t rank() {
#ifdef FUSENET_MPI
  if (world != nullptr) return static_cast<std::size_t>(world->rank());
#endif
  return 0;
}
/// Whether an MPI launcher (mpirun, srun) started this process as one of several.
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_NTASKS"})
    if (const char* e = std::getenv(v); e != nullptr && (std::string(v) == "PMIX_RANK" || std::atoi(e) > 1)) return true;
  return false;
}

using cli::flags;
using cli::usage_error;

const char* const usage_text =
    "usage:\n"
    "  fashion_mnist summary\n"
    "  fashion_mnist train [--epochs N] [--batch B] [--lr LR] [--schedule cosine|constant] [--warmup STEPS]\n"
    "                      [--seed S] [--threads T] [--data DIR] [--save PATH] [--log PATH.csv] [--limit N]\n"
    "                      [--checkpoint PATH] [--resume CHECKPOINT]\n"
    "  fashion_mnist eval --weights PATH [--data DIR] [--dump-logits N OUT.npy]\n"
    "train saves the weights to --save PATH after every completed epoch. A NaN or infinite loss stops it before\n"
    "that step's update (exit status 3, the message names the epoch and step); PATH keeps the last epoch saved.\n"
    "--warmup STEPS ramps the learning rate linearly from lr/3 over the first STEPS steps (torch's LinearLR).\n"
    "--checkpoint PATH writes model, Adam state and progress after every epoch; on SIGINT or SIGTERM the current\n"
    "step finishes and the checkpoint is written (to --checkpoint, else the --resume file, else SAVE.checkpoint.\n"
    "safetensors next to --save, else ./fashion_mnist.checkpoint.safetensors). --resume CHECKPOINT continues that\n"
    "run (same options): the same seed and --threads give bit-identical weights to an uninterrupted run.\n"
    "defaults: --epochs 1 --batch 64 --lr 1e-3 --schedule cosine --warmup 0 --seed 42 --limit 60000 (training\n"
    "images), --threads $OMP_NUM_THREADS if set, else 2; --data $FUSENET_DATA if set, else\n"
    "/usr/share/datasets/fashion-mnist. A flag given twice is an error.\n"
    "  fashion_mnist --help | --version     (or COMMAND --help)\n"
    "exit status: 0 done, 1 error, 2 usage, 3 training diverged (non-finite loss), 130/143 SIGINT/SIGTERM\n";

// --threads when absent: OMP_NUM_THREADS as OpenMP reads it, else 2 (the machines this targets have 2 cores).
long long default_threads() {
#ifdef _OPENMP
  if (std::getenv("OMP_NUM_THREADS") != nullptr) return omp_get_max_threads();
#endif
  return 2;
}

using cli::check_writable;

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

// Exit status of a run stopped by a NaN or infinite loss (or weights), apart from 1 (error) and 2 (usage).
constexpr int diverged_status = 3;

const char* non_finite_name(double v) { return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"); }

// Reports a run stopped on a non-finite value: `what` says where, then what --save PATH now holds.
int diverged(const std::string& what, const flags& f, std::size_t saved_epoch) {
  std::string kept;
  if (f.has("--save")) {
    const std::string path = f.text("--save", "");
    kept = saved_epoch == 0 ? "; no epoch completed; " + path + " not written"
                            : "; kept the checkpoint of epoch " + std::to_string(saved_epoch) + " in " + path;
  }
  std::fprintf(stderr, "fashion_mnist: %s%s; try a smaller --lr\n", what.c_str(), kept.c_str());
  return diverged_status;
}

// Where a signal's checkpoint goes: --checkpoint, else the file resumed from, else next to --save, else here.
std::string interrupt_checkpoint_path(const flags& f) {
  if (f.has("--checkpoint")) return f.text("--checkpoint", "");
  if (f.has("--resume")) return f.text("--resume", "");
  if (f.has("--save")) {
    std::string s = f.text("--save", "");
    const std::string ext = ".safetensors";
    if (s.size() > ext.size() && s.compare(s.size() - ext.size(), ext.size(), ext) == 0) s.resize(s.size() - ext.size());
    return s + ".checkpoint.safetensors";
  }
  return "fashion_mnist.checkpoint.safetensors";
}

int train(const flags& f) {
  const auto epochs = static_cast<std::size_t>(f.integer("--epochs", 1, 1));
  const auto batch = static_cast<std::size_t>(f.integer("--batch", 64, 2));
  const float lr = f.real("--lr", 1e-3f);
  const auto seed = static_cast<std::uint64_t>(f.integer("--seed", 42, 0));
  const auto threads = f.integer("--threads", default_threads(), 1);
  const auto limit = static_cast<std::size_t>(f.integer("--limit", 60000, 2));
  const auto warmup = static_cast<std::size_t>(f.integer("--warmup", 0, 0));
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
  // Every path is checked before the data is read and an epoch is spent.
  for (const char* path_flag : {"--save", "--log", "--checkpoint"})
    if (f.has(path_flag)) check_writable(path_flag, f.text(path_flag, ""));
  const std::size_t processes = ranks();
  const bool root = rank() == 0;
  if (processes > 1) {
    if (batch % processes != 0)
      throw usage_error("--batch " + std::to_string(batch) + " is the global batch and must be divisible by the " +
                        std::to_string(processes) + " processes");
  }
  const auto train_set = fn::data::load_fashion_mnist(dir, fn::data::split::train);
  const auto test_set = fn::data::load_fashion_mnist(dir, fn::data::split::test);

  trainer m{seed};
  fn::adam opt{m, {.lr = lr}};
  fn::dataset_batches train_batches{train_set, {.batch_size = batch, .seed = seed}, limit};
  auto test_batches = fn::dataset_batches::in_order(test_set, 500);

  fn::fit_options o;
  if (!root) o.report = nullptr, o.progress = fn::progress_mode::off;
  o.epochs = epochs;
  // The facts a resumed run must share with the interrupted one (the data order and the schedule depend on them).
  o.run_facts = {{"seed", std::to_string(seed)},      {"batch", std::to_string(batch)},
                 {"limit", std::to_string(limit)},    {"lr", f.text("--lr", "0.001")},
                 {"schedule", schedule},              {"warmup", std::to_string(warmup)},
                 {"data", dir}};
  if (schedule == "cosine") o.run_facts["epochs"] = std::to_string(epochs);  // cosine's T_max
  if (schedule == "cosine" && warmup > 0) o.schedule = fn::every_step(fn::linear_warmup<fn::cosine_lr>{{lr, epochs}, warmup});
  else if (schedule == "cosine") o.schedule = fn::every_step(fn::cosine_lr{lr, epochs});
  else if (warmup > 0) o.schedule = fn::every_step(fn::linear_warmup<fn::constant_lr>{{lr}, warmup});
  if (root) o.validate = [&] {
    fn::model<Net, fn::mode::infer> deployed{m};  // BatchNorm folded, stages fused
    return fn::evaluate(deployed, test_batches);
  };
  o.log_path = root ? f.text("--log", "") : "";
  o.checkpoint_path = f.text("--checkpoint", "");
  o.interrupt_path = processes > 1 ? "" : interrupt_checkpoint_path(f);
  if (processes > 1) o.handle_signals = false;  // mpirun forwards SIGINT/SIGTERM and ends every process
  if (f.has("--resume")) {
    const std::string from = f.text("--resume", "");
    o.resume = fn::load_checkpoint(from, m, opt);
    fn::check_run_facts(o.resume->run, o.run_facts, from);
    if (root)
      std::fprintf(stderr, "fashion_mnist: resuming %s at epoch %zu, step %zu\n", from.c_str(), o.resume->epoch + 1,
                   o.resume->step_in_epoch);
  }
  // A weights file per epoch, written atomically (temporary file, then rename), so PATH always holds the last
  // completed epoch, whatever stops a later one.
  std::size_t saved_epoch = 0;  // the epoch whose weights --save PATH holds (0: none written by this run)
  if (f.has("--save") && root)
    o.on_epoch_end.push_back([&](const fn::epoch_metrics& e) {
      fn::save(m, f.text("--save", ""));
      saved_epoch = e.epoch;
      return fn::callback_action::keep_going;
    });

  fn::fit_result r;
  if (processes == 1) {
    r = fn::fit(m, opt, train_batches, o);
  } else {
#ifdef FUSENET_MPI
    // Every rank takes rank 0's initial weights and its shard of each global batch; the optimizer step waits for
    // the gradient allreduce. Only rank 0 reports; its train loss and accuracy are those of its shard.
    fn::dist::data_parallel<trainer> dp(*world, m);
    fn::dist::synced_optimizer<trainer, fn::adam> synced(dp, opt);
    fn::dist::sharded_batches shards{train_set, {.batch_size = batch, .seed = seed}, rank(), processes, limit};
    r = fn::fit(m, synced, shards, o);
#endif
  }
  if (!root) return 0;
  switch (r.reason) {
    case fn::stop_reason::non_finite_loss:
      // fit stops before this step's update: the weights stay those of the last finite step, and --save holds
      // the last completed epoch (it is only written at epoch ends).
      return diverged(std::string("non-finite loss (") + non_finite_name(r.loss) + ") at epoch " +
                          std::to_string(r.epoch) + ", step " + std::to_string(r.step) + " of " +
                          std::to_string(r.steps_per_epoch),
                      f, saved_epoch);
    case fn::stop_reason::non_finite_weights:
      // Every loss was finite, but the last update may still have overflowed a weight: never save that.
      return diverged("non-finite weights after epoch " + std::to_string(r.epoch) + " (" + r.problem + ")", f,
                      saved_epoch);
    case fn::stop_reason::interrupted: {
      const bool sigint = r.signal == SIGINT;
      std::string msg = std::string("fashion_mnist: interrupted by ") + (sigint ? "SIGINT" : "SIGTERM") + " at epoch " +
                        std::to_string(r.epoch) + " after step " + std::to_string(r.step) + " of " +
                        std::to_string(r.steps_per_epoch) + "; checkpoint written to " + r.checkpoint;
      if (!o.log_path.empty()) msg += "; log (completed epochs) in " + o.log_path;
      if (saved_epoch > 0) msg += "; weights of epoch " + std::to_string(saved_epoch) + " in " + f.text("--save", "");
      msg += "; continue with: fashion_mnist train --resume " + r.checkpoint + " and the same options\n";
      std::fputs(msg.c_str(), stderr);
      return 128 + r.signal;  // the shell's convention: 130 for SIGINT, 143 for SIGTERM
    }
    case fn::stop_reason::completed:
    case fn::stop_reason::callback:
      break;
  }
  const double test_acc = r.history.empty() ? fn::evaluate(m, test_batches).accuracy : r.history.back().test_accuracy;
  std::printf("test accuracy: %.4f\n", test_acc);
  if (f.has("--save") && saved_epoch > 0) std::printf("weights saved to %s\n", f.text("--save", "").c_str());
  if (!o.checkpoint_path.empty()) std::printf("checkpoint saved to %s\n", o.checkpoint_path.c_str());
  return 0;
}

int eval(const flags& f) {
  if (!f.has("--weights")) throw usage_error("eval needs --weights PATH");
  constexpr std::size_t most_logits = 500;  // the first evaluation batch's
  const auto count = static_cast<std::size_t>(f.integer("--dump-logits", 0, 1, 0));
  if (count > most_logits) throw usage_error("--dump-logits N: N must be at most 500, got " + std::to_string(count));
  if (f.has("--dump-logits")) check_writable("--dump-logits", f.text("--dump-logits", "", 1));
  const auto test_set = fn::data::load_fashion_mnist(f.text("--data", fn::data::default_data_dir()), fn::data::split::test);
  fn::model<Net, fn::mode::infer> m{f.text("--weights", "")};
  xt::xtensor<float, 2> logits;
  const double acc = accuracy(m, test_set, test_set.size(), &logits);
  std::printf("test accuracy: %.4f\n", acc);
  if (f.has("--dump-logits")) {
    std::vector<float> rows(logits.data(), logits.data() + count * 10);
    fn::io::save_npy<float>(f.text("--dump-logits", "", 1), rows.data(), {count, 10});
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef FUSENET_MPI
  // MPI only under a launcher: a plain run stays a single process and never initialises MPI.
  std::optional<fn::dist::environment> mpi;
  std::optional<fn::dist::communicator> comm;
  if (launched_by_mpi()) {
    mpi.emplace(argc, argv);
    comm.emplace();
    if (comm->size() > 1) world = &*comm;
  }
  // A process that fails takes the others down with its rank and message, instead of leaving them waiting.
  const auto fail = [&](int status) {
    if (world != nullptr) {
      std::cerr << "fashion_mnist: rank " << world->rank() << " of " << world->size() << " failed; aborting the job\n";
      world->abort(status);
    }
    return status;
  };
#else
  if (launched_by_mpi()) {
    std::cerr << "fashion_mnist: error: started as one of several MPI processes, but this build has no MPI, so it "
                 "cannot train data-parallel; install libopenmpi-dev and configure with meson setup -Dmpi=enabled\n";
    return 1;
  }
  const auto fail = [](int status) { return status; };
#endif
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
                          {"--save", 1}, {"--log", 1}, {"--limit", 1}, {"--warmup", 1}, {"--checkpoint", 1}, {"--resume", 1}}));
    if (cmd == "eval") return eval(flags(argc, argv, 2, {{"--weights", 1}, {"--data", 1}, {"--dump-logits", 2}}));
    if (cli::help_or_version(cmd, "fashion_mnist", usage_text)) return 0;
    throw usage_error("unknown command '" + cmd + "'");
  } catch (const cli::help_request&) {
    std::cout << usage_text;
    return 0;
  } catch (const usage_error& e) {
    std::cerr << "fashion_mnist: " << e.what() << "\n" << (rank() == 0 ? usage_text : "");
    return fail(2);
  } catch (const std::exception& e) {
    std::cerr << "fashion_mnist: " << (ranks() > 1 ? "rank " + std::to_string(rank()) + ": " : "") << "error: " << e.what()
              << "\n";
    return fail(1);
  }
}
