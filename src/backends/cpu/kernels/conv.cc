// Conv (1-D to 3-D, groups, bias, pads incl. auto_pad, strides, dilations) through oneDNN's
// convolution primitive. Activations and weights use plain layouts (NCW/NCHW/NCDHW and
// OIHW, or GOIHW for groups, which is the same memory as ONNX's [M, C/g, k...]) because the
// weights are refreshable Variables handed over at run time.
#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/kernels.h"
#include "graph/ops/spatial.h"

namespace lw::cpu {

namespace {

class ConvKernel final : public Kernel {
 public:
  ConvKernel(dnnl::convolution_forward::primitive_desc pd, bool has_bias, bool empty, const ir::Node& node)
      : has_bias_(has_bias), empty_(empty), name_(node.name) {
    if (empty_) return;
    src_ = pd.src_desc();
    weights_ = pd.weights_desc();
    dst_ = pd.dst_desc();
    if (has_bias_) bias_ = pd.bias_desc();
    scratch_md_ = pd.scratchpad_desc();
    scratch_ = scratch_md_.get_size();
    prim_ = dnnl::convolution_forward(pd);
  }

  size_t scratch_bytes() const override { return scratch_; }

  Status run(const KernelRun& r) const override {
    if (empty_) return Status::ok();
    try {
      const dnnl::engine& eng = dnnl_cpu_engine();
      dnnl::stream& stream = dnnl_thread_stream();
      std::unordered_map<int, dnnl::memory> args = {
          {DNNL_ARG_SRC, dnnl::memory(src_, eng, const_cast<void*>(r.inputs[0]))},
          {DNNL_ARG_WEIGHTS, dnnl::memory(weights_, eng, const_cast<void*>(r.inputs[1]))},
          {DNNL_ARG_DST, dnnl::memory(dst_, eng, r.outputs[0])}};
      if (has_bias_) args.emplace(DNNL_ARG_BIAS, dnnl::memory(bias_, eng, const_cast<void*>(r.inputs[2])));
      if (scratch_) args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(scratch_md_, eng, r.scratch));
      prim_.execute(stream, args);
      stream.wait();
    } catch (const dnnl::error& e) {
      return make_error(StatusCode::kInternal, "node '", name_, "' (Conv): oneDNN convolution failed: ", e.what());
    }
    return Status::ok();
  }

 private:
  bool has_bias_, empty_;
  std::string name_;
  dnnl::memory::desc src_, weights_, dst_, bias_, scratch_md_;
  size_t scratch_ = 0;
  dnnl::convolution_forward prim_;
};

Result<std::unique_ptr<Kernel>> make_conv(const KernelSpec& spec) {
  for (size_t i = 0; i < spec.inputs.size(); ++i) LW_RETURN_IF_ERROR(require_dtype(spec, i, {DType::kFloat32}));
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
  if (numel(y) == 0 || numel(x) == 0)
    return make_kernel<ConvKernel>(dnnl::convolution_forward::primitive_desc(), has_bias, true, spec.node);

  Dims wdims = w;
  if (group > 1) {
    wdims = {group, w[0] / group};
    wdims.insert(wdims.end(), w.begin() + 1, w.end());
  }
  dnnl::memory::dims strides(p.strides.begin(), p.strides.end());
  dnnl::memory::dims dilates, pl(p.pads_begin.begin(), p.pads_begin.end()), pr(p.pads_end.begin(), p.pads_end.end());
  for (int64_t d : p.dilations) dilates.push_back(d - 1);  // oneDNN counts the gaps
  try {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    auto src = plain_desc(x), wmd = plain_desc(wdims), dst = plain_desc(y);
    auto desc = has_bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                           dnnl::algorithm::convolution_direct, src, wmd,
                                                           plain_desc({w[0]}), dst, strides, dilates, pl, pr)
                         : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                           dnnl::algorithm::convolution_direct, src, wmd, dst, strides,
                                                           dilates, pl, pr);
    dnnl::convolution_forward::primitive_desc pd(desc, attr, dnnl_cpu_engine());
    return make_kernel<ConvKernel>(pd, has_bias, false, spec.node);
  } catch (const dnnl::error& e) {
    return dnnl_failure(spec.node, "convolution creation", e);
  }
}

}  // namespace

void register_conv_kernels(std::vector<KernelEntry>& registry) { registry.push_back({"Conv", make_conv}); }

}  // namespace lw::cpu
