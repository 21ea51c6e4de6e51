// SPDX-License-Identifier: MIT
// infer/zoo/vgg: the zoo's vgg network benchmarked alone in this translation unit, to spread compile cost.
#include "zoo/bench_net.hpp"
#include "zoo/nets.hpp"

namespace fusenet::zoo {

bool bench_vgg(const bench_context& c) { return bench_net<vgg>(c, "vgg", {1, 64}, 64); }

}  // namespace fusenet::zoo
