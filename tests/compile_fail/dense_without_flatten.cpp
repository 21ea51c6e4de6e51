// expect: input_is_flat
// expect: put flatten before dense
// expect: dense<10>
// expect: shape<8, 13, 13>
// dense on a C×H×W input: PyTorch's Linear would act on the last axis only, so fusenet asks for flatten.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using net = fusenet::sequential<input<1, 28, 28>, conv2d<8, 3>, relu, max_pool<2>, flatten, dense<10>>;
#else
using net = fusenet::sequential<input<1, 28, 28>, conv2d<8, 3>, relu, max_pool<2>, dense<10>>;
#endif
static_assert(fusenet::output_shape<net> == fusenet::shape<10>{});
