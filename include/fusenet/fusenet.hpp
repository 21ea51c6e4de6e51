// SPDX-License-Identifier: MIT
// The umbrella header: the only header examples include. It gives the whole public API: the front end
// (network.hpp), both models, losses, optimizers, schedules, fit, checkpoints, safetensors/npy I/O and data/.
#pragma once

#include "fusenet/config.hpp"

#if FUSENET_CXX20
#include "fusenet/check_finite.hpp"
#include "fusenet/data/batch_pipeline.hpp"
#include "fusenet/data/batches.hpp"
#include "fusenet/data/cifar.hpp"
#include "fusenet/data/csv.hpp"
#include "fusenet/data/fashion_mnist.hpp"
#include "fusenet/data/idx.hpp"
#include "fusenet/data/image_decode.hpp"
#include "fusenet/data/image_folder.hpp"
#include "fusenet/data/image_tensor.hpp"
#include "fusenet/data/pipeline_batches.hpp"
#include "fusenet/data/sample_source.hpp"
#include "fusenet/data/transforms.hpp"
#include "fusenet/io/error.hpp"
#include "fusenet/io/model_io.hpp"
#include "fusenet/io/npy.hpp"
#include "fusenet/io/safetensors.hpp"
#include "fusenet/model.hpp"
#include "fusenet/network.hpp"
#include "fusenet/simd_arch.hpp"
#include "fusenet/train/checkpoint.hpp"
#include "fusenet/train/fit.hpp"
#include "fusenet/train/losses.hpp"
#include "fusenet/train/optimizers.hpp"
#include "fusenet/train/param.hpp"
#include "fusenet/train/progress.hpp"
#include "fusenet/train/schedule.hpp"
#include "fusenet/train/weight_scale.hpp"
#endif
