// SPDX-License-Identifier: MIT
// The umbrella header: the only header examples include.
#pragma once

#include "fusenet/check_finite.hpp"
#include "fusenet/config.hpp"
#include "fusenet/introspection.hpp"
#include "fusenet/layers/all.hpp"
#include "fusenet/io/model_io.hpp"
#include "fusenet/model.hpp"
#include "fusenet/plan/describe.hpp"
#include "fusenet/sequential.hpp"
#include "fusenet/shape.hpp"
#include "fusenet/summary.hpp"
#include "fusenet/without.hpp"
