// expect: window_fits_input
// expect: max_pool<7>
// expect: shape<3, 5, 5>
// A 7×7 pooling window on a 5×5 input.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using pool = max_pool<5>;
#else
using pool = max_pool<7>;  // the window is larger than the input
#endif
using net = fusenet::sequential<input<3, 5, 5>, pool, flatten, dense<4>>;
static_assert(fusenet::output_shape<net> == fusenet::shape<4>{});
