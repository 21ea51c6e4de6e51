// SPDX-License-Identifier: MIT
// infer/zoo/cifar_resnet20: the zoo's cifar_resnet20 network benchmarked alone in this translation unit, to spread compile cost.
#include "zoo/bench_net.hpp"
#include "zoo/nets.hpp"

namespace fusenet::zoo {

bool bench_cifar_resnet20(const bench_context& c) { return bench_net<cifar_resnet20>(c, "cifar_resnet20", {1, 64}, 64); }

}  // namespace fusenet::zoo
