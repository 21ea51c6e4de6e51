// expect: the network has no layers after input
// sequential<input<...>> declares an input and nothing to compute.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using net = fusenet::sequential<input<1, 28, 28>, flatten, dense<10>>;
#else
using net = fusenet::sequential<input<1, 28, 28>>;
#endif
static_assert(fusenet::output_shape<net> == fusenet::shape<10>{});
