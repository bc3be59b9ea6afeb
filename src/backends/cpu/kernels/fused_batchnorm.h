// A BatchNormalization fused into the Conv or Gemm before it (compiler/passes/epilogue_fusion.h,
// kAttrBatchNorm): its four parameters are inputs 3..6 of the fused node, one value per output
// channel, read on every run because they may be Variables a refresh replaces. Each run turns
// them into a per-channel multiply and add (y = v * mul + add) in the kernel's scratch, which
// oneDNN post-ops apply in one of two forms:
//  - kMulAdd: two binary post-ops, multiply then add; exact for every parameter value;
//  - kMulAfterBias: the add moves into the primitive's bias as add / mul (plus the conv's own
//    bias), so one binary multiply remains: y = (v + add / mul) * mul. One post-op instead of
//    two is 2-3% of a ResNet-18's inference. It needs every mul to be non-zero with add / mul
//    finite; a kernel that uses it also holds a kMulAdd primitive for the runs where some
//    channel's parameters are not (a pruned channel's scale of 0, say).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "backends/cpu/dnnl_call.h"
#include "backends/cpu/kernel.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace lw::cpu {

inline constexpr size_t kFusedBnInput = 3;  // scale, B, mean, var follow X, W and the bias slot

// What a kernel keeps of its fused BatchNormalization (inactive when the node has none).
// Immutable after setup; compute() is thread-safe (it writes only the run's scratch).
class FusedBatchNorm {
 public:
  // From the fused node's attributes, for an output of rank `out_rank` whose dim 1 holds
  // `channels`; an error when inputs 3..6 are not [channels].
  static Result<FusedBatchNorm> read(const KernelSpec& spec, int64_t channels, size_t out_rank);

  enum class Form { kMulAdd, kMulAfterBias };

  bool active() const { return channels_ > 0; }
  // The post-ops of `form`: multiply then add, or the multiply alone.
  void append_post_ops(dnnl::post_ops& po, Form form = Form::kMulAdd) const;
  // Their operands as primitive arguments, for post-ops from position `first` on.
  void append_args(std::vector<DnnlCall::Arg>& args, int first, Form form = Form::kMulAdd) const;
  // Reserves the operands in scratch from `offset` on; returns the end of what it reserved.
  size_t place_in_scratch(size_t offset);
  // y = (v - mean) * scale / sqrt(var + eps) + B  =  v * mul + add, per channel, in float as ONNX
  // Runtime evaluates BatchNormalization: computes this run's {mul, add} into `scratch` from
  // the run's parameter inputs.
  std::pair<float*, float*> compute(const KernelRun& r, void* scratch) const;

  struct Operands {
    float* mul;
    float* add;
    float* bias;  // kMulAfterBias's bias, conv_bias + add / mul; null when kMulAdd must run
  };
  // compute(), and kMulAfterBias's bias for a primitive whose own bias is `conv_bias` (may be
  // null): null in the result when some channel's mul is 0 or not finite, or its bias is not.
  Operands compute_with_bias(const KernelRun& r, void* scratch, const float* conv_bias) const;

 private:
  int64_t channels_ = 0;
  float epsilon_ = 1e-5f;
  dnnl::memory::desc desc_;  // [1, C, 1, ...]
  size_t offset_ = 0, stride_ = 0;
};

}  // namespace lw::cpu
