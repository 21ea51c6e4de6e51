// SPDX-License-Identifier: MIT
// Fast batch norm (train forward, running update, eval forward, backward) against the scalar twin,
// including large-batch statistics on an offset input, and bit-identical results on 1 and 2 threads.
#include <doctest/doctest.h>

#include <cstddef>
#include <fusenet/kernels/batch_norm.hpp>
#include <fusenet/kernels/scalar/batch_norm.hpp>
#include <random>
#include <vector>

#include "common.hpp"

namespace fk = fusenet::kernels;
using train_test::mismatches;
using train_test::random_vector;

namespace {

struct bn_case {
  fk::batch_norm_geometry g;
  float offset;  // inputs in offset ± 1: a mean far from 0 exposes E[x²] - E[x]² cancellation
};

//                N    C    spatial   offset
const bn_case cases[] = {
    {{64, 32, 28 * 28}, 0.0f},  // reference CNN, first BN
    {{256, 64, 14 * 14}, 3.0f},  // large batch, second BN's shape, offset input
    {{256, 64, 14 * 14}, 0.0f},
    {{3, 5, 15}, 10.0f},        // planes shorter than two vectors: the scalar tail only
    {{4, 3, 37}, -2.0f},        // vector body plus tail
    {{64, 128, 1}, 0.0f},       // BatchNorm1d, reference dense layer
    {{300, 130, 1}, 5.0f},      // BatchNorm1d, channels past one stack block, offset input
    {{2, 1, 1}, 0.0f},          // smallest trainable batch
};

}  // namespace

TEST_CASE("batch_norm_train_forward and update_running match the scalar twin") {
  std::mt19937 rng(5);
  for (const bn_case& c : cases) {  // not [g, offset]: clang 14 cannot capture bindings (CAPTURE is a lambda)
    const auto& g = c.g;
    const float offset = c.offset;
    CAPTURE(g.batch);
    CAPTURE(g.channels);
    CAPTURE(g.spatial);
    CAPTURE(offset);
    const std::size_t size = g.batch * g.channels * g.spatial;
    const auto x = random_vector(size, rng, offset);
    const auto gamma = random_vector(g.channels, rng, 1.0f), beta = random_vector(g.channels, rng);
    for (const bool affine : {true, false}) {
      const float* ga = affine ? gamma.data() : nullptr;
      const float* be = affine ? beta.data() : nullptr;
      std::vector<float> y_ref(size), m_ref(g.channels), v_ref(g.channels);
      std::vector<float> y(size), m(g.channels), v(g.channels);
      fk::scalar::batch_norm_train_forward(g, x.data(), ga, be, 1e-5f, y_ref.data(), m_ref.data(), v_ref.data());
      fk::batch_norm_train_forward(g, x.data(), ga, be, 1e-5f, y.data(), m.data(), v.data());
      CHECK(mismatches(m, m_ref, 1e-6f, 1e-7f) == 0);
      CHECK(mismatches(v, v_ref, 2e-6f, 1e-8f) == 0);
      CHECK(mismatches(y, y_ref, 1e-5f, 2e-5f) == 0);

      std::vector<float> rm_ref = random_vector(g.channels, rng), rv_ref = random_vector(g.channels, rng, 2.0f);
      std::vector<float> rm = rm_ref, rv = rv_ref;
      fk::scalar::batch_norm_update_running(g, m_ref.data(), v_ref.data(), 0.1f, rm_ref.data(), rv_ref.data());
      fk::batch_norm_update_running(g, m.data(), v.data(), 0.1f, rm.data(), rv.data());
      CHECK(mismatches(rm, rm_ref, 1e-6f, 1e-7f) == 0);
      CHECK(mismatches(rv, rv_ref, 2e-6f, 1e-7f) == 0);
    }
  }
}

TEST_CASE("batch_norm_eval_forward matches the scalar twin") {
  std::mt19937 rng(6);
  for (const bn_case& c : cases) {  // not [g, offset]: clang 14 cannot capture bindings (CAPTURE is a lambda)
    const auto& g = c.g;
    const float offset = c.offset;
    CAPTURE(g.channels);
    CAPTURE(g.spatial);
    const std::size_t size = g.batch * g.channels * g.spatial;
    const auto x = random_vector(size, rng, offset);
    const auto gamma = random_vector(g.channels, rng, 1.0f), beta = random_vector(g.channels, rng);
    const auto rm = random_vector(g.channels, rng, offset), rv = random_vector(g.channels, rng, 2.0f);
    std::vector<float> y_ref(size), y(size);
    fk::scalar::batch_norm_eval_forward(g, x.data(), gamma.data(), beta.data(), rm.data(), rv.data(), 1e-5f,
                                        y_ref.data());
    fk::batch_norm_eval_forward(g, x.data(), gamma.data(), beta.data(), rm.data(), rv.data(), 1e-5f, y.data());
    CHECK(mismatches(y, y_ref, 1e-5f, 1e-5f) == 0);
  }
}

TEST_CASE("batch_norm_backward matches the scalar twin: dx overwritten, dgamma and dbeta accumulated") {
  std::mt19937 rng(7);
  for (const bn_case& c : cases) {  // not [g, offset]: clang 14 cannot capture bindings (CAPTURE is a lambda)
    const auto& g = c.g;
    const float offset = c.offset;
    CAPTURE(g.batch);
    CAPTURE(g.channels);
    CAPTURE(g.spatial);
    const std::size_t size = g.batch * g.channels * g.spatial;
    const auto x = random_vector(size, rng, offset), dy = random_vector(size, rng);
    const auto gamma = random_vector(g.channels, rng, 1.0f);
    std::vector<float> y(size), mean(g.channels), var(g.channels);
    fk::scalar::batch_norm_train_forward(g, x.data(), gamma.data(), gamma.data(), 1e-5f, y.data(), mean.data(),
                                         var.data());
    const auto dg0 = random_vector(g.channels, rng), db0 = random_vector(g.channels, rng);
    for (const bool want_dx : {true, false}) {
      std::vector<float> dx_ref(size), dg_ref = dg0, db_ref = db0;
      std::vector<float> dx(size, 7.0f), dg = dg0, db = db0;
      fk::scalar::batch_norm_backward(g, x.data(), gamma.data(), mean.data(), var.data(), 1e-5f, dy.data(),
                                      dx_ref.data(), dg_ref.data(), db_ref.data());
      fk::batch_norm_backward(g, x.data(), gamma.data(), mean.data(), var.data(), 1e-5f, dy.data(),
                              want_dx ? dx.data() : nullptr, dg.data(), db.data());
      // Σ over n = N·spatial products of size ~1: float rounding of the result scales with √n.
      const float sum_tol = 1e-6f * std::sqrt(static_cast<float>(g.batch * g.spatial)) + 1e-6f;
      CHECK(mismatches(dg, dg_ref, 1e-5f, sum_tol) == 0);
      CHECK(mismatches(db, db_ref, 1e-5f, sum_tol) == 0);
      if (want_dx) {
        CHECK(mismatches(dx, dx_ref, 1e-5f, 1e-5f) == 0);
      } else {
        CHECK(mismatches(dx, std::vector<float>(size, 7.0f), 0.0f, 0.0f) == 0);  // untouched
      }
    }
    // gamma = nullptr (affine=False) and no parameter gradients wanted.
    std::vector<float> dx_ref(size), dx(size);
    fk::scalar::batch_norm_backward(g, x.data(), static_cast<const float*>(nullptr), mean.data(), var.data(),
                                    1e-5f, dy.data(), dx_ref.data(), static_cast<float*>(nullptr),
                                    static_cast<float*>(nullptr));
    fk::batch_norm_backward(g, x.data(), nullptr, mean.data(), var.data(), 1e-5f, dy.data(), dx.data(), nullptr,
                            nullptr);
    CHECK(mismatches(dx, dx_ref, 1e-5f, 1e-5f) == 0);
  }
}

TEST_CASE("batch_norm results are bit-identical on 1 and 2 threads") {
  std::mt19937 rng(8);
  const fk::batch_norm_geometry g{64, 32, 28 * 28};
  const std::size_t size = g.batch * g.channels * g.spatial;
  const auto x = random_vector(size, rng, 1.0f), dy = random_vector(size, rng);
  const auto gamma = random_vector(g.channels, rng, 1.0f), beta = random_vector(g.channels, rng);
  std::vector<float> out[2];
  for (int t = 1; t <= 2; ++t) {
    train_test::with_threads(t, [&] {
      std::vector<float> y(size), m(g.channels), v(g.channels), dx(size), dg(g.channels), db(g.channels);
      fk::batch_norm_train_forward(g, x.data(), gamma.data(), beta.data(), 1e-5f, y.data(), m.data(), v.data());
      fk::batch_norm_backward(g, x.data(), gamma.data(), m.data(), v.data(), 1e-5f, dy.data(), dx.data(),
                              dg.data(), db.data());
      auto& o = out[t - 1];
      for (const auto* part : {&y, &m, &v, &dx, &dg, &db}) o.insert(o.end(), part->begin(), part->end());
    });
  }
  CHECK(out[0] == out[1]);
}
