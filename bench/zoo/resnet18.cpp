// SPDX-License-Identifier: MIT
// infer/zoo/resnet18: the zoo's resnet18 network benchmarked alone in this translation unit, to spread compile cost.
#include "zoo/bench_net.hpp"
#include "zoo/nets.hpp"

namespace fusenet::zoo {

// Batch 1 only: at 3.6 GFLOP a sample, batch 64 would take seconds a call on two cores.
bool bench_resnet18(const bench_context& c) { return bench_net<resnet18>(c, "resnet18", {1}); }

}  // namespace fusenet::zoo
