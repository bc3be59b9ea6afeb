// A BatchNormalization fused into the Conv or Gemm before it (compiler/passes/epilogue_fusion.h,
// kAttrBatchNorm): its four parameters are inputs 3..6 of the fused node, one value per output
// channel, read on every run because they may be Variables a refresh replaces. The kernels
// apply it as two oneDNN binary post-ops, a per-channel multiply and add.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "backends/cpu/kernel.h"

namespace lw::cpu {

inline constexpr size_t kFusedBnInput = 3;  // scale, B, mean, var follow X, W and the bias slot

// y = (v - mean) * scale / sqrt(var + eps) + B  =  v * mul + add, per channel, in float as ONNX
// Runtime evaluates BatchNormalization. Reads the parameters from the run's inputs.
inline void fused_batchnorm_scale_shift(const KernelRun& r, float epsilon, int64_t channels, float* mul, float* add) {
  const auto* scale = static_cast<const float*>(r.inputs[kFusedBnInput]);
  const auto* shift = static_cast<const float*>(r.inputs[kFusedBnInput + 1]);
  const auto* mean = static_cast<const float*>(r.inputs[kFusedBnInput + 2]);
  const auto* var = static_cast<const float*>(r.inputs[kFusedBnInput + 3]);
  for (int64_t c = 0; c < channels; ++c) {
    mul[c] = scale[c] / std::sqrt(var[c] + epsilon);
    add[c] = shift[c] - mean[c] * mul[c];
  }
}

}  // namespace lw::cpu
