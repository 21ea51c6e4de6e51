// expect: window_fits_input
// expect: avg_pool<2, fusenet::layers::stride<2>
// expect: shape<4, 1, 1>
// One pooling too many: 8 → 4 → 2 → 1, and a fourth 2×2 pooling would leave 0×0.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
using net = fusenet::sequential<input<4, 8, 8>, max_pool<2>, max_pool<2>, max_pool<2>,
#ifndef FUSENET_CONTROL
                                avg_pool<2, stride<2>>,  // (1 - 2) / 2 + 1 = 0 outputs
#endif
                                flatten, dense<3>>;
static_assert(fusenet::output_shape<net> == fusenet::shape<3>{});
