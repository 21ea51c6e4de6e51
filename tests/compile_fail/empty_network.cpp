// expect: an empty network
// sequential<> has neither an input nor layers; asking for its output shape gives that one error only.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using net = fusenet::sequential<input<1, 28, 28>, flatten, dense<10>>;
#else
using net = fusenet::sequential<>;
#endif
static_assert(fusenet::output_shape<net> == fusenet::shape<10>{});
