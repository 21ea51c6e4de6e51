// SPDX-License-Identifier: MIT
// fusenet::dist::run_or_abort: a process of a data-parallel job that throws
// ends the whole job with its rank and the message, instead of leaving the
// others waiting in a collective for ever.
#pragma once

#include <cstdio>
#include <exception>
#include <utility>

#include "fusenet/dist/communicator.hpp"

namespace fusenet::dist {

/// Runs f() and returns its result; if it throws, prints "fusenet: rank R of N:
/// <message>" on stderr and aborts every process of the job (MPI_Abort with
/// status 1; mpirun then exits non-zero). A process that dies without throwing
/// (a signal) is ended by mpirun, which names it.
template <class F> int run_or_abort(const communicator &comm, F &&f) {
  try {
    return std::forward<F>(f)();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "fusenet: rank %d of %d: %s\n", comm.rank(),
                 comm.size(), e.what());
  } catch (...) {
    std::fprintf(stderr, "fusenet: rank %d of %d: unknown exception\n",
                 comm.rank(), comm.size());
  }
  std::fflush(stderr);
  comm.abort(1);
}

} // namespace fusenet::dist
