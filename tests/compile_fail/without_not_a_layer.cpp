// expect: Layer must be a layer kind
// without_t given something that is not a layer kind (here the option bias<false>).
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
#include <fusenet/without.hpp>
using namespace fusenet::layers;
using net = fusenet::sequential<input<16>, dense<8, bias<false>>, batch_norm, relu, dense<2>>;
#ifdef FUSENET_CONTROL
using twin = fusenet::without_t<net, batch_norm>;
#else
using twin = fusenet::without_t<net, bias<false>>;
#endif
static_assert(fusenet::output_shape<twin> == fusenet::shape<2>{});
