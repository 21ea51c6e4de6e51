// SPDX-License-Identifier: MIT
// The model template, specialised per mode.
#pragma once

#include "fusenet/mode.hpp"

namespace fusenet {

/// A network's parameters and the code to run it; specialised per mode.
template <class Net, class Mode>
class model;

}  // namespace fusenet
