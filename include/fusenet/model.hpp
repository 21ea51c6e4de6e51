// SPDX-License-Identifier: MIT
// model<Net, Mode>: the training and inference specializations of a network.
#pragma once

#include "fusenet/config.hpp"

#if FUSENET_CXX20  // below C++20, config.hpp's #error is the only message
#include "fusenet/model/mode.hpp"
#include "fusenet/model/infer_model.hpp"
#include "fusenet/model/train_model.hpp"
#endif
