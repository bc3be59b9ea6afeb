// Conv (1-D to 3-D, groups, bias, pads incl. auto_pad, strides, dilations) through oneDNN's
// convolution primitive, with the fused epilogue of compiler/passes/epilogue_fusion.h (an
// inference BatchNormalization as a per-channel multiply and add, a residual added through a
// sum post-op, then Relu or Clip).
//
// The primitive runs on channels-last or channel-blocked activations (Layout) with the weight
// layout oneDNN picks (plain NCHW activations with OIHW weights only get oneDNN's slow im2col
// path). Inputs/outputs that arrive in another layout are reordered into scratch. Weights: a weight the runtime lets us
// pack (KernelSpec::may_pack) is held by its Variable in our layout (wanted_packing); a Const
// weight is packed once here; any other weight is reordered into scratch on every run.
//
// A fused BatchNormalization (fused_batchnorm.h) is not folded into the weights: its parameters
// may be Variables that a refresh replaces independently of W, and W may be held packed. Each
// run turns them into a per-channel scale and shift in scratch. The primitive takes the shift
// in its bias and the scale as one binary post-op (FusedBatchNorm::Form::kMulAfterBias); a
// second primitive over the same layouts, with a multiply and an add post-op, runs when this
// run's parameters have a channel that form cannot express.
//
// Where oneDNN has no fast implementation for the whole epilogue as post-ops, the end of it runs
// as one loop over the primitive's output after it (ConvSetup::Tail) rather than
// the whole convolution falling back to oneDNN's reference code: oneDNN 2.6's AVX2 kernels take
// a residual's sum post-op only as the first post-op, so each Conv + BatchNorm + Add + Relu of a
// ResNet-18 with refreshable BatchNorms took 3.3-3.8 s on an AVX2 machine (its whole inference
// 24 s; 45 ms with the tail).
//
// Where oneDNN settles on 8-channel blocks and its ABcd8b8a weights for a 2-D convolution with a
// spatial kernel (AVX2 machines), liveweight's own kernel (blocked_conv.h) runs on the same
// layouts and weights instead, with the whole epilogue in registers: the BatchNorm's multiply
// and add cost it nothing, where oneDNN's binary post-op slowed its AVX2 kernels. A 3 x 3,
// stride-1 convolution whose weights are small next to its output runs by Winograd's
// F(2 x 2, 3 x 3) (winograd_conv.h) instead; the kernel keeps its transformed filters for as
// long as the weights' generation (KernelRun::input_generations) stays the same, so a refresh
// stays a copy of the weights and the first run after it transforms them. A 1 x 1 convolution
// on those layouts runs as a product (pointwise_conv.h), a depthwise one on
// blocked_depthwise_conv.h and a stem on the plain input on blocked_plain_conv.h: with them no
// convolution of ResNet or MobileNet v2 calls oneDNN there, whose primitives allocate memory on
// every call. LW_CPU_CONV (conv_choice) overrides the choice.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "backends/cpu/conv_pd_cache.h"
#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/blocked_conv.h"
#include "backends/cpu/kernels/blocked_depthwise_conv.h"
#include "backends/cpu/kernels/blocked_grouped_conv.h"
#include "backends/cpu/kernels/blocked_plain_conv.h"
#include "backends/cpu/kernels/depthwise_conv.h"
#include "backends/cpu/kernels/fused_batchnorm.h"
#include "backends/cpu/kernels/grouped_conv.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/kernels.h"
#include "backends/cpu/kernels/nhwc_conv.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "backends/cpu/kernels/plain_conv.h"
#include "backends/cpu/kernels/silu.h"
#include "backends/cpu/kernels/pointwise_conv.h"
#include "backends/cpu/kernels/winograd_conv.h"
#include "compiler/passes/epilogue_fusion.h"
#include "core/blob.h"
#include "graph/ops/spatial.h"

namespace lw::cpu {

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// One input/output of the primitive: the layout the primitive uses and, where the caller's
// differs, a reorder through scratch at `offset`.
struct Port {
  dnnl::memory::desc prim, user;
  bool reorder = false;
  DnnlCall convert;  // user -> prim for an input, prim -> user for the output
  size_t offset = 0;
};

// What the primitive leaves to a loop after it.
enum class Tail {
  kNone,                   // the primitive's post-ops do it all
  kResidualAndActivation,  // the primitive applies any BatchNorm; the loop adds the residual, then the activation
};

struct ConvSetup {
  DnnlCall conv;  // arguments: src, weights, dst, [bias], [scratchpad], [BatchNorm scale, [shift]]
  // With a fused BatchNorm in kMulAfterBias form (bn_form), `conv` always takes a bias and one
  // post-op operand, and this kMulAdd primitive (same layouts) serves the runs it cannot.
  DnnlCall conv_mul_add;
  FusedBatchNorm::Form bn_form = FusedBatchNorm::Form::kMulAdd;
  Port src, dst, wei;
  bool has_bias = false, has_residual = false, residual_reorder = false;
  DnnlCall residual_to_dst;
  size_t residual_input = 0;
  FusedBatchNorm bn;
  size_t scratch = 0, scratch_total = 0;
  WeightBlockPtr owned_weights;  // a Const weight packed at creation
  std::shared_ptr<PackedLayout> wanted;
  Tail tail = Tail::kNone;
  float act_lo = -INFINITY, act_hi = INFINITY;  // the tail's activation as a clamp (Relu: [0, inf))
  // A fused SiLU (never with a residual: passes/epilogue_fusion.h), applied in registers by the
  // kernels that can (`silu_in_kernel`: the AVX-512 blocks of packed_gemm, nhwc_conv,
  // plain_conv, depthwise_conv and grouped_conv), else over dst after the kernel.
  bool silu = false, silu_in_kernel = false;
  size_t residual_offset = 0;  // with a tail and a residual: scratch for a reordered or overlapping residual
  std::string implementation;  // oneDNN's name for `conv`'s implementation
  // liveweight's own kernel (blocked_conv.h) runs instead of `conv` on the primitive's layouts,
  // with the whole epilogue; its scratch starts at direct_offset.
  bool direct = false;
  bool winograd = false;   // direct by winograd_conv.h rather than blocked_conv.h
  bool pointwise = false;  // direct by pointwise_conv.h (a 1 x 1 kernel) rather than blocked_conv.h
  // Direct by packed_gemm.h: a 1 x 1, stride-1, unpadded convolution over channels-last
  // activations is the product of the [N*H*W, C] input with the weights' transpose, held in the
  // panels of gemm_path (AVX-512).
  bool gemm = false;
  GemmPath gemm_path = GemmPath::kAvx2;
  int64_t gemm_passes = 1;  // packed_gemm_passes of the product
  // Direct by depthwise_conv.h (AVX-512, channels-last, group = channels, no dilation), or by
  // blocked_depthwise_conv.h where `depthwise_blocked8` (AVX2, nChw8c).
  bool depthwise = false, depthwise_blocked8 = false;
  DepthwiseConvShape depthwise_shape;
  // Direct by grouped_conv.h (AVX-512, channels-last, groups of c inputs to c outputs, no
  // dilation), or by blocked_grouped_conv.h where `grouped_blocked8` (AVX2, nChw8c).
  bool grouped = false, grouped_blocked8 = false;
  GroupedConvShape grouped_shape;
  // Direct by plain_conv.h (AVX-512, a few input channels on a plain NCHW input, a
  // channels-last output), with gemm_path's blocks, or by blocked_plain_conv.h where
  // `plain_blocked8` (AVX2, an nChw8c output).
  bool plain = false, plain_blocked8 = false;
  PlainConvShape plain_shape;
  // Direct by nhwc_conv.h (AVX-512, a channels-last output, any other 2-D convolution of group 1
  // without dilation).
  bool nhwc = false;
  NhwcConvShape nhwc_shape;
  BlockedConvShape direct_shape;
  size_t direct_offset = 0;
  int threads = 1;
  bool huge_pages = false;  // for memory the kernel keeps (Winograd's transformed filters)
};

// Winograd's filters transformed from one generation of the weights (KernelRun::input_generations).
struct TransformedFilters {
  uint64_t generation = 0;
  WeightBlockPtr data;  // winograd_filters_bytes(direct_shape)
};

// y = clamp(y + residual, lo, hi) over the primitive's output, the residual in the same layout:
// the epilogue steps the primitive could not take. A NaN passes the clamp, as through oneDNN's Relu.
void run_tail(float* y, const float* residual, size_t elements, float lo, float hi) {
  const auto n = static_cast<long>(elements);
#pragma omp parallel for schedule(static) if (elements >= 16384)
  for (long i = 0; i < n; ++i) y[i] = std::min(std::max(y[i] + residual[i], lo), hi);
}

class ConvKernel final : public Kernel {
 public:
  ConvKernel(std::unique_ptr<ConvSetup> s, bool empty, const ir::Node& node)
      : s_(std::move(s)), empty_(empty), name_(node.name) {}

  size_t scratch_bytes() const override { return empty_ ? 0 : s_->scratch_total; }
  std::shared_ptr<const PackedLayout> wanted_packing(size_t input) const override {
    return input == 1 && !empty_ ? s_->wanted : nullptr;
  }
  std::string implementation() const override { return empty_ ? "" : s_->implementation; }

  Status run(const KernelRun& r) const override {
    if (empty_) return Status::ok();
    const ConvSetup& s = *s_;
    auto* scratch = static_cast<uint8_t*>(r.scratch);
    try {
      const void* src = r.inputs[0];
      if (s.src.reorder) {
        s.src.convert.run({src, scratch + s.src.offset});
        src = scratch + s.src.offset;
      }
      const void* wei = s.owned_weights ? static_cast<const void*>(s.owned_weights.get()) : r.inputs[1];
      if (s.wei.reorder) {
        s.wei.convert.run({wei, scratch + s.wei.offset});
        wei = scratch + s.wei.offset;
      }
      void* dst = s.dst.reorder ? static_cast<void*>(scratch + s.dst.offset) : r.outputs[0];
      const size_t dst_bytes = s.dst.prim.get_size();
      if (s.direct) {
        run_direct(r, src, wei, dst, dst_bytes, scratch);
        if (s.silu && !s.silu_in_kernel) silu_in_place(static_cast<float*>(dst), dst_bytes / sizeof(float), s.threads);
        if (s.dst.reorder) s.dst.convert.run({dst, r.outputs[0]});
        return Status::ok();
      }
      const float* tail_residual = nullptr;
      if (s.has_residual) {
        const void* res = r.inputs[s.residual_input];
        if (s.tail == Tail::kNone) {  // the sum post-op adds what dst holds
          if (s.residual_reorder) {
            s.residual_to_dst.run({res, dst});
          } else if (dst != res) {  // the runtime may place the output over the residual
            std::memcpy(dst, res, dst_bytes);
          }
        } else {  // the tail reads it after the primitive has written dst
          tail_residual = residual_to_read(r, dst, dst_bytes, scratch, /*dst_written_first=*/true);
        }
      }
      // The arguments of s.conv, or of s.conv_mul_add when this run's BatchNorm needs it.
      const DnnlCall* conv = &s.conv;
      bool with_bias = s.has_bias, with_add = s.bn.active();
      const void* bias = s.has_bias ? r.inputs[2] : nullptr;
      FusedBatchNorm::Operands bn{};
      if (s.bn.active() && s.bn_form == FusedBatchNorm::Form::kMulAfterBias) {
        bn = s.bn.compute_with_bias(r, scratch, static_cast<const float*>(bias));
        if (bn.bias != nullptr) {
          with_bias = true;
          bias = bn.bias;
          with_add = false;  // in the bias
        } else {
          conv = &s.conv_mul_add;
        }
      } else if (s.bn.active()) {
        std::tie(bn.mul, bn.add) = s.bn.compute(r, scratch);
      }
      const void* buffers[7];
      size_t n = 0;
      buffers[n++] = src;
      buffers[n++] = wei;
      buffers[n++] = dst;
      if (with_bias) buffers[n++] = bias;
      if (s.scratch) buffers[n++] = scratch;
      if (s.bn.active()) buffers[n++] = bn.mul;
      if (with_add) buffers[n++] = bn.add;
      conv->run(buffers, n);
      if (s.tail != Tail::kNone) run_tail(static_cast<float*>(dst), tail_residual, dst_bytes / sizeof(float), s.act_lo, s.act_hi);
      if (s.silu) silu_in_place(static_cast<float*>(dst), dst_bytes / sizeof(float), s.threads);
      if (s.dst.reorder) s.dst.convert.run({dst, r.outputs[0]});
    } catch (const dnnl::error& e) {
      return make_error(StatusCode::kInternal, "node '", name_, "' (Conv): oneDNN convolution failed: ", e.what());
    }
    return Status::ok();
  }

 private:
  // The residual as an epilogue after the convolution reads it: in dst's layout (reordered into
  // scratch where the caller's differs), and copied to scratch where it overlaps dst: always when
  // dst is written before the residual is read (a tail after oneDNN's primitive), else unless it
  // is dst itself (blocked_conv and winograd_conv read each element of it before writing that
  // element of dst).
  const float* residual_to_read(const KernelRun& r, const void* dst, size_t dst_bytes, uint8_t* scratch,
                                bool dst_written_first) const {
    const ConvSetup& s = *s_;
    const void* res = r.inputs[s.residual_input];
    if (s.residual_reorder) {
      s.residual_to_dst.run({res, scratch + s.residual_offset});
      return reinterpret_cast<const float*>(scratch + s.residual_offset);
    }
    const auto* from = static_cast<const uint8_t*>(res);
    const auto* to = static_cast<const uint8_t*>(dst);
    const bool overlaps = from < to + dst_bytes && to < from + dst_bytes;
    if (overlaps && (dst_written_first || from != to)) {
      std::memcpy(scratch + s.residual_offset, res, dst_bytes);
      return reinterpret_cast<const float*>(scratch + s.residual_offset);
    }
    return static_cast<const float*>(res);
  }

  // blocked_conv, winograd_conv or pointwise_conv with the fused epilogue.
  void run_direct(const KernelRun& r, const void* src, const void* wei, void* dst, size_t dst_bytes,
                  uint8_t* scratch) const {
    const ConvSetup& s = *s_;
    BlockedConvEpilogue e;
    if (s.has_bias) e.bias = static_cast<const float*>(r.inputs[2]);
    if (s.bn.active()) std::tie(e.mul, e.add) = s.bn.compute(r, scratch);
    // With several passes over the depth packed_gemm writes partial sums into y before its last
    // pass reads the residual: a residual in y's memory is then copied first. In one pass each
    // element of the residual is read before y's is written, and the runtime's placement of
    // ResNet's outputs over their residuals stays free (a copy made ResNet-50's 56 x 56 ones
    // 70% slower).
    if (s.has_residual) {
      const bool written_first = s.gemm && s.gemm_passes > 1;
      e.residual = residual_to_read(r, dst, dst_bytes, scratch, /*dst_written_first=*/written_first);
    }
    e.lo = s.act_lo;
    e.hi = s.act_hi;
    const auto* x = static_cast<const float*>(src);
    const auto* w = static_cast<const float*>(wei);
    auto* y = static_cast<float*>(dst);
    if (s.pointwise) {
      pointwise_conv(x, w, y, s.direct_shape, e, scratch + s.direct_offset, s.threads);
      return;
    }
    if (s.gemm || s.depthwise || s.grouped || s.plain || s.nhwc) {
      GemmEpilogue g;
      g.bias = e.bias;
      g.mul = e.mul;
      g.add = e.add;
      g.residual = e.residual;
      g.lo = e.lo;
      g.hi = e.hi;
      g.silu = s.silu_in_kernel;
      if (s.depthwise) {  // each element of a residual in y's memory is read before it is written
        if (s.depthwise_blocked8) {
          blocked_depthwise_conv(x, w, y, s.depthwise_shape, g, s.threads);
        } else {
          depthwise_conv(x, w, y, s.depthwise_shape, g, s.threads);
        }
        return;
      }
      if (s.grouped) {  // likewise
        if (s.grouped_blocked8) {
          blocked_grouped_conv(x, w, y, s.grouped_shape, g, s.threads);
        } else {
          grouped_conv(x, w, y, s.grouped_shape, g, s.threads);
        }
        return;
      }
      if (s.plain) {  // one pass: each element of a residual in y's memory is read before it is written
        if (s.plain_blocked8) {
          blocked_plain_conv(x, w, y, s.plain_shape, g, scratch + s.direct_offset, s.threads);
        } else {
          plain_conv(x, w, y, s.plain_shape, g, scratch + s.direct_offset, s.threads, s.gemm_path);
        }
        return;
      }
      if (s.nhwc) {  // one pass, likewise
        nhwc_conv(x, w, y, s.nhwc_shape, g, scratch + s.direct_offset, s.threads);
        return;
      }
      const BlockedConvShape& d = s.direct_shape;
      packed_gemm(x, d.in_channels, w, y, d.out_channels, d.batch * d.out_h * d.out_w, d.in_channels, d.out_channels, g,
                  s.threads, s.gemm_path);
      return;
    }
    // Winograd from the kept filters where the weights have a generation (a Variable or a
    // constant) and there is memory to keep them; the direct kernel otherwise (weights computed
    // by the graph, say), so no run transforms filters it cannot keep and the scratch holds none.
    const uint64_t generation = s.winograd && r.input_generations ? r.input_generations[1] : 0;
    if (auto u = generation != 0 ? transformed_filters(w, generation) : nullptr) {
      winograd_conv_transformed(x, reinterpret_cast<const float*>(u->data.get()), y, s.direct_shape, e,
                                scratch + s.direct_offset, s.threads);
      return;
    }
    blocked_conv(x, w, y, s.direct_shape, e, scratch + s.direct_offset, s.threads);
  }

  // The filters transformed from `w`, whose generation is `generation`: the kept ones when they
  // are of that generation, else transformed now and kept (null when there is no memory for
  // them). Runs on two generations at once (one still on the weights from before a refresh) may
  // take turns replacing them; each holds its own.
  std::shared_ptr<const TransformedFilters> transformed_filters(const float* w, uint64_t generation) const {
    {
      std::lock_guard<std::mutex> lock(filters_mu_);
      if (filters_ && filters_->generation == generation) return filters_;
    }
    const ConvSetup& s = *s_;
    std::shared_ptr<TransformedFilters> fresh;
    try {
      fresh = std::make_shared<TransformedFilters>();
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
    fresh->generation = generation;
    fresh->data = alloc_weight_block(winograd_filters_bytes(s.direct_shape), s.huge_pages);
    if (!fresh->data) return nullptr;
    winograd_transform_filters(w, s.direct_shape, reinterpret_cast<float*>(fresh->data.get()), s.threads);
    std::lock_guard<std::mutex> lock(filters_mu_);
    filters_ = fresh;
    return fresh;
  }

  std::unique_ptr<ConvSetup> s_;
  bool empty_;
  std::string name_;
  mutable std::mutex filters_mu_;
  mutable std::shared_ptr<const TransformedFilters> filters_;  // guarded by filters_mu_
};

struct ConvGeometry {
  Dims x, wdims, y;
  dnnl::memory::dims strides, dilates, pl, pr;
  int64_t out_channels = 0;
};

dnnl::convolution_forward::primitive_desc make_pd(const ConvGeometry& g, const dnnl::memory::desc& src,
                                                  const dnnl::memory::desc& wei, const dnnl::memory::desc& dst,
                                                  bool has_bias, const dnnl::primitive_attr& attr) {
  auto desc = has_bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                         dnnl::algorithm::convolution_direct, src, wei,
                                                         plain_desc({g.out_channels}), dst, g.strides, g.dilates, g.pl, g.pr)
                       : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                         dnnl::algorithm::convolution_direct, src, wei, dst, g.strides,
                                                         g.dilates, g.pl, g.pr);
  return cached_conv_primitive_desc(desc, attr);
}

// Which convolutions may replace oneDNN's where they apply (LW_CPU_CONV): auto (or unset) lets
// liveweight's kernels run, Winograd's where it pays; direct keeps to blocked_conv.h for the
// spatial kernels (no Winograd); onednn keeps oneDNN's everywhere. The last two are there to
// compare, and so that tests run every kernel on every machine.
enum class ConvChoice { kAuto, kDirect, kOneDnn };
Result<ConvChoice> conv_choice(const KernelSpec& spec) {
  const char* v = std::getenv("LW_CPU_CONV");
  const std::string name = v ? v : "";
  if (name.empty() || name == "auto") return ConvChoice::kAuto;
  if (name == "direct") return ConvChoice::kDirect;
  if (name == "onednn") return ConvChoice::kOneDnn;
  return kernel_error(spec, StatusCode::kInvalidArgument, "LW_CPU_CONV='", name,
                      "' is not a choice (auto, direct or onednn)");
}

Result<std::unique_ptr<Kernel>> make_conv(const KernelSpec& spec) {
  for (size_t i = 0; i < spec.inputs.size(); ++i) LW_RETURN_IF_ERROR(require_dtype(spec, i, {DType::kFloat32}));
  if (spec.inputs.size() < 2) return kernel_error(spec, StatusCode::kInvalidArgument, "needs X and W");
  const Dims& x = spec.inputs[0].shape.dims();
  const Dims& w = spec.inputs[1].shape.dims();
  const Dims& y = spec.outputs[0].shape.dims();
  if (x.size() < 3 || x.size() > 5 || w.size() != x.size())
    return kernel_error(spec, StatusCode::kFeatureUnsupported, "only 1-D to 3-D convolutions are supported, got X ",
                        x, " and W ", w);
  size_t rank = x.size() - 2;
  int64_t group = spec.node.attr_int("group", 1);
  if (group <= 0 || x[1] != w[1] * group || w[0] % group != 0)
    return kernel_error(spec, StatusCode::kInvalidArgument, "X ", x, ", W ", w, " and group ", group, " disagree");
  Dims wk(w.begin() + 2, w.end());
  LW_ASSIGN_OR_RETURN(ir::SpatialParams p, ir::read_spatial_params(spec.node, rank, &wk, false, true));
  LW_ASSIGN_OR_RETURN(Dims out_sp, ir::spatial_output_dims(spec.node, p, Dims(x.begin() + 2, x.end())));
  Dims expect = {x[0], w[0]};
  expect.insert(expect.end(), out_sp.begin(), out_sp.end());
  if (expect != y) return kernel_error(spec, StatusCode::kInternal, "output shape ", y, " expected ", expect);
  bool has_bias = spec.inputs.size() > 2 && spec.inputs[2].dtype != DType::kUndefined;
  if (has_bias && spec.inputs[2].shape.dims() != Dims{w[0]})
    return kernel_error(spec, StatusCode::kInvalidArgument, "B ", spec.inputs[2].shape.dims(), " must be [", w[0], "]");
  bool has_residual = spec.node.attr_int(passes::kAttrResidual, 0) != 0;
  LW_ASSIGN_OR_RETURN(FusedBatchNorm bn, FusedBatchNorm::read(spec, w[0], y.size()));
  const bool has_bn = bn.active();
  size_t residual_input = spec.inputs.size() - 1;
  if (has_bn || has_residual) {
    size_t expect_inputs = 3 + (has_bn ? 4 : 0) + (has_residual ? 1 : 0);
    if (spec.inputs.size() != expect_inputs)
      return kernel_error(spec, StatusCode::kInternal, "fused Conv has ", spec.inputs.size(), " inputs, expected ",
                          expect_inputs);
  }
  if (has_residual && spec.inputs[residual_input].shape.dims() != y)
    return kernel_error(spec, StatusCode::kInternal, "fused residual input must have dims ", y);
  LW_ASSIGN_OR_RETURN(const ConvChoice choice, conv_choice(spec));
  auto setup = std::make_unique<ConvSetup>();
  if (numel(y) == 0 || numel(x) == 0) return make_kernel<ConvKernel>(std::move(setup), true, spec.node);

  ConvGeometry g;
  g.x = x;
  g.y = y;
  g.out_channels = w[0];
  g.wdims = w;
  if (group > 1) {
    g.wdims = {group, w[0] / group};
    g.wdims.insert(g.wdims.end(), w.begin() + 1, w.end());
  }
  g.strides.assign(p.strides.begin(), p.strides.end());
  g.pl.assign(p.pads_begin.begin(), p.pads_begin.end());
  g.pr.assign(p.pads_end.begin(), p.pads_end.end());
  for (int64_t d : p.dilations) g.dilates.push_back(d - 1);  // oneDNN counts the gaps

  ConvSetup& s = *setup;
  s.has_bias = has_bias;
  s.has_residual = has_residual;
  s.residual_input = residual_input;
  s.bn = std::move(bn);
  const std::string act = spec.node.attr_string(passes::kAttrActivation, "");
  if (!act.empty() && act != "Relu" && act != "Clip" && act != "SiLU")
    return kernel_error(spec, StatusCode::kInternal, "unknown fused activation '", act, "'");
  if (act == "SiLU" && has_residual)
    return kernel_error(spec, StatusCode::kInternal, "a fused SiLU after a residual is not supported");
  s.silu = act == "SiLU";
  if (act == "Relu") {
    s.act_lo = 0.0f;
  } else if (act == "Clip") {
    s.act_lo = std::max(spec.node.attr_float(passes::kAttrClipMin, -FLT_MAX), -FLT_MAX);
    s.act_hi = std::min(spec.node.attr_float(passes::kAttrClipMax, FLT_MAX), FLT_MAX);
  }
  try {
    // The epilogue as post-ops, with the BatchNorm in `form`, up to where s.tail takes over.
    auto make_attr = [&](FusedBatchNorm::Form form) {
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      dnnl::post_ops po;
      if (has_bn) s.bn.append_post_ops(po, form);
      if (s.tail == Tail::kNone) {
        if (has_residual) po.append_sum(1.0f);
        if (act == "Relu") {
          po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        } else if (act == "Clip") {
          po.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, s.act_lo, s.act_hi);
        }
      }
      attr.set_post_ops(po);
      return attr;
    };
    // kMulAfterBias always gives the primitive a bias (the BatchNorm's shift).
    auto prim_bias = [&] { return has_bias || s.bn_form == FusedBatchNorm::Form::kMulAfterBias; };
    dnnl::primitive_attr attr;

    // Weights as the caller holds them.
    dnnl::memory::desc user_w = plain_desc(g.wdims);
    if (const PackedLayout* given = spec.packing(1); given && given->native)
      user_w = *static_cast<const dnnl::memory::desc*>(given->native.get());
    const bool const_w = spec.const_inputs.size() > 1 && spec.const_inputs[1] != nullptr;
    const bool free_w = const_w || spec.can_pack(1);

    // Fast path: activations channels-last or channel-blocked, oneDNN's own weight layout (or the
    // given packed one). The activation layouts to try, best first: the caller's where the
    // convolutions run on it (plain NCHW counts as channels-last); for a plain input, that input
    // as it is (the blocked kernels read an image's few channels directly); each side's layout
    // for both, the output's first (oneDNN's kernels mostly want src and dst alike); then
    // channels-last.
    const Layout in_layout = spec.input_layout(0), out_layout = spec.output_layout(0);
    auto run_layout = [](Layout l) { return l == Layout::kPlain ? Layout::kChannelsLast : l; };
    std::vector<std::pair<dnnl::memory::desc, dnnl::memory::desc>> activations;
    auto try_layouts = [&](const dnnl::memory::desc& src, const dnnl::memory::desc& dst) {
      for (const auto& [s0, d0] : activations)
        if (s0 == src && d0 == dst) return;
      activations.emplace_back(src, dst);
    };
    try_layouts(activation_desc(x, run_layout(in_layout)), activation_desc(y, run_layout(out_layout)));
    if (in_layout == Layout::kPlain) try_layouts(plain_desc(x), activation_desc(y, run_layout(out_layout)));
    for (Layout l : {run_layout(out_layout), run_layout(in_layout)}) try_layouts(activation_desc(x, l), activation_desc(y, l));
    try_layouts(activation_desc(x, Layout::kChannelsLast), activation_desc(y, Layout::kChannelsLast));
    dnnl::memory::desc any_w(dnnl::memory::dims(g.wdims.begin(), g.wdims.end()), dt::f32, tag::any);
    // The first primitive for `attr` on those layouts that is not oneDNN's reference code.
    auto fast_pd = [&]() {
      std::optional<dnnl::convolution_forward::primitive_desc> chosen;
      auto attempt = [&](const dnnl::memory::desc& src, const dnnl::memory::desc& wei, const dnnl::memory::desc& dst) {
        try {
          chosen = make_pd(g, src, wei, dst, prim_bias(), attr);
          if (is_reference_impl(chosen->impl_info_str())) chosen.reset();
        } catch (const dnnl::error&) {
          chosen.reset();
        }
        return chosen.has_value();
      };
      for (const auto& [src, dst] : activations) {
        if (attempt(src, free_w ? any_w : user_w, dst)) break;
        if (!free_w && attempt(src, any_w, dst)) break;  // reorder the weights at run time
      }
      return chosen;
    };
    // The whole epilogue as post-ops, else (with a residual) all but the residual and the
    // activation, which the tail loop then does; the BatchNorm as kMulAfterBias where
    // `mul_after_bias`. Only when neither has a fast implementation, plain layouts with every
    // post-op (reference code, say).
    auto choose_pd = [&](bool mul_after_bias) {
      s.bn_form = has_bn && mul_after_bias ? FusedBatchNorm::Form::kMulAfterBias : FusedBatchNorm::Form::kMulAdd;
      for (Tail t : {Tail::kNone, Tail::kResidualAndActivation}) {
        if (t == Tail::kResidualAndActivation && !has_residual) continue;
        s.tail = t;
        attr = make_attr(s.bn_form);
        if (auto chosen = fast_pd()) return *chosen;
      }
      s.tail = Tail::kNone;
      attr = make_attr(s.bn_form);
      return make_pd(g, plain_desc(x), plain_desc(g.wdims), plain_desc(y), prim_bias(), attr);
    };
    dnnl::convolution_forward::primitive_desc pd = choose_pd(true);
    std::optional<dnnl::convolution_forward::primitive_desc> pd_mul_add;
    if (s.bn_form == FusedBatchNorm::Form::kMulAfterBias) {
      // The kMulAdd primitive must read the same layouts (the weights are packed for pd).
      try {
        pd_mul_add = make_pd(g, pd.src_desc(), pd.weights_desc(), pd.dst_desc(), has_bias,
                             make_attr(FusedBatchNorm::Form::kMulAdd));
      } catch (const dnnl::error&) {
        pd_mul_add.reset();
      }
      if (!pd_mul_add) pd = choose_pd(false);  // then kMulAdd alone
    }

    s.scratch = pd.scratchpad_desc().get_size();
    if (pd_mul_add) s.scratch = std::max(s.scratch, pd_mul_add->scratchpad_desc().get_size());
    // Both primitives get the larger scratchpad, so that they take the same arguments.
    const dnnl::memory::desc scratch_md({static_cast<dnnl::memory::dim>(s.scratch)}, dt::u8, tag::a);
    size_t offset = align64(s.scratch);
    auto port = [&](Port& port, const dnnl::memory::desc& prim, const dnnl::memory::desc& user, bool input) {
      port.prim = prim;
      port.user = user;
      port.reorder = prim != user;
      if (!port.reorder) return;
      port.offset = offset;
      offset += align64(prim.get_size());
      const dnnl::memory::desc& from = input ? user : prim;
      const dnnl::memory::desc& to = input ? prim : user;
      port.convert = reorder_call(from, to);
    };
    bool undilated = true;
    for (int64_t d : p.dilations) undilated = undilated && d == 1;
    // A grouped convolution whose groups map c inputs to c outputs (ResNeXt's, RegNet's):
    // grouped_conv.h on channels-last activations (AVX-512), blocked_grouped_conv.h on nChw8c
    // (AVX2), each on the weights in its output vectors. They take the graph's activations as
    // they are where those are in their layout, else (a plain input or output) through reorders
    // into it, whatever layout oneDNN's primitive would have wanted: its AVX2 code takes groups
    // of fewer than 8 channels only as plain or channels-last data (gemm:jit). Per layer against
    // oneDNN's (two threads, AVX-512): ResNeXt-50's 56 x 56 (4-channel groups) 0.3-0.4 of its
    // time, 28 x 28 (8) 0.5-0.7, 14 x 14 (16) 1.05-1.1, 7 x 7 (32) 0.8-1.1; RegNet-X 400MF's
    // 0.85-1.0.
    Layout grouped_layout = Layout::kPlain;  // none
    if (rank == 2 && group > 1 && w[0] == x[1] && w[1] > 1 && undilated && choice != ConvChoice::kOneDnn) {
      const Layout l = spec.input_layout(0);
      const bool ours_as_given = (l == Layout::kChannelsLast && grouped_conv_supported()) ||
                                 (l == Layout::kBlocked8 && blocked_grouped_conv_supported());
      const bool as_given = l == spec.output_layout(0) && ours_as_given;
      grouped_layout = as_given                         ? l
                       : grouped_conv_supported()         ? Layout::kChannelsLast
                       : blocked_grouped_conv_supported() ? Layout::kBlocked8
                                                          : Layout::kPlain;
    }
    if (grouped_layout != Layout::kPlain) {
      const bool blocked8 = grouped_layout == Layout::kBlocked8;
      GroupedConvShape& gs = s.grouped_shape;
      gs = {x[0], x[1], w[1], x[2], x[3], y[2], y[3], w[2], w[3], p.strides[0], p.strides[1], p.pads_begin[0],
            p.pads_begin[1]};
      const dnnl::memory::desc held = blocked8 ? blocked_grouped_conv_weights_desc(gs) : grouped_conv_weights_desc(gs);
      const PackedLayout* given = spec.packing(1);
      const auto* given_desc = given ? static_cast<const dnnl::memory::desc*>(given->native.get()) : nullptr;
      const bool ours = given ? given_desc && *given_desc == held : const_w || spec.can_pack(1);
      s.grouped = ours && (blocked8 ? blocked_grouped_conv_accepts(gs) : grouped_conv_accepts(gs));
      s.grouped_blocked8 = s.grouped && blocked8;
    }
    const dnnl::memory::desc user_src = activation_desc(x, spec.input_layout(0));
    const dnnl::memory::desc user_dst = activation_desc(y, spec.output_layout(0));
    port(s.src, s.grouped ? activation_desc(x, grouped_layout) : pd.src_desc(), user_src, true);
    port(s.dst, s.grouped ? activation_desc(y, grouped_layout) : pd.dst_desc(), user_dst, false);
    // Channels-last activations: a 1 x 1 convolution of stride 1 without padding is a product of
    // the [N*H*W, C] input and the weights' transpose, which packed_gemm runs with the epilogue
    // in registers and, unlike oneDNN's primitive, without allocating memory on every call. The
    // weights go in its panels (a Variable is held so; a refresh writes them). Alternating calls
    // on a Zen 5 against oneDNN's brgconv_1x1, ResNet-50's and MobileNet v2's layers: 0.93-1.05
    // of its time at one thread, 0.91-1.10 at two (the 7 x 7 ones with 960 and more output
    // channels the slowest); whole models 1.005-1.012 of the time. AVX2 machines keep nChw8c
    // between convolutions, but oneDNN picks channels-last where a 1 x 1 convolution reads or
    // writes plain data (squeeze-and-excitation blocks, ShuffleNet's shuffles, a graph output):
    // those run on the 6 x 16 blocks there (with oneDNN limited to AVX2 on the Zen 5,
    // EfficientNet-B0 0.995 of the time, MNASNet 0.97, ShuffleNet v2 1.04; 7-162 allocations a
    // run -> 0).
    {
      bool unit = rank == 2 && group == 1 && undilated;
      for (size_t i = 0; unit && i < rank; ++i)
        unit = w[2 + i] == 1 && p.strides[i] == 1 && p.pads_begin[i] == 0 && p.pads_end[i] == 0;
      const int64_t positions = unit ? x[0] * y[2] * y[3] : 0;
      s.gemm_path = packed_gemm_weight_path(positions, y[1]);
      const PackedLayout* given = spec.packing(1);
      const auto* given_desc = given ? static_cast<const dnnl::memory::desc*>(given->native.get()) : nullptr;
      if (given_desc && unit) {  // packed by another plan: its panels, if they are
        for (GemmPath path : kAllGemmPaths)
          if (*given_desc == packed_gemm_b_desc(x[1], y[1], true, path)) s.gemm_path = path;
      }
      const bool given_panels = given_desc && *given_desc == packed_gemm_b_desc(x[1], y[1], true, s.gemm_path);
      const bool channels_last = pd.src_desc() == activation_desc(x, Layout::kChannelsLast) &&
                                 pd.dst_desc() == activation_desc(y, Layout::kChannelsLast);
      const bool ours = given ? given_panels : const_w || spec.can_pack(1);
      s.gemm = unit && choice != ConvChoice::kOneDnn &&
               packed_gemm_supported(s.gemm_path) && channels_last && ours;
      // A depthwise convolution there (one output channel per input channel): depthwise_conv.h,
      // on the weights in its 16-channel groups. Per layer against oneDNN's brdgmm_dw (MobileNet
      // v2, two threads): 0.43-1.0 on 28 x 28 and larger outputs, 1.1-1.3 on 14 x 14 and 7 x 7
      // ones; the whole model 1.01-1.05 of its time, with 136 fewer allocations per run.
      if (rank == 2 && group > 1 && group == x[1] && w[0] == group && w[1] == 1 && undilated &&
          choice != ConvChoice::kOneDnn && channels_last && depthwise_conv_supported()) {
        DepthwiseConvShape& ds = s.depthwise_shape;
        ds = {x[0], x[1], x[2], x[3], y[2], y[3], w[2], w[3], p.strides[0], p.strides[1], p.pads_begin[0],
              p.pads_begin[1]};
        const bool ours_dw = given ? given_desc && *given_desc == depthwise_conv_weights_desc(ds)
                                   : const_w || spec.can_pack(1);
        s.depthwise = depthwise_conv_accepts(ds) && ours_dw;
      }
      // On nChw8c (AVX2 machines): blocked_depthwise_conv.h, on the weights in 8-channel groups.
      const bool blocked8 = pd.src_desc() == activation_desc(x, Layout::kBlocked8) &&
                            pd.dst_desc() == activation_desc(y, Layout::kBlocked8);
      if (rank == 2 && group > 1 && group == x[1] && w[0] == group && w[1] == 1 && undilated &&
          choice != ConvChoice::kOneDnn && blocked8 && blocked_depthwise_conv_supported()) {
        DepthwiseConvShape& ds = s.depthwise_shape;
        ds = {x[0], x[1], x[2], x[3], y[2], y[3], w[2], w[3], p.strides[0], p.strides[1], p.pads_begin[0],
              p.pads_begin[1]};
        const bool ours_dw = given ? given_desc && *given_desc == blocked_depthwise_conv_weights_desc(ds)
                                   : const_w || spec.can_pack(1);
        s.depthwise = s.depthwise_blocked8 = blocked_depthwise_conv_accepts(ds) && ours_dw;
      }
      // A few input channels on a plain NCHW input (an image network's stem: 3 channels):
      // plain_conv.h, on the weights in packed_gemm's panels. It ran MobileNet v2's 3 x 3 stem
      // (27 taps) 20% slower than oneDNN's primitive with its input reorder (0.02 ms a run) and
      // ResNet's 7 x 7 one (147 taps) 31%: taken up to 32 taps, which leaves MobileNet v2's
      // run without a call to malloc.
      if (rank == 2 && group == 1 && undilated && x[1] <= 4 && x[1] * w[2] * w[3] <= 32 &&
          choice != ConvChoice::kOneDnn &&
          spec.input_layout(0) == Layout::kPlain && pd.dst_desc() == activation_desc(y, Layout::kChannelsLast) &&
          packed_gemm_supported(GemmPath::kAvx512x64)) {
        PlainConvShape& ps = s.plain_shape;
        ps = {x[0], x[1], x[2], x[3], y[1], y[2], y[3], w[2], w[3], p.strides[0], p.strides[1],
              p.pads_begin[0], p.pads_begin[1], p.pads_end[0], p.pads_end[1]};
        const GemmPath path = packed_gemm_weight_path(x[0] * y[2] * y[3], y[1]);
        const bool ours_plain =
            given ? given_desc && *given_desc == packed_gemm_b_desc(plain_conv_depth(ps), y[1], true, path)
                  : const_w || spec.can_pack(1);
        if (plain_conv_accepts(ps) && ours_plain) {
          s.plain = true;
          s.src.reorder = false;  // the kernel reads the caller's NCHW input itself
          s.gemm_path = path;
        }
      }
      // Every other 2-D convolution of group 1 without dilation with a channels-last output
      // (ResNet's 3 x 3 ones, its strided 1 x 1 projections and its 7 x 7 stem on the plain
      // input): nhwc_conv.h, on the weights in its panels. Per layer against oneDNN's brgconv,
      // alternating calls, two threads: 0.94-1.04 of its time on ResNet's 3 x 3 layers.
      const bool plain_in = spec.input_layout(0) == Layout::kPlain;
      if (!s.gemm && !s.depthwise && !s.plain && rank == 2 && group == 1 && undilated &&
          choice != ConvChoice::kOneDnn && nhwc_conv_supported() &&
          (plain_in || pd.src_desc() == activation_desc(x, Layout::kChannelsLast)) &&
          pd.dst_desc() == activation_desc(y, Layout::kChannelsLast)) {
        NhwcConvShape& ns = s.nhwc_shape;
        ns = {x[0], x[1], x[2], x[3], y[1], y[2], y[3], w[2], w[3], p.strides[0], p.strides[1],
              p.pads_begin[0], p.pads_begin[1], p.pads_end[0], p.pads_end[1], plain_in};
        const bool ours_nhwc =
            given ? given_desc && *given_desc == nhwc_conv_weights_desc(ns) : const_w || spec.can_pack(1);
        if (nhwc_conv_accepts(ns) && ours_nhwc) {
          s.nhwc = true;
          if (plain_in) s.src.reorder = false;  // the kernel reads the caller's NCHW input itself
        }
      }
      // A stem on the plain input writing nChw8c (AVX2 machines): blocked_plain_conv.h, on the
      // weights in its panels.
      if (!s.plain && !s.nhwc && rank == 2 && group == 1 && undilated && x[1] < 8 && plain_in &&
          choice != ConvChoice::kOneDnn && pd.dst_desc() == activation_desc(y, Layout::kBlocked8) &&
          blocked_plain_conv_supported()) {
        PlainConvShape& bs = s.plain_shape;
        bs = {x[0], x[1], x[2], x[3], y[1], y[2], y[3], w[2], w[3], p.strides[0], p.strides[1],
              p.pads_begin[0], p.pads_begin[1], p.pads_end[0], p.pads_end[1]};
        const bool ours_stem =
            given ? given_desc && *given_desc == blocked_plain_conv_weights_desc(bs) : const_w || spec.can_pack(1);
        if (blocked_plain_conv_accepts(bs) && ours_stem) {
          s.plain = s.plain_blocked8 = true;
          s.src.reorder = false;  // the kernel reads the caller's NCHW input itself
        }
      }
    }
    // The shape liveweight's own kernels take (blocked_conv.h's, also pointwise_conv's and the
    // product's below).
    if (rank == 2) {
      BlockedConvShape& d = s.direct_shape;
      d.batch = x[0];
      d.in_channels = x[1];
      d.in_h = x[2];
      d.in_w = x[3];
      d.out_channels = y[1];
      d.out_h = y[2];
      d.out_w = y[3];
      d.kernel_h = w[2];
      d.kernel_w = w[3];
      d.stride_h = p.strides[0];
      d.stride_w = p.strides[1];
      d.pad_top = p.pads_begin[0];
      d.pad_left = p.pads_begin[1];
    }
    // The weights of liveweight's own kernels in `packing`: a Const packed here once, a Variable
    // held so by the runtime (unless it arrives packed by another plan).
    auto hold_weights = [&](std::shared_ptr<PackedLayout> packing) -> Status {
      s.direct = true;
      if (const_w) {
        s.owned_weights = alloc_weight_block(packing->bytes, spec.huge_pages);
        if (!s.owned_weights) return kernel_error(spec, StatusCode::kOutOfMemory, "cannot allocate packed weights");
        return packing->pack(spec.const_inputs[1]->bytes.data, s.owned_weights.get(), StoreMode::kCached);
      }
      if (!spec.packing(1)) s.wanted = std::move(packing);
      return Status::ok();
    };
    if (s.depthwise) {
      const dnnl::memory::desc held = s.depthwise_blocked8 ? blocked_depthwise_conv_weights_desc(s.depthwise_shape)
                                                           : depthwise_conv_weights_desc(s.depthwise_shape);
      LW_RETURN_IF_ERROR(hold_weights(make_weight_packing(plain_desc(g.wdims), held)));
    } else if (s.grouped) {
      const dnnl::memory::desc held = s.grouped_blocked8 ? blocked_grouped_conv_weights_desc(s.grouped_shape)
                                                         : grouped_conv_weights_desc(s.grouped_shape);
      LW_RETURN_IF_ERROR(hold_weights(make_weight_packing(plain_desc(w), held)));
    } else if (s.nhwc) {
      LW_RETURN_IF_ERROR(
          hold_weights(make_weight_packing(plain_desc(g.wdims), nhwc_conv_weights_desc(s.nhwc_shape))));
    } else if (s.plain && s.plain_blocked8) {
      LW_RETURN_IF_ERROR(
          hold_weights(make_weight_packing(plain_desc(g.wdims), blocked_plain_conv_weights_desc(s.plain_shape))));
    } else if (s.plain) {
      LW_RETURN_IF_ERROR(hold_weights(
          packed_gemm_b_packing(plain_conv_depth(s.plain_shape), y[1], /*b_rows_are_columns=*/true, s.gemm_path)));
    } else if (s.gemm) {
      s.gemm_passes = packed_gemm_passes(x[0] * y[2] * y[3], x[1], s.gemm_path);
      LW_RETURN_IF_ERROR(hold_weights(packed_gemm_b_packing(x[1], y[1], /*b_rows_are_columns=*/true, s.gemm_path)));
    } else if (const_w) {
      // Pack the Const weight once; it then arrives in the primitive's layout.
      auto packing = make_weight_packing(plain_desc(g.wdims), pd.weights_desc());
      s.owned_weights = alloc_weight_block(packing->bytes, spec.huge_pages);
      if (!s.owned_weights) return kernel_error(spec, StatusCode::kOutOfMemory, "cannot allocate packed weights");
      LW_RETURN_IF_ERROR(packing->pack(spec.const_inputs[1]->bytes.data, s.owned_weights.get(), StoreMode::kCached));
      port(s.wei, pd.weights_desc(), pd.weights_desc(), true);
    } else if (spec.can_pack(1)) {
      s.wanted = pd.weights_desc() == plain_desc(g.wdims) ? nullptr : make_weight_packing(plain_desc(g.wdims), pd.weights_desc());
      port(s.wei, pd.weights_desc(), pd.weights_desc(), true);
    } else {
      port(s.wei, pd.weights_desc(), user_w, true);
    }
    if (has_residual) {
      const dnnl::memory::desc residual_user = activation_desc(y, spec.input_layout(residual_input));
      s.residual_reorder = residual_user != s.dst.prim;
      if (s.residual_reorder)
        s.residual_to_dst = reorder_call(residual_user, s.dst.prim);
    }
    // liveweight's kernels where oneDNN settled on 8-channel blocks for a plain 2-D convolution:
    // blocked_conv (or Winograd) with a spatial kernel, pointwise_conv for 1 x 1 (blocked_conv's
    // tiles ran those 1.4-1.9x slower than oneDNN's 1 x 1 kernel). pointwise_conv takes every
    // 1 x 1 it accepts, for the allocation target: against oneDNN's jit_1x1 (AVX2 machine,
    // 2026-11-27) it ran ResNet-50's 14 x 14 and 7 x 7 layers at 0.78-1.01 of the time at two
    // threads, 1.02-1.08 at one, its 56 x 56 and 28 x 28 ones at 1.05-1.24, a lone 8-channel
    // block 1.5-1.6x; whole models with oneDNN limited to AVX2 on a Zen 5 (2026-11-28, against
    // the choice by those figures): ResNet-50 1.01-1.03, MobileNet v2 1.01-1.04, ResNet-18 1.00.
    if (!s.gemm && !s.depthwise && !s.grouped && !s.plain && !s.nhwc && choice != ConvChoice::kOneDnn &&
        rank == 2 && group == 1 && x[1] % 8 == 0 && w[0] % 8 == 0 && blocked_conv_supported()) {
      const BlockedConvShape& d = s.direct_shape;
      const dnnl::memory::desc blocked_w(dnnl::memory::dims(w.begin(), w.end()), dt::f32, tag::ABcd8b8a);
      const bool blocked_layouts = undilated && pd.src_desc() == activation_desc(x, Layout::kBlocked8) &&
                                   pd.dst_desc() == activation_desc(y, Layout::kBlocked8) && pd.weights_desc() == blocked_w;
      if (w[2] * w[3] == 1) {
        s.pointwise = blocked_layouts && pointwise_conv_accepts(d);
        s.direct = s.pointwise;
      } else {
        s.direct = blocked_layouts && blocked_conv_accepts(d);
        s.winograd = s.direct && choice == ConvChoice::kAuto && winograd_conv_pays(d);
      }
    }
    if ((s.tail != Tail::kNone || s.direct) && has_residual) {
      s.residual_offset = offset;
      offset += align64(s.dst.prim.get_size());
    }
    if (has_bn) offset = s.bn.place_in_scratch(offset);
    s.silu_in_kernel = s.silu && s.direct &&
                       ((s.gemm && s.gemm_path != GemmPath::kAvx2) || (s.depthwise && !s.depthwise_blocked8) ||
                        s.grouped || (s.plain && !s.plain_blocked8) || s.nhwc);
    s.threads = std::max(spec.num_threads, 1);
    if (s.direct) {
      s.huge_pages = spec.huge_pages;
      s.direct_offset = offset;
      // Winograd's steps, or the direct kernel it falls back to (run_direct).
      size_t direct_scratch = s.plain_blocked8        ? blocked_plain_conv_scratch_bytes(s.plain_shape)
                              : s.plain               ? plain_conv_scratch_bytes(s.plain_shape)
                              : s.nhwc                ? nhwc_conv_scratch_bytes(s.nhwc_shape)
                              : s.gemm || s.depthwise || s.grouped ? 0
                              : s.pointwise ? pointwise_conv_scratch_bytes(s.direct_shape, s.threads)
                                            : blocked_conv_scratch_bytes(s.direct_shape, s.threads);
      if (s.winograd) direct_scratch = std::max(direct_scratch, winograd_step_scratch_bytes(s.direct_shape, s.threads));
      offset += align64(direct_scratch);
    }
    s.scratch_total = offset;
    auto conv_call = [&](const dnnl::convolution_forward::primitive_desc& p, bool with_bias, FusedBatchNorm::Form form) {
      std::vector<DnnlCall::Arg> args = {
          {DNNL_ARG_SRC, s.src.prim}, {DNNL_ARG_WEIGHTS, s.wei.prim}, {DNNL_ARG_DST, s.dst.prim}};
      if (with_bias) args.push_back({DNNL_ARG_BIAS, p.bias_desc()});
      if (s.scratch) args.push_back({DNNL_ARG_SCRATCHPAD, scratch_md});
      if (has_bn) s.bn.append_args(args, 0, form);  // the first post-ops
      return DnnlCall(dnnl::convolution_forward(p), std::move(args));
    };
    if (s.direct) {
      const char* depthwise = s.depthwise_blocked8 ? "lw:blocked_depthwise_conv_avx2" : "lw:depthwise_conv_avx512";
      const char* grouped = s.grouped_blocked8 ? "lw:blocked_grouped_conv_avx2" : "lw:grouped_conv_avx512";
      const char* plain = s.plain_blocked8 ? "lw:blocked_plain_conv_avx2" : "lw:plain_conv_avx512";
      const char* gemm = s.gemm_path == GemmPath::kAvx2 ? "lw:conv1x1_packed_gemm_avx2" : "lw:conv1x1_packed_gemm_avx512";
      s.implementation = s.gemm        ? gemm
                         : s.depthwise ? depthwise
                         : s.grouped   ? grouped
                         : s.plain     ? plain
                         : s.nhwc      ? "lw:nhwc_conv_avx512"
                         : s.winograd  ? "lw:winograd_conv_avx2"
                         : s.pointwise ? "lw:pointwise_conv_avx2"
                                       : "lw:blocked_conv_avx2";
      return make_kernel<ConvKernel>(std::move(setup), false, spec.node);
    }
    s.conv = conv_call(pd, prim_bias(), s.bn_form);
    s.implementation = pd.impl_info_str();
    if (pd_mul_add) s.conv_mul_add = conv_call(*pd_mul_add, has_bias, FusedBatchNorm::Form::kMulAdd);
    return make_kernel<ConvKernel>(std::move(setup), false, spec.node);
  } catch (const dnnl::error& e) {
    return dnnl_failure(spec.node, "convolution creation", e);
  }
}

}  // namespace

void register_conv_kernels(std::vector<KernelEntry>& registry) { registry.push_back({"Conv", make_conv}); }

}  // namespace lw::cpu
