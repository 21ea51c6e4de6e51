// expect: kernel_fits_input
// expect: conv2d<16, 7>
// expect: shape<8, 6, 6>
// A 7×7 kernel on the 6×6 map left after two 2×2 poolings of 26×26.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using late_conv = conv2d<16, 7, padding<1>>;
#else
using late_conv = conv2d<16, 7>;  // 6 < 7 and no padding
#endif
using net = fusenet::sequential<input<1, 28, 28>, conv2d<8, 3>, max_pool<2>, max_pool<2>, late_conv, relu, flatten,
                                dense<10>>;
static_assert(fusenet::output_shape<net> == fusenet::shape<10>{});
