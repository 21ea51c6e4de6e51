// SPDX-License-Identifier: MIT
// Static facts of flatten, dense and linear: shapes and counts as torch.nn.Flatten / Linear, and the rules
// (flat input, declared features) as predicates. Numbers: tests/static/verify_counts.py ("flatten_dense",
// "dense_nobias").

#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

// flatten_dense: Flatten then Linear(60, 10) on 3×4×5 → [60] then [10]; 610 params, 600 MACs.
using head = fn::sequential<input<3, 4, 5>, flatten, dense<10>>;
static_assert(fn::shape_after<head, 0> == fn::shape<60>{});
static_assert(fn::output_shape<head> == fn::shape<10>{});
static_assert(fn::layer_param_count<head, 1> == 610 && fn::layer_mac_count<head, 1> == 600);
using head_linear = fn::sequential<input<3, 4, 5>, flatten, linear<60, 10>>;
static_assert(fn::output_shape<head_linear> == fn::shape<10>{});
static_assert(fn::param_count<head_linear> == 610 && fn::mac_count<head_linear> == 600);

// dense_nobias: Linear(20, 7, bias=False) on [20] → [7], 140 params.
using no_bias = fn::sequential<input<20>, dense<7, bias<false>>>;
static_assert(fn::output_shape<no_bias> == fn::shape<7>{});
static_assert(fn::param_count<no_bias> == 140 && fn::mac_count<no_bias> == 140);
static_assert(fn::param_count<fn::sequential<input<20>, linear<20, 7, bias<false>>>> == 140);

// flatten of a flat input is the identity (torch.nn.Flatten on N×F).
static_assert(fn::output_shape<fn::sequential<input<20>, flatten>> == fn::shape<20>{});
static_assert(fn::output_shape<fn::sequential<input<1, 1, 1>, flatten>> == fn::shape<1>{});

// Rules, positive and negative side by side. The seed network's classic bug: linear<64·28·28, 128> after
// two 2×2 poolings, where 64×7×7 = 3136 features arrive.
static_assert(fn::in_features_match<linear<3136, 128>, fn::shape<3136>>);
static_assert(!fn::in_features_match<linear<50176, 128>, fn::shape<3136>>);
static_assert(fn::in_features_match<linear<3136, 128>, fn::shape<64, 7, 7>>, "sizes agree, flatness is its own rule");
static_assert(!fn::in_features_match<linear<50176, 128>, fn::shape<64, 7, 7>>);
static_assert(fn::input_is_flat<dense<10>, fn::shape<3136>>);
static_assert(!fn::input_is_flat<dense<10>, fn::shape<64, 7, 7>>, "dense needs flatten before it");
static_assert(!fn::input_is_flat<linear<3136, 10>, fn::shape<64, 7, 7>>);
static_assert(!dense<10>::accepts(fn::chw(64, 7, 7)) && dense<10>::accepts(fn::features(3136)));
static_assert(!linear<3136, 10>::accepts(fn::chw(64, 7, 7)), "not even when the sizes agree: PyTorch would act "
                                                               "on the last axis only");
static_assert(linear<3136, 10>::accepts(fn::features(3136)) && !linear<3136, 10>::accepts(fn::features(3135)));

}  // namespace
