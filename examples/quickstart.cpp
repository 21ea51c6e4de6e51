// SPDX-License-Identifier: MIT
// README's example: declare the reference network, take one Adam step, evaluate, save, deploy.
// The lines between the two "readme" markers are README.md's first code block, verbatim
// (tests/readme/check_readme.py compares them), so README's code compiles as it stands.
// clang-format off
// [readme]
#include <fusenet/fusenet.hpp>
using namespace fusenet::layers;

using Net = fusenet::sequential<input<1, 28, 28>,
    conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,
    conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>,
    flatten, dense<128>, batch_norm, relu, dense<10>>;
static_assert(fusenet::output_shape<Net> == fusenet::shape<10>{});  // checked by the compiler

float train_step_and_deploy(const xt::xtensor<float, 4>& x, const xt::xtensor<std::int64_t, 1>& labels) {
  fusenet::model<Net, fusenet::mode::train> m{/*seed=*/42};
  fusenet::adam opt{m, {.lr = 1e-3f}};
  auto logits = m.forward(x);                    // batch statistics; running statistics updated
  auto [loss, dlogits] = fusenet::cross_entropy(logits, labels);
  m.zero_grad(); m.backward(dlogits); opt.step();
  auto eval = m.eval_forward(x);                 // running statistics
  fusenet::save(m, "weights.safetensors");       // torch.nn.Sequential state_dict keys

  fusenet::model<Net, fusenet::mode::infer> deployed{m};  // BatchNorm folded, conv+bn+relu+pool fused
  auto y = deployed.forward(x);                           // xtensor in, xtensor out
  std::vector<float> out(x.shape()[0] * 10);
  deployed.forward(x.data(), x.shape()[0], out.data());  // raw pointers: no heap allocation after the first call
  return loss;
}
// [/readme]
// clang-format on

#include <cmath>
#include <iostream>
#include <xtensor/xrandom.hpp>

int main() {
  std::cout << fusenet::summary<Net>() << "kernels: " << fusenet::simd_arch().text() << "\n";
  xt::xtensor<float, 4> x = xt::random::rand<float>({8, 1, 28, 28});
  xt::xtensor<std::int64_t, 1> labels = {0, 1, 2, 3, 4, 5, 6, 7};
  const float loss = train_step_and_deploy(x, labels);
  std::cout << "loss " << loss << "\n";
  return std::isfinite(loss) ? 0 : 1;
}
