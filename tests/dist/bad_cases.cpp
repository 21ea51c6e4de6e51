// SPDX-License-Identifier: MIT
// Issue 16's bad cases, one per argument, each run by
// tests/dist/expect_abort.py under mpirun -np 2, which checks that the job ends
// (no hang) with a non-zero status and a message naming the problem:
//   different_networks  rank 1 builds another network than rank 0
//   indivisible         a global batch of 7 for 2 processes
//   throws              rank 1 throws in the middle of training
//   dies                rank 1 exits without finalising MPI in the middle of
//   training
#include <cstdlib>
#include <fusenet/dist/all.hpp>
#include <fusenet/fusenet.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <stdexcept>
#include <string>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {
using net_a = fn::sequential<input<1, 6, 6>, conv2d<4, 3>, batch_norm, relu,
                             flatten, dense<3>>;
using net_b = fn::sequential<input<1, 6, 6>, conv2d<5, 3>, batch_norm, relu,
                             flatten, dense<3>>;

template <class Net>
int train(const fn::dist::communicator &comm, const std::string &mode) {
  using M = fn::model<Net, fn::mode::train>;
  M m{1};
  fn::adam opt{m, {.lr = 1e-3f}};
  fn::dist::data_parallel<M> dp(comm, m);
  fn::dist::synced_optimizer<M, fn::adam> synced(dp, opt);
  for (int step = 0; step < 3; ++step) {
    if (step == 1 && comm.rank() == 1 && mode == "throws")
      throw std::runtime_error("a deliberate failure in step 2");
    if (step == 1 && comm.rank() == 1 && mode == "dies")
      std::_Exit(7);
    xt::xtensor<float, 4> x = xt::ones<float>(
        {std::size_t{4}, std::size_t{1}, std::size_t{6}, std::size_t{6}});
    x(0, 0, 0, 0) = static_cast<float>(comm.rank());
    xt::xtensor<std::int64_t, 1> y = xt::zeros<std::int64_t>({std::size_t{4}});
    auto [loss, dlogits] = fn::cross_entropy(m.forward(x), y);
    m.zero_grad();
    m.backward(dlogits);
    synced.step();
  }
  return 0;
}
} // namespace

int main(int argc, char **argv) {
  fn::dist::environment env(argc, argv);
  fn::dist::communicator comm;
  const std::string mode = argc > 1 ? argv[1] : "";
  return fn::dist::run_or_abort(comm, [&] {
    if (mode == "different_networks")
      return comm.rank() == 1 ? train<net_b>(comm, mode)
                              : train<net_a>(comm, mode);
    if (mode == "indivisible") {
      const auto d = fn::data::dataset{};
      fn::dist::sharded_batches shards{d,
                                       {.batch_size = 7},
                                       static_cast<std::size_t>(comm.rank()),
                                       static_cast<std::size_t>(comm.size())};
      return 0;
    }
    if (mode == "throws" || mode == "dies" || mode == "ok")
      return train<net_a>(comm, mode);
    throw std::invalid_argument("unknown mode '" + mode + "'");
  });
}
