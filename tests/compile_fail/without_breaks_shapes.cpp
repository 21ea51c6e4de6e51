// expect: put flatten before dense
// expect: dense<128>
// without_t removing flatten from the seed network: the twin is checked like any network, so its dense<128>
// meets a 64×7×7 input and the usual shape error names it.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
#include <fusenet/without.hpp>
using namespace fusenet::layers;
using seed = fusenet::sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,
                                 conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>, flatten, dense<128>,
                                 batch_norm, relu, dense<10>>;
#ifdef FUSENET_CONTROL
using twin = fusenet::without_t<seed, batch_norm>;
#else
using twin = fusenet::without_t<seed, flatten>;
#endif
static_assert(fusenet::output_shape<twin> == fusenet::shape<10>{});
using net = twin;  // the name model_variant.cpp builds
