// expect: Options_written_as_padding_P
// A bare number where an option is expected (PyTorch's positional habit): options are types, padding<1>.
// C++ cannot accept both a type and a value at one template position, so the compiler's own type/value error is
// the one error; it shows the options' parameter name (GCC) or its declaration line (clang).
#include <fusenet/layers/all.hpp>
using namespace fusenet::layers;

#ifdef FUSENET_CONTROL
using first = conv2d<16, 3, padding<1>>;
#else
using first = conv2d<16, 3, 1>;
#endif
