// SPDX-License-Identifier: MIT
// infer/zoo/lenet5: the zoo's lenet5 network benchmarked alone in this translation unit, to spread compile cost.
#include "zoo/bench_net.hpp"
#include "zoo/nets.hpp"

namespace fusenet::zoo {

bool bench_lenet5(const bench_context& c) { return bench_net<lenet5>(c, "lenet5", {1, 64}, 64); }

}  // namespace fusenet::zoo
