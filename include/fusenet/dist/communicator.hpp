// SPDX-License-Identifier: MIT
// fusenet::dist::environment and communicator: MPI's start and end, and the few
// collectives data-parallel training uses, over an MPI_Comm, with errors as
// exceptions that name the operation.
#pragma once

#if !__has_include(<mpi.h>)
#error                                                                         \
    "fusenet/dist: this build has no MPI, so the data-parallel API (fusenet/dist) is absent. Install Open MPI (apt-get install libopenmpi-dev openmpi-bin), configure with meson setup -Dmpi=enabled, and build with dependency('mpi', language : 'cpp')."
#endif

// The C API only: Open MPI's and MPICH's deprecated C++ bindings would come
// with it otherwise (and do not build warning-free).
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fusenet::dist {

/// A failed MPI call or a disagreement between the processes of a job
/// (different networks, say).
struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
inline void check(int rc, const char *what) {
  if (rc == MPI_SUCCESS)
    return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw error(std::string("fusenet: dist: ") + what +
              " failed: " + std::string(text, static_cast<std::size_t>(len)));
}
inline int count_of(std::size_t n, const char *what) {
  if (n > static_cast<std::size_t>(INT_MAX))
    throw error(std::string("fusenet: dist: ") + what +
                ": more than INT_MAX elements in one call");
  return static_cast<int>(n);
}
} // namespace detail

/// MPI for the lifetime of this object (MPI_Init_thread with
/// MPI_THREAD_FUNNELED: OpenMP threads compute, the main thread communicates;
/// MPI_Finalize at the end). One per program, constructed first in main.
class environment {
public:
  environment(int &argc, char **&argv) {
    int provided = 0;
    detail::check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided),
                  "MPI_Init_thread");
  }
  environment(const environment &) = delete;
  environment &operator=(const environment &) = delete;
  ~environment() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
      MPI_Finalize();
  }
};

/// An MPI communicator (MPI_COMM_WORLD by default): its rank and size and the
/// collectives data-parallel training uses. Errors are returned to fusenet
/// (MPI_ERRORS_RETURN) and thrown as dist::error naming the call. Requires: MPI
/// initialised (dist::environment).
class communicator {
public:
  explicit communicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
    detail::check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN),
                  "MPI_Comm_set_errhandler");
    detail::check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    detail::check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  [[nodiscard]] int rank() const { return rank_; }
  [[nodiscard]] int size() const { return size_; }
  [[nodiscard]] bool is_root() const { return rank_ == 0; }
  [[nodiscard]] MPI_Comm native() const { return comm_; }

  void barrier() const { detail::check(MPI_Barrier(comm_), "MPI_Barrier"); }
  void broadcast(float *p, std::size_t n, int root = 0) const {
    detail::check(
        MPI_Bcast(p, detail::count_of(n, "MPI_Bcast"), MPI_FLOAT, root, comm_),
        "MPI_Bcast");
  }
  void broadcast(std::int64_t *p, std::size_t n, int root = 0) const {
    detail::check(MPI_Bcast(p, detail::count_of(n, "MPI_Bcast"), MPI_INT64_T,
                            root, comm_),
                  "MPI_Bcast");
  }
  /// Every process's `count` doubles into out (size() × count), in rank order.
  void allgather(const double *local, std::size_t count, double *out) const {
    const int c = detail::count_of(count, "MPI_Allgather");
    detail::check(
        MPI_Allgather(local, c, MPI_DOUBLE, out, c, MPI_DOUBLE, comm_),
        "MPI_Allgather");
  }
  /// Every process's value, in rank order.
  [[nodiscard]] std::vector<std::uint64_t> allgather(std::uint64_t v) const {
    std::vector<std::uint64_t> out(static_cast<std::size_t>(size_));
    detail::check(
        MPI_Allgather(&v, 1, MPI_UINT64_T, out.data(), 1, MPI_UINT64_T, comm_),
        "MPI_Allgather");
    return out;
  }
  /// Σ v over the processes, added in rank order on every process (for metrics:
  /// deterministic, not fast).
  [[nodiscard]] double sum(double v) const {
    std::vector<double> all(static_cast<std::size_t>(size_));
    allgather(&v, 1, all.data());
    double s = 0.0;
    for (double x : all)
      s += x;
    return s;
  }
  /// Ends every process of the job (MPI_Abort); for a process that cannot go
  /// on.
  [[noreturn]] void abort(int code) const {
    MPI_Abort(comm_, code);
    throw error("fusenet: dist: MPI_Abort returned"); // not reached
  }

private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

} // namespace fusenet::dist
