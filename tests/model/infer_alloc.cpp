// SPDX-License-Identifier: MIT
// model<Net, mode::infer>::forward into caller memory allocates nothing after a warm-up batch, with the model's
// own workspace or a caller's: every global operator new / delete of this program is replaced by a counting version.

#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fusenet/fusenet.hpp>
#include <new>
#include <random>
#include <vector>

#include "../../bench/zoo/nets.hpp"
#include "reference/model/nets.hpp"

namespace {
std::atomic<std::size_t> allocations{0};

void* counted(std::size_t size, std::size_t alignment) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  void* p = alignment <= alignof(std::max_align_t) ? std::malloc(size)
                                                   : std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
  return p;
}
void* counted_or_throw(std::size_t size, std::size_t alignment) {
  void* p = counted(size, alignment);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

// The replaceable global allocation functions ([new.delete]): plain, array, aligned, nothrow, sized.
void* operator new(std::size_t size) { return counted_or_throw(size, 0); }
void* operator new[](std::size_t size) { return counted_or_throw(size, 0); }
void* operator new(std::size_t size, std::align_val_t a) { return counted_or_throw(size, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t size, std::align_val_t a) {
  return counted_or_throw(size, static_cast<std::size_t>(a));
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted(size, 0); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted(size, 0); }
void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted(size, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace fn = fusenet;
using namespace fusenet::layers;

namespace {

using resnet_net = fusenet::test::resnet_net;

/// Allocations made by forwards at batch 64, 64, 1, 3, 17 and 64 after one warm-up forward at batch 64, through
/// the model's own workspace or (WithWorkspace) a caller's workspace and the const forward.
template <class Net, bool WithWorkspace = false>
std::size_t allocations_after_warm_up() {
  using infer_model = fn::model<Net, fn::mode::infer>;
  fn::model<Net, fn::mode::train> trained{7};
  infer_model deployed{trained};
  const infer_model& shared = deployed;
  typename infer_model::workspace ws;
  constexpr std::size_t in = Net::input_shape.size(), out = Net::output_dims.size(), most = 64;
  std::vector<float> x(most * in), y(most * out);
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  auto forward = [&](std::size_t n) {
    if constexpr (WithWorkspace) shared.forward(x.data(), n, y.data(), ws);
    else deployed.forward(x.data(), n, y.data());
  };
  forward(most);
  const std::size_t before = allocations.load();
  for (std::size_t n : {std::size_t{64}, std::size_t{64}, std::size_t{1}, std::size_t{3}, std::size_t{17}, most})
    forward(n);
  const std::size_t made = allocations.load() - before;
  // the forwards ran: the outputs are finite numbers, not the zeros the vector started with
  bool finite = true, nonzero = false;
  for (float v : y) finite = finite && std::isfinite(v), nonzero = nonzero || v != 0.0f;
  CHECK(finite);
  CHECK(nonzero);
  return made;
}

}  // namespace

TEST_CASE("infer alloc: the counting operator new sees the allocations it should") {
  const std::size_t before = allocations.load();
  auto* v = new std::vector<float>(100);
  delete v;
  CHECK(allocations.load() - before == 2);  // the vector object and its buffer
}

TEST_CASE("infer alloc: reference net forward allocates nothing after warm-up") {
  CHECK(allocations_after_warm_up<fn::test::reference_net>() == 0);
}

TEST_CASE("infer alloc: mixed net forward allocates nothing after warm-up") {
  CHECK(allocations_after_warm_up<fn::test::mixed_net>() == 0);
}

TEST_CASE("infer alloc: ResNet forward allocates nothing after warm-up") {
  CHECK(allocations_after_warm_up<resnet_net>() == 0);
}

TEST_CASE("infer alloc: the const forward with a caller's workspace allocates nothing after warm-up") {
  CHECK(allocations_after_warm_up<fn::test::reference_net, true>() == 0);
  CHECK(allocations_after_warm_up<fn::test::mixed_net, true>() == 0);  // reference stages: state copied at warm-up
  CHECK(allocations_after_warm_up<resnet_net, true>() == 0);
}

TEST_CASE("infer alloc: the zoo's networks allocate nothing after warm-up") {
  CHECK(allocations_after_warm_up<fn::zoo::lenet5>() == 0);
  CHECK(allocations_after_warm_up<fn::zoo::vgg>() == 0);
  CHECK(allocations_after_warm_up<fn::zoo::cifar_resnet20>() == 0);          // residual stages' inner buffers
  CHECK(allocations_after_warm_up<fn::zoo::mobilenet, true>() == 0);         // depthwise, global pool
}
