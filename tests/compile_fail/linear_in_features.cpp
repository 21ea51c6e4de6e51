// expect: linear<50176, 128>
// expect: 64, 7, 7
// expect: in_features_match
// The seed network's classic bug: linear<64*28*28, 128> after two 2×2 poolings, where 64×7×7 = 3136 arrive.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using head = linear<64 * 7 * 7, 128>;
#else
using head = linear<64 * 28 * 28, 128>;  // forgot the two poolings
#endif
using net = fusenet::sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,
                                conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>, flatten, head, batch_norm,
                                relu, dense<10>>;
static_assert(fusenet::output_shape<net> == fusenet::shape<10>{});
