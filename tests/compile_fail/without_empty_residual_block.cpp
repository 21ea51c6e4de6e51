// expect: the block would be empty
// without_t removing every layer of a residual block's main path (its shortcut keeps a conv).
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
#include <fusenet/without.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using block = residual<batch_norm, relu, shortcut<conv2d<8, 1>>>;
#else
using block = residual<batch_norm, shortcut<conv2d<8, 1>>>;
#endif
using net = fusenet::sequential<input<8, 4, 4>, conv2d<8, 3, padding<1>>, block, relu, flatten, dense<10>>;
static_assert(fusenet::output_shape<fusenet::without_t<net, batch_norm>> == fusenet::shape<10>{});
