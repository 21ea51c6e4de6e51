// expect: each at most once
// known-issue: clang++: clang 14 marks a class whose static_assert failed invalid, so sequential<> then also reports "every entry after input must be a layer" (2 errors instead of 1)
// expect: conv2d<8, 3, fusenet::layers::padding<1>, fusenet::layers::padding<2>
// padding given twice: which one was meant?
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using first = conv2d<8, 3, padding<1>, stride<2>>;
#else
using first = conv2d<8, 3, padding<1>, padding<2>>;
#endif
using net = fusenet::sequential<input<1, 28, 28>, first, relu, flatten, dense<10>>;
static_assert(fusenet::output_shape<net> == fusenet::shape<10>{});
