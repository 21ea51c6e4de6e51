// SPDX-License-Identifier: MIT
// Benchmark of the fused inference convolutions (direct, pointwise and depthwise): one JSON object per line (time,
// GFLOP/s, % of FMA peak; GB/s for the load-bound depthwise kernel).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <fusenet/kernels/conv_blocked.hpp>
#include <fusenet/kernels/depthwise_conv.hpp>
#include <fusenet/kernels/layout.hpp>
#include <fusenet/kernels/pointwise_conv.hpp>
#include <fusenet/kernels/scalar/conv_blocked.hpp>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fk = fusenet::kernels;

namespace {

// FP32 FMA peak of one Zen 4 core as stated in DESIGN.md; the run also measures the peak of the machine it is on.
constexpr double design_peak_per_core = 117.0;
double measured_peak_per_core = design_peak_per_core;

// Measures the FP32 FMA throughput of one core: independent accumulator chains in all but four of the vector
// registers (12 on AVX2, 28 on AVX-512: enough to cover FMA latency times the FMA pipes of current cores; 16 chains
// spilled on AVX2's 16 registers and measured half of Zen 3's peak), no memory traffic. Runs are short (tens of µs) so that, on a shared
// machine, the best of many is a run that was not preempted. Returns GFLOP/s.
double measure_fma_peak() {
  using vec = xsimd::batch<float>;
  constexpr std::size_t chains = fusenet::kernels::vector_registers<xsimd::default_arch> - 4, iters = 4000;
  double best = 0.0;
  volatile float sink = 0.0f;
  for (int rep = 0; rep < 500; ++rep) {
    vec acc[chains];
    for (std::size_t c = 0; c < chains; ++c) acc[c] = vec(static_cast<float>(c) * 1e-3f);
    const vec a(0.999999f), b(1e-7f);
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < iters; ++i) {
#pragma GCC unroll 32
      for (std::size_t c = 0; c < chains; ++c) acc[c] = xsimd::fma(acc[c], a, b);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    vec total = acc[0];
    for (std::size_t c = 1; c < chains; ++c) total += acc[c];
    sink = sink + xsimd::hadd(total);
    best = std::max(best, 2.0 * static_cast<double>(chains * iters * vec::size) / s / 1e9);
  }
  return best;
}

int thread_count() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

std::vector<float> random_vector(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// Times f() repeatedly (after one warm-up call) for about `budget` seconds, at least 5 and at most 1000 runs,
// and prints one JSON line; flops counts 2 per multiply-add of the convolution itself. With bytes > 0 (the memory
// one call reads and writes) the line also gives GB/s at the median and at the fastest run.
// Returns the median in ms.
template <class F>
double report(const std::string& name, std::size_t batch, double flops, int threads, F&& f, double budget = 0.5,
              double bytes = 0.0) {
  using clock = std::chrono::steady_clock;
  f();
  std::vector<double> ms;
  const auto start = clock::now();
  while (ms.size() < 5 || (ms.size() < 1000 && std::chrono::duration<double>(clock::now() - start).count() < budget)) {
    const auto t0 = clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  const double gflops = flops / (median * 1e-3) / 1e9;
  std::printf(
      "{\"name\": \"%s\", \"batch\": %zu, \"threads\": %d, \"runs\": %zu, \"ms\": %.4f, \"ms_min\": %.4f, "
      "\"ms_max\": %.4f, \"gflops\": %.2f, \"gflops_at_min\": %.2f, \"pct_of_measured_peak\": %.1f, \"pct_of_117\": %.1f",
      name.c_str(), batch, threads, ms.size(), median, ms.front(), ms.back(), gflops, flops / (ms.front() * 1e6),
      100.0 * gflops / (measured_peak_per_core * threads), 100.0 * gflops / (design_peak_per_core * threads));
  if (bytes > 0.0)
    std::printf(", \"bytes\": %.0f, \"gbps\": %.2f, \"gbps_at_min\": %.2f", bytes, bytes / (median * 1e6),
                bytes / (ms.front() * 1e6));
  std::printf("}\n");
  std::fflush(stdout);
  return median;
}

template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t PoolWindow, class Pool,
          class Tile = fk::default_conv_tile<Cin, Cout, H, W, 3, 1, PoolWindow>>
void bench_fused(const std::string& name, std::size_t batch) {
  constexpr std::size_t ho = H / PoolWindow, wo = W / PoolWindow;
  const auto x = random_vector(batch * Cin * H * W, 1);
  const auto w = random_vector(Cout * Cin * 9, 2);
  const auto b = random_vector(Cout, 3);
  fk::aligned_vector<float> xin(batch * fk::nhwc_image_size<Cin, H, W, 1>), wp(fk::packed_weights_size<Cin, Cout, 3>);
  fk::aligned_vector<float> y(batch * fk::nhwc_image_size<Cout, ho, wo, 1>);
  fk::nchw_to_nhwc<Cin, H, W, 1>(x.data(), xin.data(), batch);
  fk::pack_conv_weights<Cin, Cout, 3>(w.data(), wp.data());
  const double flops = 2.0 * static_cast<double>(batch * Cout * Cin * 9 * H * W);
  report(name + "-t" + std::to_string(Tile::vectors) + "x" + std::to_string(Tile::cols) +
             (Tile::input_reuse ? "r" : ""),
         batch, flops,
         thread_count(), [&] {
           fk::conv_bias_relu_pool_tiled<Tile, Cin, Cout, H, W, 3, 1, PoolWindow, Pool, fk::act_relu, 1>(
               xin.data(), wp.data(), b.data(), y.data(), batch);
         });
}

// Depthwise K×K (pad K/2) + bias + ReLU, bordered NHWC in (border K/2) and out (border 1, what a following 3×3
// stage reads). GB/s counts the bytes of the bordered input and output buffers once per run (weights are tiny).
template <std::size_t C, std::size_t H, std::size_t W, std::size_t Stride, std::size_t K = 3,
          class Tile = fk::default_depthwise_tile<C, H, W, K, Stride, K / 2>>
void bench_depthwise(const std::string& name, std::size_t batch) {
  constexpr std::size_t pad = K / 2, ho = (H + 2 * pad - K) / Stride + 1, wo = (W + 2 * pad - K) / Stride + 1;
  constexpr std::size_t in_image = fk::nhwc_image_size<C, H, W, pad>, out_image = fk::nhwc_image_size<C, ho, wo, 1>;
  const auto x = random_vector(batch * C * H * W, 1);
  const auto w = random_vector(C * K * K, 2);
  const auto b = random_vector(C, 3);
  fk::aligned_vector<float> xin(batch * in_image), wp(fk::depthwise_packed_size<C, K>), y(batch * out_image);
  fk::nchw_to_nhwc<C, H, W, pad>(x.data(), xin.data(), batch);
  fk::pack_depthwise_weights<C, K>(w.data(), wp.data());
  const double flops = 2.0 * static_cast<double>(batch * C * K * K * ho * wo);
  const double bytes = static_cast<double>(batch * (in_image + out_image) * sizeof(float));
  report(name, batch, flops, 1,
         [&] {
           fk::depthwise_conv_bias_relu_tiled<Tile, C, H, W, K, Stride, pad, fk::act_relu, 1>(
               xin.data(), wp.data(), b.data(), y.data(), batch);
         },
         0.5, bytes);
}

// A 1×1 conv + bias + ReLU on a borderless NHWC input (MobileNet's pointwise convs) on the pointwise kernel (a
// pixel GEMM over the batch) and on the direct kernel (tiles of one output row), side by side: "infer/pointwise/..."
// and ".../direct", then a line with their ratio (direct ms / pointwise ms, above 1 when the pointwise is faster).
template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W>
void bench_pointwise(const std::string& name, std::size_t batch) {
  const auto x = random_vector(batch * Cin * H * W, 1);
  const auto w = random_vector(Cout * Cin, 2);
  const auto b = random_vector(Cout, 3);
  fk::aligned_vector<float> xin(batch * fk::nhwc_image_size<Cin, H, W, 0>), wp(fk::packed_weights_size<Cin, Cout, 1>);
  fk::aligned_vector<float> y(batch * fk::nhwc_image_size<Cout, H, W, 1>);
  fk::nchw_to_nhwc<Cin, H, W, 0>(x.data(), xin.data(), batch);
  fk::pack_conv_weights<Cin, Cout, 1>(w.data(), wp.data());
  const double flops = 2.0 * static_cast<double>(batch * Cout * Cin * H * W);
  using tile = fk::default_pointwise_tile<Cout>;
  const std::string tiled = name + "-t" + std::to_string(tile::vectors) + "x" + std::to_string(tile::pixels);
  const double pointwise = report(tiled, batch, flops, thread_count(), [&] {
    fk::pointwise_conv_bias_relu<1, 0, Cin, Cout, H, W, fk::act_relu, 1>(xin.data(), wp.data(), b.data(), y.data(),
                                                                          batch);
  });
  const double direct = report(name + "/direct", batch, flops, thread_count(), [&] {
    fk::conv_stride_bias_relu_pool<1, 0, Cin, Cout, H, W, 1, 0, 1, fk::pool_max, fk::act_relu, 1>(
        xin.data(), wp.data(), b.data(), y.data(), batch);
  });
  std::printf("{\"name\": \"%s\", \"batch\": %zu, \"threads\": %d, \"ratio_direct_over_pointwise\": %.3f}\n",
              name.c_str(), batch, thread_count(), direct / pointwise);
  std::fflush(stdout);
}

template <std::size_t Cin, std::size_t Cout, std::size_t H, std::size_t W, std::size_t PoolWindow, class Pool>
void bench_scalar(const std::string& name, std::size_t batch) {
  const auto x = random_vector(batch * Cin * H * W, 1);
  const auto w = random_vector(Cout * Cin * 9, 2);
  const auto b = random_vector(Cout, 3);
  std::vector<float> y(batch * Cout * (H / PoolWindow) * (W / PoolWindow));
  const double flops = 2.0 * static_cast<double>(batch * Cout * Cin * 9 * H * W);
  report(name, batch, flops, 1, [&] {
    fk::scalar::conv_bias_relu_pool<Cin, Cout, H, W, 3, 1, PoolWindow, Pool, fk::act_relu>(x.data(), w.data(),
                                                                                          b.data(), y.data(), batch);
  });
}

}  // namespace

int main() {
  measured_peak_per_core = measure_fma_peak();
  std::printf("{\"name\": \"peak/fma_fp32_per_core\", \"threads\": 1, \"gflops\": %.2f}\n",
              measured_peak_per_core);
  // The seed network's second block (32→64 on 14², ReLU + max pool fused), a large 64→64 map, the first layer.
  bench_fused<32, 64, 14, 14, 2, fk::pool_max>("infer/conv_block/32-64-14x14-relu-maxpool", 1);
  bench_fused<32, 64, 14, 14, 2, fk::pool_max>("infer/conv_block/32-64-14x14-relu-maxpool", 64);
  bench_fused<32, 64, 14, 14, 1, fk::pool_max>("infer/conv_block/32-64-14x14-relu", 64);
  bench_fused<64, 64, 56, 56, 1, fk::pool_max>("infer/conv_block/64-64-56x56-relu", 1);
  // explicit tiles that only fit 32 vector registers (AVX-512, or AVX2 code with AVX-512VL)
  if constexpr (fk::vector_registers<xsimd::default_arch> >= 32)
    bench_fused<64, 64, 56, 56, 1, fk::pool_max, fk::conv_tile<4, 6>>("infer/conv_block/64-64-56x56-relu", 1);
  bench_fused<64, 64, 56, 56, 1, fk::pool_max>("infer/conv_block/64-64-56x56-relu", 32);
  bench_fused<1, 32, 28, 28, 2, fk::pool_max>("infer/conv_block/1-32-28x28-relu-maxpool", 64);
  if constexpr (fk::vector_registers<xsimd::default_arch> >= 32)
    bench_fused<1, 32, 28, 28, 2, fk::pool_max, fk::conv_tile<1, 28, true>>(
        "infer/conv_block/1-32-28x28-relu-maxpool", 64);
  bench_scalar<32, 64, 14, 14, 2, fk::pool_max>("infer/conv_block_scalar/32-64-14x14-relu-maxpool", 1);
  // Pointwise 1×1 and depthwise 3×3 + bias + ReLU (MobileNet-like shapes), one thread: the kernels would split
  // batch 1 by rows or pixel chunks.
#ifdef _OPENMP
  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(1);
#endif
  for (std::size_t batch : {std::size_t{1}, std::size_t{64}}) {
    bench_pointwise<32, 64, 32, 32>("infer/pointwise/32-64-32x32", batch);
    bench_pointwise<128, 128, 16, 16>("infer/pointwise/128-128-16x16", batch);
    bench_pointwise<256, 256, 8, 8>("infer/pointwise/256-256-8x8", batch);
    bench_pointwise<512, 512, 4, 4>("infer/pointwise/512-512-4x4", batch);
  }
  for (std::size_t batch : {std::size_t{1}, std::size_t{64}}) {
    bench_depthwise<32, 56, 56, 1>("infer/depthwise/32-56x56-s1", batch);
    bench_depthwise<64, 56, 56, 2>("infer/depthwise/64-56x56-s2", batch);
    bench_depthwise<128, 28, 28, 1>("infer/depthwise/128-28x28-s1", batch);
    bench_depthwise<256, 14, 14, 1>("infer/depthwise/256-14x14-s1", batch);
    bench_depthwise<512, 7, 7, 1>("infer/depthwise/512-7x7-s1", batch);
  }
#ifdef _OPENMP
  omp_set_num_threads(saved_threads);
#endif
}
