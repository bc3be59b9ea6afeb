#include "backends/cpu/kernels/fused_batchnorm.h"

#include <cmath>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "compiler/passes/epilogue_fusion.h"
#include "core/blob.h"

namespace lw::cpu {

Result<FusedBatchNorm> FusedBatchNorm::read(const KernelSpec& spec, int64_t channels, size_t out_rank) {
  FusedBatchNorm bn;
  if (spec.node.attr_int(passes::kAttrBatchNorm, 0) == 0) return bn;
  if (spec.inputs.size() < kFusedBnInput + 4 || out_rank < 2)
    return kernel_error(spec, StatusCode::kInternal, "fused BatchNormalization needs 4 parameter inputs after input ",
                        kFusedBnInput - 1);
  for (size_t k = 0; k < 4; ++k)
    if (spec.inputs[kFusedBnInput + k].shape.dims() != Dims{channels})
      return kernel_error(spec, StatusCode::kInvalidArgument, "fused BatchNormalization parameter ", k + 1, " is ",
                          spec.inputs[kFusedBnInput + k].shape.dims(), ", expected [", channels, "]");
  bn.channels_ = channels;
  bn.epsilon_ = spec.node.attr_float(passes::kAttrBnEpsilon, 1e-5f);
  Dims per_channel(out_rank, 1);
  per_channel[1] = channels;
  bn.desc_ = plain_desc(per_channel);
  return bn;
}

void FusedBatchNorm::append_post_ops(dnnl::post_ops& po, Form form) const {
  po.append_binary(dnnl::algorithm::binary_mul, desc_);
  if (form == Form::kMulAdd) po.append_binary(dnnl::algorithm::binary_add, desc_);
}

void FusedBatchNorm::append_args(std::vector<DnnlCall::Arg>& args, int first, Form form) const {
  args.push_back({DNNL_ARG_ATTR_MULTIPLE_POST_OP(first) | DNNL_ARG_SRC_1, desc_});
  if (form == Form::kMulAdd) args.push_back({DNNL_ARG_ATTR_MULTIPLE_POST_OP(first + 1) | DNNL_ARG_SRC_1, desc_});
}

size_t FusedBatchNorm::place_in_scratch(size_t offset) {
  offset_ = align64(offset);
  stride_ = align64(static_cast<size_t>(channels_) * sizeof(float));
  return offset_ + 3 * stride_;  // mul, add, kMulAfterBias's bias
}

std::pair<float*, float*> FusedBatchNorm::compute(const KernelRun& r, void* scratch) const {
  auto* mul = reinterpret_cast<float*>(static_cast<uint8_t*>(scratch) + offset_);
  auto* add = reinterpret_cast<float*>(static_cast<uint8_t*>(scratch) + offset_ + stride_);
  const auto* scale = static_cast<const float*>(r.inputs[kFusedBnInput]);
  const auto* shift = static_cast<const float*>(r.inputs[kFusedBnInput + 1]);
  const auto* mean = static_cast<const float*>(r.inputs[kFusedBnInput + 2]);
  const auto* var = static_cast<const float*>(r.inputs[kFusedBnInput + 3]);
  for (int64_t c = 0; c < channels_; ++c) {
    mul[c] = scale[c] / std::sqrt(var[c] + epsilon_);
    add[c] = shift[c] - mean[c] * mul[c];
  }
  return {mul, add};
}

FusedBatchNorm::Operands FusedBatchNorm::compute_with_bias(const KernelRun& r, void* scratch,
                                                           const float* conv_bias) const {
  auto [mul, add] = compute(r, scratch);
  auto* bias = reinterpret_cast<float*>(static_cast<uint8_t*>(scratch) + offset_ + 2 * stride_);
  bool representable = true;
  for (int64_t c = 0; c < channels_; ++c) {
    // The primitive adds its bias before the post-ops: (v + b + add / mul) * mul = (v + b) * mul + add.
    bias[c] = (conv_bias != nullptr ? conv_bias[c] : 0.0f) + add[c] / mul[c];
    representable &= mul[c] != 0.0f && std::isfinite(mul[c]) && std::isfinite(bias[c]);
  }
  return {mul, add, representable ? bias : nullptr};
}

}  // namespace lw::cpu
