// SPDX-License-Identifier: MIT
// Static facts of max_pool, avg_pool and global_avg_pool: PyTorch's output shapes (floor mode) for every
// option, and their rules as predicates. Numbers: tests/static/verify_counts.py ("*_pool*").

#include <type_traits>

#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

template <class Input, class Layer>
using one = fn::sequential<Input, Layer>;

// The stride defaults to the window, as in torch.nn.MaxPool2d / AvgPool2d.
static_assert(max_pool<3>::step == 3 && max_pool<3>::pad == 0);
static_assert(max_pool<3, stride<1>>::step == 1);

// max_pool_3_s2_p1: MaxPool2d(3, stride=2, padding=1) on 64×112×112 → 64×56×56 (ResNet's stem).
static_assert(fn::output_shape<one<input<64, 112, 112>, max_pool<3, stride<2>, padding<1>>>> ==
              fn::shape<64, 56, 56>{});
static_assert(fn::output_shape<one<input<64, 112, 112>, max_pool<3, padding<1>, stride<2>>>> ==
              fn::shape<64, 56, 56>{});
// avg_pool_2_odd: AvgPool2d(2) on 5×7×7 → 5×3×3 (floor drops the last row and column).
static_assert(fn::output_shape<one<input<5, 7, 7>, avg_pool<2>>> == fn::shape<5, 3, 3>{});
// max_pool_3_s1: MaxPool2d(3, stride=1) on 2×5×6 → 2×3×4.
static_assert(fn::output_shape<one<input<2, 5, 6>, max_pool<3, stride<1>>>> == fn::shape<2, 3, 4>{});
// avg_pool_4_s3_p2: AvgPool2d(4, stride=3, padding=2) on 3×10×11 → 3×4×4.
static_assert(fn::output_shape<one<input<3, 10, 11>, avg_pool<4, stride<3>, padding<2>>>> == fn::shape<3, 4, 4>{});
static_assert(fn::output_shape<one<input<3, 10, 11>, avg_pool<4, padding<2>, stride<3>>>> == fn::shape<3, 4, 4>{});
// max_pool_window_equals_input: MaxPool2d(5) on 4×5×5 → 4×1×1.
static_assert(fn::output_shape<one<input<4, 5, 5>, max_pool<5>>> == fn::shape<4, 1, 1>{});
// global_avg_pool: AdaptiveAvgPool2d(1) on 7×5×3 → 7×1×1.
static_assert(fn::output_shape<one<input<7, 5, 3>, global_avg_pool>> == fn::shape<7, 1, 1>{});

// Pools hold no parameters and cost no multiply-accumulates in fusenet's count (as in torch: no weights).
static_assert(fn::param_count<one<input<5, 7, 7>, avg_pool<2>>> == 0);
static_assert(fn::mac_count<one<input<5, 7, 7>, max_pool<2>>> == 0);
static_assert(fn::param_count<one<input<7, 5, 3>, global_avg_pool>> == 0);

// The kinds stay apart even with the same options.
static_assert(!std::is_same_v<max_pool<2>, avg_pool<2>>);
static_assert(max_pool<2>::kind == "max_pool" && avg_pool<2>::kind == "avg_pool");

// Rules, positive and negative side by side.
static_assert(fn::window_fits_input<max_pool<5>, fn::shape<4, 5, 5>>);
static_assert(!fn::window_fits_input<max_pool<5>, fn::shape<4, 4, 5>>);
static_assert(!fn::window_fits_input<max_pool<2>, fn::shape<4, 1, 1>>, "a third 2x2 pool on 1x1 leaves nothing");
static_assert(fn::window_fits_input<max_pool<3, padding<1>>, fn::shape<4, 1, 1>>, "1 + 2*1 >= 3");
static_assert(fn::padding_fits_window<max_pool<3, padding<1>>, fn::shape<4, 8, 8>>);
static_assert(fn::padding_fits_window<max_pool<4, padding<2>>, fn::shape<4, 8, 8>>, "pad = k/2 is allowed");
static_assert(!fn::padding_fits_window<max_pool<3, padding<2>>, fn::shape<4, 8, 8>>, "PyTorch: pad <= k/2");
static_assert(!fn::padding_fits_window<avg_pool<2, padding<2>>, fn::shape<4, 8, 8>>);
static_assert(fn::input_is_spatial<avg_pool<2>, fn::shape<4, 8, 8>>);
static_assert(!fn::input_is_spatial<avg_pool<2>, fn::shape<256>>);
static_assert(fn::input_is_spatial<global_avg_pool, fn::shape<4, 8, 8>>);
static_assert(!fn::input_is_spatial<global_avg_pool, fn::shape<256>>);
static_assert(global_avg_pool::accepts(fn::chw(4, 1, 1)) && !global_avg_pool::accepts(fn::features(4)));

}  // namespace
