// SPDX-License-Identifier: MIT
// doctest's main inside MPI (dist::environment): every rank runs every case;
// mpirun fails when any rank fails.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <fusenet/dist/communicator.hpp>

int main(int argc, char **argv) {
  fusenet::dist::environment env(argc, argv);
  doctest::Context context(argc, argv);
  return context.run();
}
