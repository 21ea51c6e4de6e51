// SPDX-License-Identifier: MIT
// infer/zoo/reference: the zoo's reference network benchmarked alone in this translation unit, to spread compile cost.
#include "zoo/bench_net.hpp"
#include "zoo/nets.hpp"

namespace fusenet::zoo {

bool bench_reference(const bench_context& c) { return bench_net<reference>(c, "reference", {1, 64}, 64); }

}  // namespace fusenet::zoo
