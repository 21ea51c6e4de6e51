// expect: eps<Num, Den>: write integers with Den > 0
// known-issue: clang++: clang 14 marks a class whose static_assert failed invalid, so batch_norm_with and sequential<> then report their own errors too (3 instead of 1), as in padding_negative
// A real-valued option in its portable form, Num / Den, with a zero denominator: rejected where it is written.
#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;
#ifdef FUSENET_CONTROL
using norm = batch_norm_with<eps<1, 1000>>;
#else
using norm = batch_norm_with<eps<1, 0>>;
#endif
using net = fusenet::sequential<input<1, 8, 8>, conv2d<4, 3>, norm, relu, flatten, dense<10>>;
static_assert(fusenet::output_shape<net> == fusenet::shape<10>{});
