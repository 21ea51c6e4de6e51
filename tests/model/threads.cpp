// SPDX-License-Identifier: MIT
// model<Net, mode::infer>::forward creates no thread after warm-up, at batch 1 (below the thread count, where a
// nested OpenMP team would be created afresh on every call) and at batch 64: pthread_create of this program is
// replaced by a counting version that forwards to the C library's.

#include <dlfcn.h>
#include <doctest/doctest.h>
#include <pthread.h>

#include <atomic>
#include <fusenet/fusenet.hpp>
#include <vector>

#include "reference/model/nets.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {
std::atomic<int> created{0};
using create_fn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
}  // namespace

// Interposes the C library's pthread_create (libgomp calls it through the dynamic linker, which finds this
// executable's definition first).
extern "C" int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  static const auto real = reinterpret_cast<create_fn>(dlsym(RTLD_NEXT, "pthread_create"));
  created.fetch_add(1, std::memory_order_relaxed);
  return real(thread, attr, start, arg);
}

namespace {
template <class Net>
int threads_created_by_forwards(std::size_t batch) {
  using infer = fusenet::model<Net, fusenet::mode::infer>;
  fusenet::model<Net, fusenet::mode::train> trained{3};
  infer m{trained};
  std::vector<float> x(batch * Net::input_shape.size(), 0.5f), y(batch * Net::output_dims.size());
  m.forward(x.data(), batch, y.data());  // warm-up: the OpenMP pool and the workspace are made here
  m.forward(x.data(), batch, y.data());
  const int before = created.load();
  for (int i = 0; i < 5; ++i) m.forward(x.data(), batch, y.data());
  return created.load() - before;
}
}  // namespace

TEST_CASE_TEMPLATE("model<infer>: no thread is created after warm-up, at batch 1 and 64", Net,
                   fusenet::test::reference_net, fusenet::test::mixed_net, fusenet::test::resnet_net) {
#ifdef _OPENMP
  omp_set_num_threads(2);
#endif
  CHECK(threads_created_by_forwards<Net>(1) == 0);
  CHECK(threads_created_by_forwards<Net>(64) == 0);
#ifdef _OPENMP
  // the counter saw OpenMP's pool being made (one thread besides the caller), or the checks above are vacuous
  CHECK(created.load() >= 1);
#endif
}
