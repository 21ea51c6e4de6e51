// expect: padding<P>: P must be 0 or more
// known-issue: clang++: clang 14 marks a class whose static_assert failed invalid, so sequential<> then also reports "every entry after input must be a layer" (2 errors instead of 1)
// padding<-1> is rejected where it is written, not later as a huge unsigned number.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using first = conv2d<8, 3, padding<1>>;
#else
using first = conv2d<8, 3, padding<-1>>;
#endif
using net = fusenet::sequential<input<1, 28, 28>, first, relu, flatten, dense<10>>;
static_assert(fusenet::output_shape<net> == fusenet::shape<10>{});
