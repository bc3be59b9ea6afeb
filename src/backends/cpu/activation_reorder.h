// Conversions between the activation layouts the CPU backend keeps (plain NCHW, channels-last,
// and the channel-blocked nChw8c / nChw16c) of a float32 tensor, without oneDNN.
//
// Why: a oneDNN reorder allocates memory on every execution (its argument map, 3 calls a run in
// oneDNN 2.6), and these conversions run inside the inference loop wherever a value crosses
// from the convolutions' layout to the plain one: a graph output written by a convolution (a
// feature map, a segmentation head), or a convolution whose input or residual arrives plain.
// reorder_call (dnnl_util.h) takes this path for every pair of layouts described here.
//
// Every layout is seen as [N][C][S] with S the spatial positions flattened: plain is n, c, s;
// channels-last n, s, c; blocked n, c / B, s, c % B. Thread-safe; no state.
#pragma once

#include <cstdint>
#include <optional>

#include "backends/cpu/kernel.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

struct ActivationReorder {
  int64_t batch = 0, channels = 0, spatial = 0;
  Layout from = Layout::kPlain, to = Layout::kPlain;
};

// The conversion from `from` to `to` when both are float32 activations of rank 3 to 5 with the
// same dims, each exactly activation_desc(dims, layout) for some layout (so blocked ones have
// a channel count that is a multiple of the block: no padding), and the layouts differ;
// nullopt otherwise (oneDNN's reorder then).
std::optional<ActivationReorder> describe_activation_reorder(const dnnl::memory::desc& from,
                                                             const dnnl::memory::desc& to);

// Writes `src` (r.from) into `dst` (r.to) on up to `threads` OpenMP threads. The buffers must
// not overlap.
void run_activation_reorder(const ActivationReorder& r, const float* src, float* dst, int threads);

}  // namespace lw::cpu
