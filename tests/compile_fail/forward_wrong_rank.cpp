// expect: the rank of the tensor (E in the note) is not the network's
// expect: >, 3, xt::layout_type::row_major
// A forgotten channel axis: 28×28 images passed as N×H×W to a network declared on 1×28×28. xtensor would convert
// the rank-3 tensor and overrun the rank-4 input; fusenet rejects it at compile time, in both models.
#include <fusenet/model.hpp>
using namespace fusenet::layers;

using net = fusenet::sequential<input<1, 28, 28>, conv2d<4, 3>, relu, flatten, dense<10>>;

#ifdef FUSENET_CONTROL
using batch = xt::xtensor<float, 4>;
#else
using batch = xt::xtensor<float, 3>;
#endif

float first_logit(fusenet::model<net, fusenet::mode::train>& trained, fusenet::model<net, fusenet::mode::infer>& m,
                  const batch& x) {
  return trained.forward(x)(0, 0) + m.forward(x)(0, 0);
}
