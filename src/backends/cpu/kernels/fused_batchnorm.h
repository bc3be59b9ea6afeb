// A BatchNormalization fused into the Conv or Gemm before it (compiler/passes/epilogue_fusion.h,
// kAttrBatchNorm): its four parameters are inputs 3..6 of the fused node, one value per output
// channel, read on every run because they may be Variables a refresh replaces. The kernels
// apply it as two oneDNN binary post-ops, a per-channel multiply and add, whose operands each
// run computes into the kernel's scratch.
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

  bool active() const { return channels_ > 0; }
  // The multiply and add post-ops; `po` gets them in that order.
  void append_post_ops(dnnl::post_ops& po) const;
  // Their operands as primitive arguments, for post-ops at positions `first` and `first + 1`.
  void append_args(std::vector<DnnlCall::Arg>& args, int first) const;
  // Reserves the operands in scratch from `offset` on; returns the end of what it reserved.
  size_t place_in_scratch(size_t offset);
  // y = (v - mean) * scale / sqrt(var + eps) + B  =  v * mul + add, per channel, in float as ONNX
  // Runtime evaluates BatchNormalization: computes this run's {mul, add} into `scratch` from
  // the run's parameter inputs.
  std::pair<float*, float*> compute(const KernelRun& r, void* scratch) const;

 private:
  int64_t channels_ = 0;
  float epsilon_ = 1e-5f;
  dnnl::memory::desc desc_;  // [1, C, 1, ...]
  size_t offset_ = 0, stride_ = 0;
};

}  // namespace lw::cpu
