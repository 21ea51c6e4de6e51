// expect: no layer would be left after input
// without_t removing the only kind of layer a network has: the twin would be sequential<input<...>>.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
#include <fusenet/without.hpp>
using namespace fusenet::layers;
using net = fusenet::sequential<input<16>, relu, relu>;
#ifdef FUSENET_CONTROL
using twin = fusenet::without_t<net, dropout>;
#else
using twin = fusenet::without_t<net, relu>;
#endif
static_assert(fusenet::output_shape<twin> == fusenet::shape<16>{});
