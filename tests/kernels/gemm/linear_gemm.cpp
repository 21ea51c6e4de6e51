// SPDX-License-Identifier: MIT
// GEMM-based dense layer against the scalar reference dense layer, forward and backward.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <fusenet/kernels/linear_gemm.hpp>
#include <fusenet/kernels/scalar/linear.hpp>
#include <limits>
#include <random>
#include <vector>

#include "compare.hpp"

namespace fk = fusenet::kernels;

namespace {

using fusenet::test::random_vector;

using fusenet::test::mismatches;

struct dense_size {
  std::size_t batch, in, out;
};

// The reference CNN's two dense layers at batch 64, then odd sizes around the tile edges.
const dense_size sizes[] = {{64, 3136, 128}, {64, 128, 10}, {1, 1, 1},   {5, 17, 3},
                            {33, 67, 29},    {15, 32, 14},  {7, 300, 45}};

}  // namespace

TEST_CASE("linear via gemm matches the scalar dense layer, forward and backward") {
  std::mt19937 rng(21);
  for (const auto& s : sizes) {
    CAPTURE(s.batch);
    CAPTURE(s.in);
    CAPTURE(s.out);
    const auto x = random_vector(s.batch * s.in, rng);
    const auto w = random_vector(s.out * s.in, rng);
    const auto b = random_vector(s.out, rng);
    const auto dy = random_vector(s.batch * s.out, rng);
    for (const float* bias : {b.data(), static_cast<const float*>(nullptr)}) {
      std::vector<float> ref(s.batch * s.out),
          fast(ref.size(), std::numeric_limits<float>::quiet_NaN());
      fk::scalar::linear_forward(s.batch, s.in, s.out, x.data(), w.data(), bias, ref.data());
      fk::linear_forward(s.batch, s.in, s.out, x.data(), w.data(), bias, fast.data());
      CHECK(mismatches(fast, ref, s.in + 1) == 0);
    }
    // dw, db start non-zero (accumulated); dx starts as NaN (overwritten).
    const auto dw0 = random_vector(w.size(), rng);
    const auto db0 = random_vector(s.out, rng);
    std::vector<float> dx_ref(x.size()), dw_ref = dw0, db_ref = db0;
    fk::scalar::linear_backward(s.batch, s.in, s.out, x.data(), w.data(), dy.data(), dx_ref.data(),
                                dw_ref.data(), db_ref.data());
    std::vector<float> dx(x.size(), std::numeric_limits<float>::quiet_NaN()), dw = dw0, db = db0;
    fk::linear_backward(s.batch, s.in, s.out, x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                        db.data());
    CHECK(mismatches(dx, dx_ref, s.out) == 0);
    CHECK(mismatches(dw, dw_ref, s.batch + 1) == 0);
    CHECK(mismatches(db, db_ref, s.batch + 1) == 0);
    std::vector<float> dw_only = dw0;
    fk::linear_backward(s.batch, s.in, s.out, x.data(), w.data(), dy.data(), nullptr,
                        dw_only.data(), nullptr);
    CHECK(mismatches(dw_only, dw_ref, s.batch + 1) == 0);
  }
}
