// SPDX-License-Identifier: MIT
// infer/zoo/mobilenet: the zoo's mobilenet network benchmarked alone in this translation unit, to spread compile cost.
#include "zoo/bench_net.hpp"
#include "zoo/nets.hpp"

namespace fusenet::zoo {

bool bench_mobilenet(const bench_context& c) { return bench_net<mobilenet>(c, "mobilenet", {1, 64}, 64); }

}  // namespace fusenet::zoo
