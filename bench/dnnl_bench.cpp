// SPDX-License-Identifier: MIT
// conv3x3 + BatchNorm + ReLU blocks through fusenet's inference model next to oneDNN's convolution with the
// BatchNorm folded in and a ReLU post-op, one JSON object per line (the infer/conv_block names of fusenet_bench):
//   dnnl_bench [--filter REGEX] [--threads T[,T...]] [--reps N]
// impl "fusenet": model<Net, mode::infer>::forward, NCHW in and out. impl "dnnl": the convolution primitive alone on
// the layouts it chose for format_tag::any (blocked, or NHWC for brgconv), converted outside the timed call. impl
// "dnnl_nchw": the same with the reorders from and to NCHW inside the timed call, which is what fusenet's forward
// does. Weights are prepared once for both, as fusenet folds and repacks them at construction. Each block then
// prints {"name", "batch", "threads", "ratio_fusenet_over_dnnl": dnnl ms / fusenet ms, and the same for
// dnnl_nchw}: above 1, fusenet is the faster. Before timing, the two outputs are compared (1e-4 relative to the
// largest output); a mismatch prints an "error" line and exits 1. Built only with -Ddnnl=enabled (libdnnl-dev).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fusenet/fusenet.hpp>
#include <functional>
#include <iostream>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <regex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

struct options {
  std::regex filter{".*"};
  std::vector<int> threads{1, 2};
  int reps = 30;
};

struct timing {
  double median = 0, min = 0, max = 0;
};

// Times the calls round-robin, one warm-up round then `reps` timed rounds, so that load from other processes
// on a shared machine falls on every implementation alike rather than on whichever ran during it.
std::vector<timing> time_interleaved(const std::vector<std::function<void()>>& calls, int reps) {
  for (const auto& call : calls) call();
  std::vector<std::vector<double>> ms(calls.size());
  for (int r = 0; r < reps; ++r) {
    for (std::size_t i = 0; i < calls.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      calls[i]();
      ms[i].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  std::vector<timing> out;
  for (auto& m : ms) {
    std::sort(m.begin(), m.end());
    out.push_back({m[m.size() / 2], m.front(), m.back()});
  }
  return out;
}

void print_timing(const std::string& name, const char* impl, std::size_t batch, int threads, double flops,
                  const timing& t) {
  std::printf(
      "{\"name\": \"%s\", \"impl\": \"%s\", \"batch\": %zu, \"threads\": %d, \"ms\": %.4f, \"ms_min\": %.4f, "
      "\"ms_max\": %.4f, \"gflops\": %.2f}\n",
      name.c_str(), impl, batch, threads, t.median, t.min, t.max, flops / t.median / 1e6);
  std::fflush(stdout);
}

void set_threads(int t) {
#ifdef _OPENMP
  omp_set_num_threads(t);
#else
  (void)t;
#endif
}

// Uniform values in [lo, hi) from a fixed seed, so that runs are repeatable.
void fill_uniform(float* p, std::size_t n, float lo, float hi, std::mt19937& rng) {
  std::uniform_real_distribution<float> d{lo, hi};
  for (std::size_t i = 0; i < n; ++i) p[i] = d(rng);
}

// The folded convolution oneDNN runs: W' = W·γ/√(var+ε) (OIHW), b' = (b−mean)·γ/√(var+ε)+β.
struct folded_conv {
  std::vector<float> weights, bias;
};

// Gives the trained model's BatchNorm non-trivial parameters and statistics (it starts at γ=1, β=0, mean 0, var 1,
// where a wrong fold would go unnoticed), then folds them for oneDNN.
template <class Net>
folded_conv randomize_and_fold(fn::model<Net, fn::mode::train>& trained, std::size_t cout, std::size_t cin,
                               double eps, std::mt19937& rng) {
  std::unordered_map<std::string, fn::detail::tensor_ref> t;
  for (const auto& r : trained.tensors()) t[r.name] = r;
  for (const char* name : {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"}) {
    if (!t.contains(name) || t[name].value == nullptr)
      throw std::runtime_error(std::string{"dnnl_bench: the block has no tensor "} + name);
  }
  if (t["0.weight"].spec.size() != cout * cin * 9 || t["0.bias"].spec.size() != cout)
    throw std::runtime_error("dnnl_bench: unexpected conv tensor sizes");
  fill_uniform(t["0.bias"].value, cout, -0.2f, 0.2f, rng);
  fill_uniform(t["1.weight"].value, cout, 0.5f, 1.5f, rng);
  fill_uniform(t["1.bias"].value, cout, -0.5f, 0.5f, rng);
  fill_uniform(t["1.running_mean"].value, cout, -0.3f, 0.3f, rng);
  fill_uniform(t["1.running_var"].value, cout, 0.5f, 2.0f, rng);
  folded_conv f{std::vector<float>(cout * cin * 9), std::vector<float>(cout)};
  const float* w = t["0.weight"].value;
  for (std::size_t o = 0; o < cout; ++o) {
    const double scale = t["1.weight"].value[o] / std::sqrt(static_cast<double>(t["1.running_var"].value[o]) + eps);
    for (std::size_t i = 0; i < cin * 9; ++i)
      f.weights[o * cin * 9 + i] = static_cast<float>(w[o * cin * 9 + i] * scale);
    f.bias[o] = static_cast<float>((t["0.bias"].value[o] - t["1.running_mean"].value[o]) * scale +
                                   t["1.bias"].value[o]);
  }
  return f;
}

// oneDNN's forward-inference conv3x3 (stride 1, padding 1) + bias + ReLU post-op on the layouts it prefers,
// with the reorders from and to the caller's NCHW buffers.
class dnnl_conv_block {
 public:
  dnnl_conv_block(std::size_t batch, std::size_t cin, std::size_t cout, std::size_t hw, const folded_conv& f)
      : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    using tag = dnnl::memory::format_tag;
    using dt = dnnl::memory::data_type;
    const auto n = static_cast<dnnl::memory::dim>(batch), ci = static_cast<dnnl::memory::dim>(cin),
               co = static_cast<dnnl::memory::dim>(cout), s = static_cast<dnnl::memory::dim>(hw);
    const dnnl::memory::dims src_dims{n, ci, s, s}, w_dims{co, ci, 3, 3}, b_dims{co}, dst_dims{n, co, s, s};
    const dnnl::convolution_forward::desc desc{
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
        dnnl::memory::desc{src_dims, dt::f32, tag::any},    dnnl::memory::desc{w_dims, dt::f32, tag::any},
        dnnl::memory::desc{b_dims, dt::f32, tag::x},        dnnl::memory::desc{dst_dims, dt::f32, tag::any},
        {1, 1}, {1, 1}, {1, 1}};
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    // Created after the thread count is set: oneDNN picks its blocking for the threads it will have.
    const dnnl::convolution_forward::primitive_desc pd{desc, attr, engine_};
    impl_ = pd.impl_info_str();
    conv_ = dnnl::convolution_forward{pd};

    src_nchw_ = dnnl::memory{{src_dims, dt::f32, tag::nchw}, engine_};
    dst_nchw_ = dnnl::memory{{dst_dims, dt::f32, tag::nchw}, engine_};
    src_ = dnnl::memory{pd.src_desc(), engine_};
    dst_ = dnnl::memory{pd.dst_desc(), engine_};
    bias_ = dnnl::memory{pd.bias_desc(), engine_};
    weights_ = dnnl::memory{pd.weights_desc(), engine_};
    dnnl::memory w_oihw{{w_dims, dt::f32, tag::oihw}, engine_};
    std::copy(f.weights.begin(), f.weights.end(), static_cast<float*>(w_oihw.get_data_handle()));
    std::copy(f.bias.begin(), f.bias.end(), static_cast<float*>(bias_.get_data_handle()));
    dnnl::reorder{w_oihw, weights_}.execute(stream_, w_oihw, weights_);
    to_blocked_ = dnnl::reorder{src_nchw_, src_};
    from_blocked_ = dnnl::reorder{dst_, dst_nchw_};
    stream_.wait();
  }

  // Which oneDNN kernel runs (e.g. "brg:avx512_core" or "jit:avx512_core"), for the report.
  const std::string& impl() const { return impl_; }
  float* src_nchw() { return static_cast<float*>(src_nchw_.get_data_handle()); }
  float* dst_nchw() { return static_cast<float*>(dst_nchw_.get_data_handle()); }

  void load_input() {
    to_blocked_.execute(stream_, src_nchw_, src_);
    stream_.wait();
  }
  void store_output() {
    from_blocked_.execute(stream_, dst_, dst_nchw_);
    stream_.wait();
  }
  // The convolution alone, blocked in and out.
  void run_blocked() {
    conv_.execute(stream_, {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_BIAS, bias_},
                            {DNNL_ARG_DST, dst_}});
    stream_.wait();
  }
  // NCHW in, NCHW out, as fusenet's forward.
  void run_nchw() {
    to_blocked_.execute(stream_, src_nchw_, src_);
    conv_.execute(stream_, {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_BIAS, bias_},
                            {DNNL_ARG_DST, dst_}});
    from_blocked_.execute(stream_, dst_, dst_nchw_);
    stream_.wait();
  }

 private:
  dnnl::engine engine_;
  dnnl::stream stream_;
  std::string impl_;
  dnnl::convolution_forward conv_;
  dnnl::reorder to_blocked_, from_blocked_;
  dnnl::memory src_nchw_, dst_nchw_, src_, dst_, weights_, bias_;
};

// One block at one batch size, for each thread count. Returns false when the outputs disagree.
template <std::size_t Cin, std::size_t Cout, std::size_t HW>
bool bench_conv_block(const options& o, std::size_t batch) {
  using block = fn::sequential<input<Cin, HW, HW>, conv2d<Cout, 3, padding<1>>, batch_norm, relu>;
  const std::string name = "infer/conv_block/" + std::to_string(Cin) + "-" + std::to_string(Cout) + "-" +
                           std::to_string(HW) + "x" + std::to_string(HW);
  if (!std::regex_search(name, o.filter)) return true;
  const double flops = 2.0 * static_cast<double>(fn::mac_count<block>) * static_cast<double>(batch);
  const std::size_t in_size = batch * Cin * HW * HW, out_size = batch * Cout * HW * HW;
  for (int t : o.threads) {
    set_threads(t);
    std::mt19937 rng{42};
    fn::model<block, fn::mode::train> trained{1};
    const folded_conv folded = randomize_and_fold(trained, Cout, Cin, batch_norm::epsilon, rng);
    fn::model<block, fn::mode::infer> deployed{trained};
    dnnl_conv_block peer{batch, Cin, Cout, HW, folded};

    std::vector<float> x(in_size), y(out_size);
    fill_uniform(x.data(), in_size, -1.0f, 1.0f, rng);
    std::copy(x.begin(), x.end(), peer.src_nchw());

    // Both compute the same folded convolution; only the summation order differs.
    deployed.forward(x.data(), batch, y.data());
    peer.run_nchw();
    const float* ref = peer.dst_nchw();
    double max_err = 0, max_ref = 0;
    for (std::size_t i = 0; i < out_size; ++i) {
      max_err = std::max(max_err, static_cast<double>(std::abs(y[i] - ref[i])));
      max_ref = std::max(max_ref, static_cast<double>(std::abs(ref[i])));
    }
    const double rel_err = max_err / std::max(max_ref, 1e-30);
    if (!(rel_err <= 1e-4)) {
      std::printf("{\"name\": \"%s\", \"batch\": %zu, \"threads\": %d, \"error\": \"fusenet and oneDNN outputs "
                  "differ\", \"max_abs_err\": %.3g, \"max_abs_out\": %.3g, \"rel_err\": %.3g}\n",
                  name.c_str(), batch, t, max_err, max_ref, rel_err);
      std::fflush(stdout);
      return false;
    }

    peer.load_input();
    const auto times = time_interleaved({[&] { deployed.forward(x.data(), batch, y.data()); },
                                         [&] { peer.run_blocked(); }, [&] { peer.run_nchw(); }},
                                        o.reps);
    print_timing(name, "fusenet", batch, t, flops, times[0]);
    print_timing(name, "dnnl", batch, t, flops, times[1]);
    print_timing(name, "dnnl_nchw", batch, t, flops, times[2]);
    std::printf("{\"name\": \"%s\", \"batch\": %zu, \"threads\": %d, \"ratio_fusenet_over_dnnl\": %.3f, "
                "\"ratio_fusenet_over_dnnl_nchw\": %.3f, \"max_rel_err\": %.2g, \"dnnl_impl\": \"%s\"}\n",
                name.c_str(), batch, t, times[1].median / times[0].median, times[2].median / times[0].median,
                rel_err, peer.impl().c_str());
    std::fflush(stdout);
  }
  return true;
}

// "1,2" → {1, 2}; each count at least 1.
std::vector<int> parse_threads(const std::string& v) {
  std::vector<int> out;
  std::size_t begin = 0;
  while (begin <= v.size()) {
    const std::size_t end = std::min(v.find(',', begin), v.size());
    out.push_back(std::max(1, std::stoi(v.substr(begin, end - begin))));
    begin = end + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const char* usage = "usage: dnnl_bench [--filter REGEX] [--threads T[,T...]] [--reps N]\n";
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::cerr << "dnnl_bench: " << a << " needs a value\n" << usage;
      return 2;
    }
    const std::string v = argv[++i];
    try {
      if (a == "--filter") o.filter = std::regex(v);
      else if (a == "--threads") o.threads = parse_threads(v);
      else if (a == "--reps") o.reps = std::max(1, std::stoi(v));
      else throw std::invalid_argument("unknown option " + a);
    } catch (const std::exception& e) {
      std::cerr << "dnnl_bench: bad argument '" << a << " " << v << "': " << e.what() << "\n" << usage;
      return 2;
    }
  }
  try {
    bool ok = bench_conv_block<32, 64, 14>(o, 1);
    ok = ok && bench_conv_block<32, 64, 14>(o, 64);
    ok = ok && bench_conv_block<64, 64, 56>(o, 1);
    ok = ok && bench_conv_block<64, 64, 56>(o, 32);
    return ok ? 0 : 1;
  } catch (const dnnl::error& e) {
    std::printf("{\"error\": \"oneDNN: %s (status %d)\"}\n", e.what(), static_cast<int>(e.status));
    return 1;
  }
}
