// expect: save: a model<Net, mode::infer> holds folded weights, not the state_dict
// An inference model keeps BatchNorm folded into repacked weights, not PyTorch's state_dict: save the trainer.
#include <fusenet/io/model_io.hpp>
#include <fusenet/model.hpp>
using namespace fusenet::layers;

using net = fusenet::sequential<input<8>, dense<4>, batch_norm, relu, dense<2>>;

void store(const fusenet::model<net, fusenet::mode::train>& trained,
           const fusenet::model<net, fusenet::mode::infer>& deployed) {
#ifdef FUSENET_CONTROL
  static_cast<void>(deployed);
  fusenet::save(trained, "weights.safetensors");
#else
  static_cast<void>(trained);
  fusenet::save(deployed, "weights.safetensors");
#endif
}
