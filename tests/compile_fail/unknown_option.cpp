// expect: options are stride<S> and padding<P>
// known-issue: clang++: clang 14 marks a class whose static_assert failed invalid, so sequential<> then also reports "every entry after input must be a layer" (2 errors instead of 1)
// dilation is an option of conv2d, not of max_pool.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using pool = max_pool<2, stride<2>>;
#else
using pool = max_pool<2, dilation<2>>;
#endif
using net = fusenet::sequential<input<1, 28, 28>, pool, flatten, dense<10>>;
static_assert(fusenet::output_shape<net> == fusenet::shape<10>{});
