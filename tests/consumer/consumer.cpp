// SPDX-License-Identifier: MIT
// A program outside the fusenet tree: what an installed (or subproject) fusenet must build and run.
#include <fusenet/fusenet.hpp>
#include <iostream>
using namespace fusenet::layers;

using Net =
    fusenet::sequential<input<1, 8, 8>, conv2d<4, 3, padding<1>>, batch_norm, relu, max_pool<2>, flatten, dense<3>>;

int main() {
  fusenet::model<Net, fusenet::mode::train> m{/*seed=*/1};
  fusenet::model<Net, fusenet::mode::infer> deployed{m};
  xt::xtensor<float, 4> x = xt::ones<float>({2, 1, 8, 8});
  auto y = deployed.forward(x);
  std::cout << "fusenet " << fusenet::version() << " (" << fusenet::simd_arch().text() << "): " << y.shape()[0] << "x"
            << y.shape()[1] << "\n";
  return y.shape()[0] == 2 && y.shape()[1] == 3 ? 0 : 1;
}
