// SPDX-License-Identifier: MIT
// Static facts of residual: with the identity shortcut and with a projection, output shape and counts as
// the Residual module of tests/static/verify_counts.py ("residual_identity", "residual_projection"), and
// block_matches_shortcut as a predicate.

#include <fusenet/introspection.hpp>
#include <fusenet/layers/all.hpp>

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

// residual_identity: block conv-bn-relu-conv on 8×6×6, identity shortcut; 1184 params, 41472 MACs.
using same_shape = residual<conv2d<8, 3, padding<1>>, batch_norm, relu, conv2d<8, 3, padding<1>>>;
using identity_net = fn::sequential<input<8, 6, 6>, same_shape>;
static_assert(fn::output_shape<identity_net> == fn::shape<8, 6, 6>{});
static_assert(fn::param_count<identity_net> == 1'184 && fn::mac_count<identity_net> == 41'472);
static_assert(fn::activation_bytes<identity_net> == 5'760, "the four block outputs and the sum");

// residual_projection: ResNet's downsampling basic block, 8×7×7 → 16×4×4, then relu; 3680 params, 57344 MACs.
using down = residual<conv2d<16, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu,
                      conv2d<16, 3, padding<1>, bias<false>>, batch_norm,
                      shortcut<conv2d<16, 1, stride<2>, bias<false>>, batch_norm>>;
using projection_net = fn::sequential<input<8, 7, 7>, down, relu>;
static_assert(fn::shape_after<projection_net, 0> == fn::shape<16, 4, 4>{});
static_assert(fn::output_shape<projection_net> == fn::shape<16, 4, 4>{});
static_assert(fn::layer_param_count<projection_net, 0> == 3'680 && fn::param_count<projection_net> == 3'680);
static_assert(fn::layer_mac_count<projection_net, 0> == 57'344 && fn::mac_count<projection_net> == 57'344);
static_assert(fn::activation_bytes<projection_net> == 9'216);

// The shortcut may come anywhere in the list; only the block's layers run in sequence.
using down_shortcut_first = residual<shortcut<conv2d<16, 1, stride<2>, bias<false>>, batch_norm>,
                                     conv2d<16, 3, stride<2>, padding<1>, bias<false>>, batch_norm, relu,
                                     conv2d<16, 3, padding<1>, bias<false>>, batch_norm>;
static_assert(fn::output_shape<fn::sequential<input<8, 7, 7>, down_shortcut_first>> == fn::shape<16, 4, 4>{});
static_assert(fn::param_count<fn::sequential<input<8, 7, 7>, down_shortcut_first>> == 3'680);

// Rules, positive and negative side by side.
static_assert(fn::block_matches_shortcut<same_shape, fn::shape<8, 6, 6>>);
static_assert(!fn::block_matches_shortcut<same_shape, fn::shape<4, 6, 6>>, "8 filters cannot add to 4 channels");
static_assert(fn::block_matches_shortcut<down, fn::shape<8, 7, 7>>);
using down_without_projection = residual<conv2d<16, 3, stride<2>, padding<1>>, batch_norm>;
static_assert(!fn::block_matches_shortcut<down_without_projection, fn::shape<16, 8, 8>>, "stride 2 halves HxW");
using wrong_projection = residual<conv2d<16, 3, stride<2>, padding<1>>, shortcut<conv2d<16, 1>>>;
static_assert(!fn::block_matches_shortcut<wrong_projection, fn::shape<8, 8, 8>>, "16x4x4 vs 16x8x8");
static_assert(fn::block_matches_shortcut<residual<relu, shortcut<identity>>, fn::shape<3>>);
static_assert(!same_shape::accepts(fn::chw(4, 6, 6)) && same_shape::accepts(fn::chw(8, 6, 6)));

}  // namespace
