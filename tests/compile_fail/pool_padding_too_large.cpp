// expect: padding_fits_window
// expect: max_pool<3, fusenet::layers::stride<2>, fusenet::layers::padding<2>
// PyTorch: "pad should be at most half of effective kernel size".
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using pool = max_pool<3, stride<2>, padding<1>>;
#else
using pool = max_pool<3, stride<2>, padding<2>>;
#endif
using net = fusenet::sequential<input<3, 16, 16>, pool, flatten, dense<10>>;
static_assert(fusenet::output_shape<net> == fusenet::shape<10>{});
