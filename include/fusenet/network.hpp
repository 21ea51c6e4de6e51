// SPDX-License-Identifier: MIT
// The compile-time front end alone: shapes, layers, sequential, without<>, plans, summary and describe.
// No xtensor or xsimd, so a TU that only declares and checks networks compiles in a fraction of a second.
#pragma once

#include "fusenet/config.hpp"

#if FUSENET_CXX20
#include "fusenet/introspection.hpp"
#include "fusenet/layers/all.hpp"
#include "fusenet/mode.hpp"
#include "fusenet/plan/describe.hpp"
#include "fusenet/plan/plan.hpp"
#include "fusenet/sequential.hpp"
#include "fusenet/shape.hpp"
#include "fusenet/summary.hpp"
#include "fusenet/without.hpp"
#endif
