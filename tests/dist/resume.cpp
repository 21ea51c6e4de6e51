// SPDX-License-Identifier: MIT
// Checkpoint and resume in data-parallel training, run by mpirun -np 2: fit
// with a synced_optimizer writes its checkpoints from rank 0 alone, and a job
// that stops after epoch 1 and is resumed from that checkpoint by every rank
// (fresh processes' state: other weights, a new optimizer) ends where the
// uninterrupted job ends, bit for bit: weights, running statistics, counters
// and Adam's moments, on every rank.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fusenet/dist/all.hpp>
#include <fusenet/fusenet.hpp>
#include <fusenet/train/checkpoint.hpp>
#include <fusenet/train/fit.hpp>
#include <fusenet/train/optimizers.hpp>
#include <optional>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

using net = fn::sequential<input<1, 8, 8>, conv2d<16, 3, padding<1>>,
                           batch_norm, relu, max_pool<2>, flatten, dense<16>,
                           batch_norm, relu, dense<10>>;
using trainer = fn::model<net, fn::mode::train>;
constexpr std::size_t epochs = 3, global_batch = 32;

fn::data::dataset make_data() {
  fn::data::dataset d;
  d.images = xt::xtensor<float, 4>::from_shape({96, 1, 8, 8});
  d.labels = xt::xtensor<std::uint8_t, 1>::from_shape({96});
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto &v : d.images)
    v = normal(rng);
  for (auto &v : d.labels)
    v = static_cast<std::uint8_t>(rng() % 10);
  return d;
}

/// Trains m with Adam data-parallel from `resume` (or the start) for the run's
/// epochs, stopping after `stop_after` epochs when non-zero; checkpoints to
/// `checkpoint` when non-empty. Returns Adam's state.
std::vector<float> train(const fn::dist::communicator &comm, trainer &m,
                         fn::adam &opt, const fn::data::dataset &d,
                         const std::string &checkpoint, std::size_t stop_after,
                         std::optional<fn::training_progress> resume = {}) {
  fn::dist::data_parallel<trainer> dp(comm, m);
  fn::dist::synced_optimizer<trainer, fn::adam> synced(dp, opt);
  fn::dist::sharded_batches shards{d,
                                   {.batch_size = global_batch, .seed = 5},
                                   static_cast<std::size_t>(comm.rank()),
                                   static_cast<std::size_t>(comm.size())};
  fn::fit_options o;
  o.epochs = epochs;
  o.report = nullptr;
  o.progress = fn::progress_mode::off;
  o.handle_signals = false;
  o.checkpoint_path = checkpoint;
  o.resume = resume;
  if (stop_after > 0)
    o.on_epoch_end.push_back([stop_after](const fn::epoch_metrics &e) {
      return e.epoch == stop_after ? fn::callback_action::stop
                                   : fn::callback_action::keep_going;
    });
  const fn::fit_result r = fn::fit(m, synced, shards, o);
  CHECK(r.reason == (stop_after > 0 ? fn::stop_reason::callback
                                    : fn::stop_reason::completed));
  std::vector<float> state;
  for (std::size_t k = 0; k < m.parameters().size(); ++k) {
    state.insert(state.end(), opt.exp_avg(k).begin(), opt.exp_avg(k).end());
    state.insert(state.end(), opt.exp_avg_sq(k).begin(),
                 opt.exp_avg_sq(k).end());
  }
  return state;
}

/// Every value and counter of m, as bytes.
std::vector<unsigned char> bytes_of(trainer &m) {
  std::vector<unsigned char> b;
  for (const auto &t : m.tensors()) {
    const auto *p = t.counter != nullptr
                        ? reinterpret_cast<const unsigned char *>(t.counter)
                        : reinterpret_cast<const unsigned char *>(t.value);
    b.insert(b.end(), p,
             p + (t.counter != nullptr ? sizeof(std::int64_t)
                                       : t.spec.size() * sizeof(float)));
  }
  return b;
}

} // namespace

TEST_CASE("data-parallel checkpoint: rank 0 writes it, every rank resumes from "
          "it, the run ends as uninterrupted") {
  fn::dist::communicator comm;
  const auto rank = static_cast<std::size_t>(comm.rank());
  const auto d = make_data();
  // one directory for the job: rank 0's process id, sent to every rank
  std::int64_t id = static_cast<std::int64_t>(::getpid());
  comm.broadcast(&id, 1);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("fusenet_dist_resume_" + std::to_string(id));
  if (comm.is_root())
    std::filesystem::create_directories(dir);
  comm.barrier();

  // the uninterrupted job
  trainer whole{21};
  fn::adam whole_opt{whole, {.lr = 1e-2f}};
  const auto whole_adam = train(comm, whole, whole_opt, d, "", 0);

  // a job that stops after epoch 1; each rank names its own checkpoint path,
  // and only rank 0's is written
  const std::string mine =
      (dir / ("epoch1_rank" + std::to_string(rank) + ".safetensors")).string();
  const std::string written = (dir / "epoch1_rank0.safetensors").string();
  {
    trainer first{21};
    fn::adam first_opt{first, {.lr = 1e-2f}};
    train(comm, first, first_opt, d, mine, 1);
  }
  comm.barrier();
  CHECK(std::filesystem::exists(written));
  CHECK(std::filesystem::exists(mine) == (rank == 0));

  // a fresh job: other weights on every rank, a new optimizer, all loading rank
  // 0's checkpoint
  trainer resumed{static_cast<std::uint64_t>(77 + rank)};
  fn::adam resumed_opt{resumed, {.lr = 1e-2f}};
  const fn::training_progress p =
      fn::load_checkpoint(written, resumed, resumed_opt);
  CHECK(p.epoch == 1);
  CHECK(p.step_in_epoch == 0);
  const auto resumed_adam = train(comm, resumed, resumed_opt, d, "", 0, p);

  CHECK(bytes_of(resumed) == bytes_of(whole));
  CHECK(std::memcmp(resumed_adam.data(), whole_adam.data(),
                    whole_adam.size() * sizeof(float)) == 0);
  CHECK(resumed_opt.steps() == whole_opt.steps());
  comm.barrier();
  if (comm.is_root())
    std::filesystem::remove_all(dir);
}
