// expect: input_is_spatial
// expect: conv2d<16, 3>
// expect: shape<5408>
// A convolution after flatten: it needs C×H×W but gets 8·26·26 = 5408 features.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using net = fusenet::sequential<input<1, 28, 28>, conv2d<8, 3>, conv2d<16, 3>, flatten, dense<10>>;
#else
using net = fusenet::sequential<input<1, 28, 28>, conv2d<8, 3>, flatten, conv2d<16, 3>, dense<10>>;
#endif
static_assert(fusenet::output_shape<net> == fusenet::shape<10>{});
