// SPDX-License-Identifier: MIT
// Trains a small ResNet (BatchNorm, residual blocks) on your own images, laid out as ROOT/{train,test}/<class>/.
//   image_folder train --data ROOT --epochs N [--batch B] [--lr LR] [--seed S] [--threads T]
//                      [--loader-threads L] [--fit resize|center-crop] [--save PATH] [--log PATH.csv]
//   image_folder eval --data ROOT --weights PATH [--threads T] [--fit resize|center-crop]
// Images are decoded and augmented (random crop with 4 pixels of padding, horizontal flip) on L loader threads
// while the model trains on T threads, and normalised to [-1, 1] per channel (mean 0.5, std 0.5).
// train --save PATH rewrites PATH after every completed epoch; a bad image stops training
// with the file's name and leaves PATH as the last completed epoch wrote it. The flags are parsed by cli_flags.hpp,
// as fashion_mnist's: a flag given twice is a usage error, COMMAND --help and --version exit 0.
#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fusenet/data/image_folder.hpp>
#include <fusenet/data/pipeline_batches.hpp>
#include <fusenet/data/transforms.hpp>
#include <fusenet/train/fit.hpp>
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

#include "cli_flags.hpp"
#include "image_folder_net.hpp"

namespace fn = fusenet;
namespace data = fusenet::data;
using Net = image_folder_example::net;
using image_folder_example::max_classes;

namespace {

using cli::flags;
using cli::usage_error;

const char* const usage_text =
    "usage:\n"
    "  image_folder train --data ROOT --epochs N [--batch B] [--lr LR] [--seed S] [--threads T]\n"
    "                     [--loader-threads L] [--fit resize|center-crop] [--save PATH] [--log PATH.csv]\n"
    "  image_folder eval --data ROOT --weights PATH [--threads T] [--fit resize|center-crop]\n"
    "ROOT holds train/ and test/, each with one folder of .png/.jpg images per class (at most 10 classes);\n"
    "images are brought to 3x32x32 (grey ones repeated to RGB).\n"
    "A flag given twice is an error.\n"
    "  image_folder --help | --version     (or COMMAND --help)\n"
    "exit status: 0 done, 1 error (bad data: the message names the file), 2 usage, 3 training diverged\n";

// --fit resize|center-crop: how images of other sizes are brought to 3x32x32.
data::image_format image_format_of(const flags& f) {
  const std::string how = f.text("--fit", "resize");
  if (how != "resize" && how != "center-crop")
    throw usage_error("--fit expects resize or center-crop, got '" + how + "'");
  return {3, 32, 32, how == "resize" ? data::fit::resize : data::fit::center_crop};
}

void set_threads(const flags& f) {
  const auto threads = f.integer("--threads", 2, 1);
#ifdef _OPENMP
  omp_set_num_threads(static_cast<int>(threads));
#else
  if (threads > 1) std::cerr << "note: built without OpenMP; the model runs on one thread\n";
#endif
}

data::train_test_folders open_folders(const flags& f) {
  const std::string root = f.text("--data", "");
  auto folders = data::open_train_test_folders(root, image_format_of(f));
  if (folders.train.classes().size() > max_classes)
    throw usage_error(root + " has " + std::to_string(folders.train.classes().size()) +
                      " classes; this example's network has " + std::to_string(max_classes) + " outputs");
  return folders;
}

// Normalisation to [-1, 1] (torchvision's Normalize((0.5,) * 3, (0.5,) * 3)) rather than the training set's
// channel statistics (data::compute_channel_stats): those would need a decoding pass over the whole training set
// before training and again for eval, and the saved weights do not carry them.
data::channel_stats fixed_stats() { return {{0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}}; }

// The test folder in order, normalised as in training, not augmented: what fit's validation and eval read.
data::pipeline_batches test_batches(const data::image_folder& folder, std::size_t loader_threads) {
  return data::pipeline_batches(folder, {.batches = {.batch_size = 256, .shuffle = false, .last = data::last_batch::keep},
                                         .augment = {.normalize_with = fixed_stats()},
                                         .threads = loader_threads});
}

// What --save PATH holds after a stop, for the error message.
std::string kept(const flags& f, std::size_t saved_epoch) {
  if (!f.has("--save")) return "";
  return saved_epoch == 0 ? "; no epoch completed, " + f.text("--save", "") + " not written"
                          : "; " + f.text("--save", "") + " keeps epoch " + std::to_string(saved_epoch);
}

int train(const flags& f) {
  if (!f.has("--data")) throw usage_error("train needs --data ROOT");
  if (!f.has("--epochs")) throw usage_error("train needs --epochs N");
  const auto epochs = static_cast<std::size_t>(f.integer("--epochs", 1, 1));
  const auto batch = static_cast<std::size_t>(f.integer("--batch", 64, 2));
  const float lr = f.real("--lr", 2e-3f);
  const auto seed = static_cast<std::uint64_t>(f.integer("--seed", 42, 0));
  const auto loader_threads = static_cast<std::size_t>(f.integer("--loader-threads", 1, 0));
  // Output paths are checked before the folders are read and an epoch is spent, as in fashion_mnist.
  for (const char* path_flag : {"--save", "--log"})
    if (f.has(path_flag)) cli::check_writable(path_flag, f.text(path_flag, ""));
  set_threads(f);
  const auto folders = open_folders(f);
  std::printf("%zu training and %zu test images, %zu classes\n", folders.train.size(), folders.test.size(),
              folders.train.classes().size());
  std::fflush(stdout);
  fn::model<Net, fn::mode::train> m{seed};
  fn::adam opt{m, {.lr = lr}};
  // CIFAR's usual augmentation: random 32×32 crops of the image padded by 4, random horizontal flips.
  data::pipeline_batches train_batches(
      folders.train, {.batches = {.batch_size = batch, .seed = seed},
                      .augment = {.crop_padding = 4, .horizontal_flip = true, .normalize_with = fixed_stats()},
                      .threads = loader_threads,
                      .epochs = epochs});
  auto test = test_batches(folders.test, loader_threads);

  fn::fit_options o;
  o.epochs = epochs;
  // Cosine annealing over the run (torch's CosineAnnealingLR, T_max = epochs, stepped per epoch).
  o.schedule = fn::every_step(fn::cosine_lr{lr, epochs});
  o.validate = [&] {
    fn::model<Net, fn::mode::infer> deployed{m};  // BatchNorm folded
    return fn::evaluate(deployed, test);
  };
  o.log_path = f.has("--log") ? f.text("--log", "") : "";
  // Weights after every epoch, written atomically (temporary file, then rename): whatever stops a later epoch,
  // PATH holds the last completed one.
  std::size_t saved_epoch = 0;
  if (f.has("--save"))
    o.on_epoch_end.push_back([&](const fn::epoch_metrics& e) {
      fn::save(m, f.text("--save", ""));
      saved_epoch = e.epoch;
      return fn::callback_action::keep_going;
    });
  fn::fit_result r;
  try {
    r = fn::fit(m, opt, train_batches, o);
  } catch (const fn::file_error& e) {
    // A bad image, found by the loaders when its batch came up: training stops there, no further update.
    std::fprintf(stderr, "image_folder: error: %s%s\n", e.what(), kept(f, saved_epoch).c_str());
    return 1;
  }
  switch (r.reason) {
    case fn::stop_reason::non_finite_loss:
      std::fprintf(stderr, "image_folder: non-finite loss at epoch %zu, step %zu%s; try a smaller --lr\n", r.epoch,
                   r.step, kept(f, saved_epoch).c_str());
      return 3;
    case fn::stop_reason::non_finite_weights:
      std::fprintf(stderr, "image_folder: non-finite weights after epoch %zu (%s)%s; try a smaller --lr\n", r.epoch,
                   r.problem.c_str(), kept(f, saved_epoch).c_str());
      return 3;
    case fn::stop_reason::interrupted:  // SIGINT / SIGTERM: fit finished the step and stopped
      std::fprintf(stderr, "image_folder: interrupted by %s at epoch %zu after step %zu%s\n",
                   r.signal == SIGINT ? "SIGINT" : "SIGTERM", r.epoch, r.step, kept(f, saved_epoch).c_str());
      return 128 + r.signal;  // the shell's convention: 130 for SIGINT, 143 for SIGTERM
    case fn::stop_reason::completed:
    case fn::stop_reason::callback:
      break;
  }
  if (r.history.empty()) throw std::logic_error("fit completed no epoch");
  std::printf("test accuracy: %.4f\n", r.history.back().test_accuracy);
  if (f.has("--save")) std::printf("weights saved to %s\n", f.text("--save", "").c_str());
  return 0;
}

int eval(const flags& f) {
  if (!f.has("--data")) throw usage_error("eval needs --data ROOT");
  if (!f.has("--weights")) throw usage_error("eval needs --weights PATH");
  set_threads(f);
  const auto folders = open_folders(f);
  fn::model<Net, fn::mode::infer> m{f.text("--weights", "")};
  auto test = test_batches(folders.test, 1);
  std::printf("test accuracy: %.4f\n", fn::evaluate(m, test).accuracy);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) throw usage_error("missing command");
    const std::string cmd = argv[1];
    if (cmd == "train")
      return train(flags(argc, argv, 2,
                         {{"--data", 1},
                          {"--epochs", 1},
                          {"--batch", 1},
                          {"--lr", 1},
                          {"--seed", 1},
                          {"--threads", 1},
                          {"--loader-threads", 1},
                          {"--fit", 1},
                          {"--save", 1},
                          {"--log", 1}}));
    if (cmd == "eval")
      return eval(flags(argc, argv, 2, {{"--data", 1}, {"--weights", 1}, {"--threads", 1}, {"--fit", 1}}));
    if (cli::help_or_version(cmd, "image_folder", usage_text)) return 0;
    throw usage_error("unknown command '" + cmd + "'");
  } catch (const cli::help_request&) {
    std::cout << usage_text;
    return 0;
  } catch (const usage_error& e) {
    std::cerr << "image_folder: " << e.what() << "\n" << usage_text;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "image_folder: error: " << e.what() << "\n";
    return 1;
  }
}
