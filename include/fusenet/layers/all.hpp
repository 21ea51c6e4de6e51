// SPDX-License-Identifier: MIT
// Every layer kind, for the umbrella header.
#pragma once

#include "fusenet/layers/activation.hpp"
#include "fusenet/layers/batch_norm.hpp"
#include "fusenet/layers/conv2d.hpp"
#include "fusenet/layers/dense.hpp"
#include "fusenet/layers/flatten.hpp"
#include "fusenet/layers/input.hpp"
#include "fusenet/layers/options.hpp"
#include "fusenet/layers/pool.hpp"
#include "fusenet/layers/residual.hpp"
