// expect: block_matches_shortcut
// expect: shape<16, 4, 4>
// expect: residual<fusenet::layers::conv2d<16, 3
// expect: shape<8, 8, 8>
// A downsampling block (8×8×8 → 16×4×4) without the projection its shortcut needs.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
using net = fusenet::sequential<input<8, 8, 8>,
                                residual<conv2d<16, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu,
                                         conv2d<16, 3, padding<1>, bias<false>>, batch_norm
#ifdef FUSENET_CONTROL
                                         , shortcut<conv2d<16, 1, stride<2>, bias<false>>, batch_norm>
#endif
                                         >,
                                relu, global_avg_pool, flatten, dense<10>>;
static_assert(fusenet::output_shape<net> == fusenet::shape<10>{});
