// SPDX-License-Identifier: MIT
// Data-parallel training speed of the reference network (issue 16): training
// steps per second at a global batch of 64 and 256, run as `dist_bench` (1
// process; OMP_NUM_THREADS threads) or `mpirun -np 2 dist_bench` (2 processes,
// set OMP_NUM_THREADS=1), with the gradient allreduce's time: a blocking
// allreduce of all gradients alone, and the part of it still waited for after
// backward (exposed); overlap = 1 − exposed / blocking. One JSON object a line.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fusenet/dist/all.hpp>
#include <fusenet/fusenet.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <random>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {
using Net =
    fn::sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, batch_norm,
                   relu, max_pool<2>, conv2d<64, 3, padding<1>>, batch_norm,
                   relu, max_pool<2>, flatten, dense<128>, batch_norm, relu,
                   dense<10>>;
using M = fn::model<Net, fn::mode::train>;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}
} // namespace

int main(int argc, char **argv) {
  fn::dist::environment env(argc, argv);
  fn::dist::communicator comm;
  const auto ranks = static_cast<std::size_t>(comm.size());
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  for (const std::size_t global : {std::size_t{64}, std::size_t{256}}) {
    const std::size_t per = global / ranks, steps = global == 64 ? 40 : 12,
                      warmup = 3;
    M m{1};
    fn::adam opt{m, {.lr = 1e-3f}};
    fn::dist::data_parallel<M> dp(comm, m);
    fn::dist::synced_optimizer<M, fn::adam> synced(dp, opt);
    xt::xtensor<float, 4> x =
        xt::xtensor<float, 4>::from_shape({per, 1, 28, 28});
    xt::xtensor<std::int64_t, 1> y =
        xt::xtensor<std::int64_t, 1>::from_shape({per});
    std::mt19937_64 rng(static_cast<std::uint64_t>(comm.rank()));
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (auto &v : x)
      v = u(rng);
    for (auto &v : y)
      v = static_cast<std::int64_t>(rng() % 10);
    double elapsed = 0;
    for (std::size_t s = 0; s < warmup + steps; ++s) {
      if (s == warmup)
        dp.reset_times(), comm.barrier();
      const auto t0 = clock_type::now();
      auto [loss, dlogits] = fn::cross_entropy(m.forward(x), y);
      m.zero_grad();
      m.backward(dlogits);
      synced.step();
      if (s >= warmup)
        elapsed += seconds_since(t0);
    }
    // the same gradients allreduced alone, blocking, for the overlap figure
    std::size_t floats = 0;
    for (const auto &p : m.parameters())
      floats += p.size;
    std::vector<float> grads(floats, 1.0f), sums(floats);
    double blocking = 0;
    if (ranks > 1) {
      comm.barrier();
      for (int r = 0; r < 20; ++r) {
        const auto t0 = clock_type::now();
        MPI_Allreduce(grads.data(), sums.data(), static_cast<int>(floats),
                      MPI_FLOAT, MPI_SUM, comm.native());
        blocking += seconds_since(t0) / 20;
      }
    }
    const double exposed =
        dp.times().exposed_seconds / static_cast<double>(steps);
    const double worst =
        comm.sum(elapsed) / static_cast<double>(ranks); // mean over ranks
    if (comm.is_root())
      std::printf(
          "{\"bench\": \"dist_train_step\", \"net\": \"reference\", "
          "\"processes\": %zu, \"threads\": %d, "
          "\"global_batch\": %zu, \"steps\": %zu, \"steps_per_s\": %.2f, "
          "\"ms_per_step\": %.2f, "
          "\"grad_bytes\": %zu, \"buckets\": %zu, \"allreduce_blocking_ms\": "
          "%.3f, "
          "\"allreduce_exposed_ms\": %.3f, \"overlap\": %.2f}\n",
          ranks, threads, global, steps, static_cast<double>(steps) / worst,
          1e3 * worst / static_cast<double>(steps), floats * sizeof(float),
          dp.bucket_count(), 1e3 * blocking, 1e3 * exposed,
          ranks > 1 && blocking > 0 ? std::max(0.0, 1.0 - exposed / blocking)
                                    : 0.0);
  }
  return 0;
}
