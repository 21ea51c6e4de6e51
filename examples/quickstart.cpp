// SPDX-License-Identifier: MIT
// README's example: declare the reference network, take one Adam step, evaluate, save.
#include <fusenet/fusenet.hpp>
#include <fusenet/train/losses.hpp>
#include <fusenet/train/optimizers.hpp>
#include <iostream>
#include <xtensor/xrandom.hpp>
using namespace fusenet::layers;

using Net = fusenet::sequential<input<1, 28, 28>,                                  //
    conv2d<32, 3, padding<1>>, batch_norm, relu, max_pool<2>,                         //
    conv2d<64, 3, padding<1>>, batch_norm, relu, max_pool<2>,                         //
    flatten, dense<128>, batch_norm, relu, dense<10>>;
static_assert(fusenet::output_shape<Net> == fusenet::shape<10>{});  // checked by the compiler

int main() {
  fusenet::model<Net, fusenet::mode::train> m{/*seed=*/42};
  fusenet::adam opt{m, {.lr = 1e-3f}};
  xt::xtensor<float, 4> x = xt::random::rand<float>({8, 1, 28, 28});
  xt::xtensor<std::int64_t, 1> labels = {0, 1, 2, 3, 4, 5, 6, 7};
  auto logits = m.forward(x);  // batch statistics; running statistics updated
  auto [loss, dlogits] = fusenet::cross_entropy(logits, labels);
  m.zero_grad();
  m.backward(dlogits);
  opt.step();
  auto eval = m.eval_forward(x);  // running statistics
  std::cout << fusenet::summary<Net>() << "loss " << loss << ", eval logits " << eval.shape()[0] << "x"
            << eval.shape()[1] << "\n";
  return std::isfinite(loss) ? 0 : 1;
}
