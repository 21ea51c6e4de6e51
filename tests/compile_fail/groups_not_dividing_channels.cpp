// expect: groups_divide_channels
// expect: conv2d<8, 3, fusenet::layers::groups<4>
// expect: shape<6, 8, 8>
// groups<4> on 6 input channels: PyTorch raises "in_channels must be divisible by groups".
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using grouped = conv2d<8, 3, groups<2>>;
#else
using grouped = conv2d<8, 3, groups<4>>;  // 4 does not divide 6
#endif
using net = fusenet::sequential<input<6, 8, 8>, grouped, relu, global_avg_pool, flatten, dense<2>>;
static_assert(fusenet::output_shape<net> == fusenet::shape<2>{});
