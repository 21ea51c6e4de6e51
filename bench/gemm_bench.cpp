// SPDX-License-Identifier: MIT
// GEMM benchmark on the reference CNN training shapes (batch 64): blocked xsimd GEMM vs scalar
// twin. Prints one JSON object per line: name, impl, threads, M, N, K, "ms" (median wall time),
// "gflops" (from ms), "cpu_ms" (median process CPU time) and "gflops_per_core" (from cpu_ms: the
// rate per busy core, which stays meaningful when other jobs share the cores).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <ctime>
#include <functional>
#include <fusenet/kernels/conv2d_gemm.hpp>
#include <fusenet/kernels/gemm.hpp>
#include <fusenet/kernels/scalar/conv2d.hpp>
#include <fusenet/kernels/scalar/gemm.hpp>
#include <random>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fk = fusenet::kernels;

namespace {

struct shape {
  const char* name;
  fk::transpose ta, tb;
  std::size_t m, n, k;
};

struct timing {
  double ms;      // median wall time of one call
  double cpu_ms;  // median process CPU time of one call (all threads; immune to waiting for a core)
};

// Medians over `reps` samples after one warm-up; each sample times `inner` back-to-back calls so
// that tiny shapes are not measured at the clock's resolution.
timing measure(const std::function<void()>& run, int reps, int inner) {
  run();
  std::vector<double> wall, cpu;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::clock_t c0 = std::clock();
    for (int i = 0; i < inner; ++i) run();
    const std::clock_t c1 = std::clock();
    const auto t1 = std::chrono::steady_clock::now();
    wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count() / inner);
    cpu.push_back(1e3 * static_cast<double>(c1 - c0) / CLOCKS_PER_SEC / inner);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

// Calls per sample so one sample covers at least ~4M multiply-adds.
int inner_for(double madds) { return std::max(1, static_cast<int>(4e6 / madds)); }

void print(const char* name, const char* impl, int threads, std::size_t m, std::size_t n,
           std::size_t k, double madds, timing t) {
  std::printf(
      "{\"name\": \"%s\", \"impl\": \"%s\", \"threads\": %d, \"M\": %zu, \"N\": %zu, "
      "\"K\": %zu, \"ms\": %.4f, \"gflops\": %.2f, \"cpu_ms\": %.4f, \"gflops_per_core\": %.2f}\n",
      name, impl, threads, m, n, k, t.ms, 2.0 * madds / (t.ms * 1e6), t.cpu_ms,
      2.0 * madds / (t.cpu_ms * 1e6));
  std::fflush(stdout);
}

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_threads([[maybe_unused]] int threads) {
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
}

}  // namespace

int main() {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  auto random_vector = [&](std::size_t size) {
    std::vector<float> v(size);
    for (auto& x : v) x = dist(rng);
    return v;
  };
  using fk::transpose;
  // Per-image GEMMs of conv2d_gemm (conv1: 1→32 at 28², conv2: 32→64 at 14², 3×3 pad 1) and the
  // dense layers' GEMMs at batch 64; conv2 with the batch folded into N shows the large-shape rate.
  const shape shapes[] = {
      {"conv1_fwd_per_image", transpose::no, transpose::no, 32, 784, 9},
      {"conv1_dw_per_image", transpose::no, transpose::yes, 32, 9, 784},
      {"conv2_fwd_per_image", transpose::no, transpose::no, 64, 196, 288},
      {"conv2_dw_per_image", transpose::no, transpose::yes, 64, 288, 196},
      {"conv2_dx_per_image", transpose::yes, transpose::no, 288, 196, 64},
      {"conv2_fwd_batch_folded", transpose::no, transpose::no, 64, 196 * 64, 288},
      {"dense1_fwd", transpose::no, transpose::yes, 64, 128, 3136},
      {"dense1_dx", transpose::no, transpose::no, 64, 3136, 128},
      {"dense1_dw", transpose::yes, transpose::no, 128, 3136, 64},
      {"dense2_fwd", transpose::no, transpose::yes, 64, 10, 128},
      {"square_512", transpose::no, transpose::no, 512, 512, 512},
  };
  std::vector<int> thread_counts{1};
  if (max_threads() > 1) thread_counts.push_back(max_threads());
  for (const auto& s : shapes) {
    const std::size_t lda = s.ta == transpose::no ? s.k : s.m;
    const std::size_t ldb = s.tb == transpose::no ? s.n : s.k;
    const auto a = random_vector(s.m * s.k);
    const auto b = random_vector(s.k * s.n);
    std::vector<float> c(s.m * s.n);
    const double madds =
        static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
    for (int threads : thread_counts) {
      set_threads(threads);
      const timing t = measure(
          [&] {
            fk::gemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(),
                     s.n);
          },
          15, inner_for(madds));
      print(s.name, "gemm", threads, s.m, s.n, s.k, madds, t);
    }
    set_threads(1);
    const timing t = measure(
        [&] {
          fk::scalar::gemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f,
                           c.data(), s.n);
        },
        3, 1);
    print(s.name, "scalar", 1, s.m, s.n, s.k, madds, t);
  }

  // Whole convolution layers at batch 64 (im2col + GEMM + bias / col2im), M·N·K =
  // Cout·N·Ho·Wo·Cin·K².
  //                                 N  Cin  H   W  Cout K  s  p  d  G
  const fk::conv2d_geometry convs[] = {{64, 1, 28, 28, 32, 3, 1, 1, 1, 1},
                                       {64, 32, 14, 14, 64, 3, 1, 1, 1, 1}};
  const char* conv_names[] = {"conv1_layer", "conv2_layer"};
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& g = convs[i];
    const std::size_t out_plane = g.out_h() * g.out_w();
    const std::size_t mm = g.out_channels, nn = g.batch * out_plane, kk = g.in_channels * 9;
    const double madds =
        static_cast<double>(mm) * static_cast<double>(nn) * static_cast<double>(kk);
    const auto x = random_vector(g.batch * g.in_channels * g.in_h * g.in_w);
    const auto w = random_vector(g.out_channels * g.in_channels * 9);
    const auto bias = random_vector(g.out_channels);
    const auto dy = random_vector(g.batch * g.out_channels * out_plane);
    std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(bias.size()), ws;
    std::string fwd = std::string(conv_names[i]) + "_fwd",
                bwd = std::string(conv_names[i]) + "_bwd";
    for (int threads : thread_counts) {
      set_threads(threads);
      timing t = measure(
          [&] { fk::conv2d_forward(g, x.data(), w.data(), bias.data(), y.data(), ws); }, 9, 1);
      print(fwd.c_str(), "gemm", threads, mm, nn, kk, madds, t);
      t = measure(
          [&] {
            fk::conv2d_backward(g, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(),
                                ws);
          },
          9, 1);
      print(bwd.c_str(), "gemm", threads, mm, nn, kk, 2 * madds, t);  // dw and dx: two GEMMs
    }
    set_threads(1);
    timing t = measure(
        [&] { fk::scalar::conv2d_forward(g, x.data(), w.data(), bias.data(), y.data()); }, 3, 1);
    print(fwd.c_str(), "scalar", 1, mm, nn, kk, madds, t);
    t = measure(
        [&] {
          fk::scalar::conv2d_backward(g, x.data(), w.data(), dy.data(), dx.data(), dw.data(),
                                      db.data());
        },
        3, 1);
    print(bwd.c_str(), "scalar", 1, mm, nn, kk, 2 * madds, t);
  }
  return 0;
}
