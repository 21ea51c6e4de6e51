// SPDX-License-Identifier: MIT
// The data-parallel API (needs MPI at build time: meson setup -Dmpi=enabled):
// communicator, data_parallel, synced_optimizer, sharded_batches, run_or_abort.
#pragma once

#include "fusenet/dist/communicator.hpp"
#include "fusenet/dist/data_parallel.hpp"
#include "fusenet/dist/guard.hpp"
#include "fusenet/dist/network_hash.hpp"
#include "fusenet/dist/shard.hpp"
