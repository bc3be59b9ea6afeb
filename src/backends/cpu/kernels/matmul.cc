// MatMul (numpy semantics, batch broadcast; a bias Add fused by the epilogue pass) and Gemm
// (transA/transB, alpha, beta, C broadcast) through oneDNN's matmul primitive. A 2-D B that is
// a Const, or a weight read by this node alone, is held in oneDNN's preferred blocked layout. Gemm's C goes in as the primitive's bias when
// alpha = beta = 1; otherwise it is broadcast into the output first and folded in by a sum
// post-op scaled by beta, with alpha as the output scale.
#include <cfloat>
#include <cmath>
#include <cstring>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/fused_batchnorm.h"
#include "backends/cpu/kernels/kernels.h"
#include "backends/cpu/kernels/packed_gemm.h"
#include "backends/cpu/kernels/skinny_gemm.h"
#include "backends/cpu/kernels/strided.h"
#include "compiler/passes/epilogue_fusion.h"
#include "core/blob.h"

namespace lw::cpu {

namespace {

constexpr size_t kMaxDnnlRank = 12;  // DNNL_MAX_NDIMS

struct MatMulSetup {
  dnnl::memory::desc a, b, dst, bias;
  bool has_bias = false;
  float alpha = 1.0f, beta = 0.0f;
  bool c_used = false;        // Gemm's C takes part (present and beta != 0)
  bool sum_c = false;         // C copied into dst before the primitive adds to it
  StridedPlan c_plan;         // C broadcast to dst
  bool k_zero = false;        // empty reduction: dst = beta * C (or 0)
  bool empty = false;         // nothing to compute
  // B as the primitive reads it: the caller's layout, or a packed one (held by the Variable
  // when the runtime allows it, or by the kernel for a Const B).
  dnnl::memory::desc b_prim;
  std::shared_ptr<WeightBlockPtr> owned_b;
  std::shared_ptr<PackedLayout> wanted;
  // Fused activation (compiler/passes/epilogue_fusion.h): 0 none, 1 Relu, 2 Clip; and as the
  // clamp range the skinny and packed kernels apply.
  int act = 0;
  float act_lo = 0.0f, act_hi = 0.0f;
  float clamp_lo = -INFINITY, clamp_hi = INFINITY;
  // Fused BatchNormalization over the columns (Gemm only), applied after C and before the
  // activation; its scale/shift go in scratch after the primitive's.
  FusedBatchNorm bn;
  // Run by skinny_gemm instead of the primitive: [m, k] x [n, k]^T (+ a bias per column).
  bool skinny = false;
  // Run by packed_gemm instead: [m, k] x B, B in its panel layout for packed_path (+ a bias per
  // column).
  bool packed = false;
  GemmPath packed_path = GemmPath::kAvx2;
  int64_t m = 0, k = 0, n = 0;
  std::string implementation;  // oneDNN's name for the primitive's, or liveweight's
};

// The activation fused into `node`, or an error for one this kernel does not know.
Status read_fused_activation(const KernelSpec& spec, MatMulSetup* s) {
  std::string act = spec.node.attr_string(passes::kAttrActivation, "");
  if (act.empty()) return Status::ok();
  if (act == "Relu") {
    s->act = 1;
    s->clamp_lo = 0.0f;
  } else if (act == "Clip") {
    s->act = 2;
    s->act_lo = std::max(spec.node.attr_float(passes::kAttrClipMin, -FLT_MAX), -FLT_MAX);
    s->act_hi = std::min(spec.node.attr_float(passes::kAttrClipMax, FLT_MAX), FLT_MAX);
    s->clamp_lo = s->act_lo;
    s->clamp_hi = s->act_hi;
  } else {
    return kernel_error(spec, StatusCode::kInternal, "unknown fused activation '", act, "'");
  }
  return Status::ok();
}

// Applies a fused BatchNorm's per-column scale and shift to the rows of `dst` in place (the
// paths that skip the primitive).
void apply_batchnorm(const float* mul, const float* add, int64_t columns, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % columns;
    dst[i] = dst[i] * mul[c] + add[c];
  }
}

// Applies the fused activation in place (the paths that skip the primitive).
void apply_activation(const MatMulSetup& s, float* dst, int64_t n) {
  if (s.act == 1)
    for (int64_t i = 0; i < n; ++i) dst[i] = dst[i] > 0.0f ? dst[i] : 0.0f;
  else if (s.act == 2)
    for (int64_t i = 0; i < n; ++i) dst[i] = std::min(std::max(dst[i], s.act_lo), s.act_hi);
}

class MatMulKernel final : public Kernel {
 public:
  MatMulKernel(MatMulSetup s, dnnl::matmul prim, size_t scratch, dnnl::memory::desc scratch_md, int threads,
               const ir::Node& node)
      : s_(std::move(s)), scratch_(scratch), scratch_total_(scratch), threads_(threads), name_(node.name), op_(node.op) {
    if (s_.bn.active()) scratch_total_ = s_.bn.place_in_scratch(scratch_);
    if (!prim) return;  // empty or k = 0: no primitive
    std::vector<DnnlCall::Arg> args = {{DNNL_ARG_SRC, s_.a}, {DNNL_ARG_WEIGHTS, s_.b_prim}, {DNNL_ARG_DST, s_.dst}};
    if (s_.has_bias) args.push_back({DNNL_ARG_BIAS, s_.bias});
    if (scratch_) args.push_back({DNNL_ARG_SCRATCHPAD, std::move(scratch_md)});
    if (s_.bn.active()) s_.bn.append_args(args, s_.sum_c ? 1 : 0);  // after the sum of C
    call_ = DnnlCall(std::move(prim), std::move(args));
  }

  size_t scratch_bytes() const override { return scratch_total_; }
  std::shared_ptr<const PackedLayout> wanted_packing(size_t input) const override {
    return input == 1 ? s_.wanted : nullptr;
  }
  std::string implementation() const override { return s_.implementation; }

  Status run(const KernelRun& r) const override {
    if (s_.empty) return Status::ok();
    if (s_.skinny || s_.packed) {
      const float lo = s_.clamp_lo, hi = s_.clamp_hi;
      const auto* a = static_cast<const float*>(r.inputs[0]);
      const auto* b = static_cast<const float*>(s_.owned_b ? static_cast<const void*>(s_.owned_b->get()) : r.inputs[1]);
      const float* bias = s_.has_bias ? static_cast<const float*>(r.inputs[2]) : nullptr;
      auto* y = static_cast<float*>(r.outputs[0]);
      if (s_.skinny) {
        skinny_gemm(a, b, bias, y, s_.m, s_.k, s_.n, lo, hi, threads_);
      } else {
        packed_gemm(a, s_.k, b, bias, y, s_.n, s_.m, s_.k, s_.n, lo, hi, threads_, s_.packed_path);
      }
      return Status::ok();
    }
    float* dst = static_cast<float*>(r.outputs[0]);
    std::pair<float*, float*> bn{nullptr, nullptr};  // the fused BatchNorm's scale and shift
    if (s_.bn.active()) bn = s_.bn.compute(r, r.scratch);
    if (s_.k_zero || s_.sum_c) {
      const float* c = s_.c_used ? static_cast<const float*>(r.inputs[2]) : nullptr;
      const float scale = s_.k_zero ? s_.beta : 1.0f;
      if (c == nullptr) {
        std::memset(dst, 0, static_cast<size_t>(s_.c_plan.total) * sizeof(float));
      } else {
        const int64_t sc = s_.c_plan.inner_stride(0);
        run_strided<1>(s_.c_plan, threads_, [&](const std::array<int64_t, 1>& off, int64_t out_off, int64_t n) {
          for (int64_t i = 0; i < n; ++i) dst[out_off + i] = scale * c[off[0] + i * sc];
        });
      }
      if (s_.k_zero) {
        if (s_.bn.active()) apply_batchnorm(bn.first, bn.second, s_.dst.dims().back(), dst, s_.c_plan.total);
        apply_activation(s_, dst, s_.c_plan.total);
        return Status::ok();
      }
    }
    try {
      const void* buffers[7];
      size_t n = 0;
      buffers[n++] = r.inputs[0];
      buffers[n++] = s_.owned_b ? static_cast<const void*>(s_.owned_b->get()) : r.inputs[1];
      buffers[n++] = dst;
      if (s_.has_bias) buffers[n++] = r.inputs[2];
      if (scratch_) buffers[n++] = r.scratch;
      if (s_.bn.active()) {
        buffers[n++] = bn.first;
        buffers[n++] = bn.second;
      }
      call_.run(buffers, n);
    } catch (const dnnl::error& e) {
      return make_error(StatusCode::kInternal, "node '", name_, "' (", op_, "): oneDNN matmul failed: ", e.what());
    }
    return Status::ok();
  }

 private:
  MatMulSetup s_;
  DnnlCall call_;
  size_t scratch_;        // the primitive's
  size_t scratch_total_;  // and the fused BatchNorm's after it
  int threads_;
  std::string name_, op_;
};

Result<std::unique_ptr<Kernel>> build(const KernelSpec& spec, MatMulSetup s, const Dims& dst_dims, int64_t k) {
  s.empty = numel(dst_dims) == 0;
  s.k_zero = k == 0;
  if (s.empty || s.k_zero)
    return make_kernel<MatMulKernel>(std::move(s), dnnl::matmul(), 0, dnnl::memory::desc(), spec.num_threads, spec.node);
  try {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (s.alpha != 1.0f) attr.set_output_scales(0, {s.alpha});
    dnnl::post_ops po;
    if (s.sum_c) po.append_sum(s.beta);
    if (s.bn.active()) s.bn.append_post_ops(po);
    if (s.act == 1) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    if (s.act == 2) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, s.act_lo, s.act_hi);
    attr.set_post_ops(po);
    // A 2-D B that is a Const or a weight we may pack goes in oneDNN's preferred layout; one
    // packed by another kernel arrives in that layout.
    const bool const_b = spec.const_inputs.size() > 1 && spec.const_inputs[1] != nullptr;
    const bool two_d = s.b.dims().size() == 2;
    // The products packed_gemm can take (below), and the panel layout of their B.
    const int64_t m = dst_dims.front(), n = dst_dims.back();
    const bool b_plain = s.b == plain_desc({k, n});
    const bool b_transposed = s.b == dnnl::memory::desc({k, n}, dnnl::memory::data_type::f32, {1, k});
    const bool panel_form = dst_dims.size() == 2 && (b_plain || b_transposed) && s.a == plain_desc({m, k}) &&
                            s.alpha == 1.0f && !s.sum_c && !s.bn.active() &&
                            (!s.has_bias || s.bias.dims() == dnnl::memory::dims{1, n}) && packed_gemm_supported();
    // The path for m rows; a B that arrives in another path's panels (packed by a plan for
    // another row count) runs on that path instead.
    GemmPath path = packed_gemm_weight_path(m, n);
    const PackedLayout* given = spec.packing(1);
    bool given_panels = false;
    if (panel_form && given && given->native) {
      for (GemmPath p : kAllGemmPaths) {
        if (packed_gemm_supported(p) &&
            *static_cast<const dnnl::memory::desc*>(given->native.get()) == packed_gemm_b_desc(k, n, b_transposed, p)) {
          path = p;
          given_panels = true;
          break;
        }
      }
    }
    // (B in the panel layout: oneDNN never reads it; the primitive below only names the implementation.)
    dnnl::memory::desc b_req = s.b;
    if (given && given->native && !given_panels)
      b_req = *static_cast<const dnnl::memory::desc*>(given->native.get());
    else if (!given_panels && two_d && (const_b || spec.can_pack(1)))
      b_req = dnnl::memory::desc(s.b.dims(), dnnl::memory::data_type::f32, dnnl::memory::format_tag::any);
    auto make = [&](const dnnl::memory::desc& b) {
      auto desc = s.has_bias ? dnnl::matmul::desc(s.a, b, s.bias, s.dst) : dnnl::matmul::desc(s.a, b, s.dst);
      return dnnl::matmul::primitive_desc(desc, attr, dnnl_cpu_engine());
    };
    dnnl::matmul::primitive_desc pd = make(b_req);
    // A choice without blocks (oneDNN's AVX2 gemm takes a plain [K, N]) gains nothing over B as
    // the caller holds it, and a Gemm's transB weight ([N, K], PyTorch's Linear) is faster read
    // as it is: MLP layer 8 x 4096 x 4096 at two threads 8.8 ms against 15.8 ms transposed to
    // [K, N], and every refresh transposed 64 MB through a oneDNN reorder (83 ms).
    if (b_req.data.format_kind == dnnl_format_kind_any && pd.weights_desc() != s.b &&
        pd.weights_desc().data.format_desc.blocking.inner_nblks == 0) {
      try {
        dnnl::matmul::primitive_desc as_given = make(s.b);
        if (!is_reference_impl(as_given.impl_info_str())) pd = as_given;
      } catch (const dnnl::error&) {
      }  // keep oneDNN's choice
    }
    s.b_prim = pd.weights_desc();
    s.implementation = pd.impl_info_str();
    // B in `packing`'s layout: a Const B packed here once, else the runtime holds the weight so.
    auto hold_b = [&](std::shared_ptr<PackedLayout> packing) -> Status {
      if (!const_b) {
        s.wanted = std::move(packing);
        return Status::ok();
      }
      auto owned = std::make_shared<WeightBlockPtr>(alloc_weight_block(packing->bytes, spec.huge_pages));
      if (!*owned) return make_error(StatusCode::kOutOfMemory, "node '", spec.node.name, "': cannot allocate packed B");
      LW_RETURN_IF_ERROR(packing->pack(spec.const_inputs[1]->bytes.data, owned->get(), StoreMode::kCached));
      s.owned_b = std::move(owned);
      return Status::ok();
    };
    // A few rows of A against a B held as [N, K] (transB) where oneDNN runs its AVX2 gemm: the
    // skinny kernel streams B once instead (the MLP benchmark's inference, 8 rows, on an AVX2
    // machine: 28-35 -> 22-24 ms at two threads, 48-73 -> 45-46 ms at one).
    const auto& bd = s.b_prim.data;
    const bool b_as_rows = bd.ndims == 2 && bd.format_kind == dnnl_blocked && bd.format_desc.blocking.inner_nblks == 0 &&
                           bd.format_desc.blocking.strides[0] == 1 && bd.format_desc.blocking.strides[1] == k &&
                           bd.padded_dims[0] == k;
    if (b_as_rows && dst_dims.size() == 2 && m <= kSkinnyGemmMaxRows && s.a == plain_desc({m, k}) && s.alpha == 1.0f &&
        !s.sum_c && !s.bn.active() && (!s.has_bias || s.bias.dims() == dnnl::memory::dims{1, n}) &&
        s.implementation.rfind("gemm", 0) == 0 && skinny_gemm_supported()) {
      s.skinny = true;
      s.m = m;
      s.k = k;
      s.n = n;
      s.implementation = "lw:skinny_gemm_avx2";
    }
    // More rows than that, where oneDNN runs its AVX2 gemm (which packs B on every call), with B
    // a weight whose layout is ours: packed_gemm, on B held in its panel layout (the
    // transformer benchmark's 128-row products). On AVX-512, any rows: oneDNN's own matmul there
    // allocates memory on every call, and packed_gemm's AVX-512 code matches it on those
    // products and streams the MLP's weights faster (alternating processes on a Zen 5, B/A:
    // transformer 1.007 at two threads, MLP 0.867 at two and 0.747 at one). A B that arrives
    // in that layout (a plan for other shapes of the same model) takes it whatever the rows.
    const bool packed_pays =
        path != GemmPath::kAvx2 || (s.implementation.rfind("gemm", 0) == 0 && m > kSkinnyGemmMaxRows);
    if (given_panels || (panel_form && !given && !s.skinny && (const_b || spec.can_pack(1)) && packed_pays)) {
      s.packed = true;
      s.packed_path = path;
      s.m = m;
      s.k = k;
      s.n = n;
      s.implementation = path == GemmPath::kAvx2 ? "lw:packed_gemm_avx2" : "lw:packed_gemm_avx512";
      if (!given_panels) {
        LW_RETURN_IF_ERROR(hold_b(packed_gemm_b_packing(k, n, b_transposed, path)));
      }
      return make_kernel<MatMulKernel>(std::move(s), dnnl::matmul(), 0, dnnl::memory::desc(), spec.num_threads, spec.node);
    }
    if (s.b_prim != s.b && !spec.packing(1)) {
      LW_RETURN_IF_ERROR(hold_b(make_weight_packing(s.b, s.b_prim)));
    }
    dnnl::memory::desc scratch_md = pd.scratchpad_desc();
    size_t scratch = scratch_md.get_size();
    return make_kernel<MatMulKernel>(std::move(s), dnnl::matmul(pd), scratch, scratch_md, spec.num_threads, spec.node);
  } catch (const dnnl::error& e) {
    return dnnl_failure(spec.node, "matmul creation", e);
  }
}

Result<std::unique_ptr<Kernel>> make_matmul(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  LW_RETURN_IF_ERROR(require_dtype(spec, 1, {DType::kFloat32}));
  Dims a = spec.inputs[0].shape.dims(), b = spec.inputs[1].shape.dims();
  if (a.empty() || b.empty()) return kernel_error(spec, StatusCode::kInvalidArgument, "inputs must not be scalars");
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  size_t r = std::max(a.size(), b.size());
  if (r > kMaxDnnlRank)
    return kernel_error(spec, StatusCode::kFeatureUnsupported, "rank ", r, " is above oneDNN's limit of ", kMaxDnnlRank);
  a.insert(a.begin(), r - a.size(), 1);
  b.insert(b.begin(), r - b.size(), 1);
  Dims dst(r);
  for (size_t i = 0; i + 2 < r; ++i) dst[i] = std::max(a[i], b[i]) == 1 ? 1 : (a[i] == 1 ? b[i] : a[i]);
  dst[r - 2] = a[r - 2];
  dst[r - 1] = b[r - 1];
  if (numel(dst) != numel(spec.outputs[0].shape.dims()))
    return kernel_error(spec, StatusCode::kInternal, "output shape ", spec.outputs[0].shape.to_string(),
                        " does not match ", dst);
  bool b_batched = false;
  for (size_t i = 0; i + 2 < r; ++i) b_batched = b_batched || b[i] != 1;
  if (r > 2 && !b_batched) {
    // B is one matrix for every batch of A: one [batch*m, k] x [k, n] product (same memory)
    // instead of `batch` small ones (a [seq, 1, d] x [d, n] projection would run as seq
    // products of one row each).
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < r; ++i) rows *= a[i];
    a = {rows, a[r - 1]};
    b = {b[r - 2], b[r - 1]};
    dst = {rows, dst[r - 1]};
    r = 2;
  }
  MatMulSetup s;
  s.a = plain_desc(a);
  s.b = plain_desc(b);
  s.dst = plain_desc(dst);
  if (spec.node.attr_int(passes::kAttrBias, 0) != 0) {
    // A fused bias [N] (compiler/passes/epilogue_fusion.h) as the primitive's bias, broadcast
    // over the rows.
    if (spec.inputs.size() < 3 || spec.inputs[2].dtype != DType::kFloat32 || numel(spec.inputs[2].shape.dims()) != dst.back())
      return kernel_error(spec, StatusCode::kInternal, "fused MatMul bias must be float32 with ", dst.back(), " elements");
    Dims bias(dst.size(), 1);
    bias.back() = dst.back();
    s.has_bias = true;
    s.bias = plain_desc(bias);
  }
  s.c_plan = make_strided_plan(dst, {Dims(dst.size(), 0)});
  LW_RETURN_IF_ERROR(read_fused_activation(spec, &s));
  return build(spec, std::move(s), dst, a[r - 1]);
}

Result<std::unique_ptr<Kernel>> make_gemm(const KernelSpec& spec) {
  for (size_t i = 0; i < spec.inputs.size(); ++i) LW_RETURN_IF_ERROR(require_dtype(spec, i, {DType::kFloat32}));
  const Dims& a = spec.inputs[0].shape.dims();
  const Dims& b = spec.inputs[1].shape.dims();
  if (a.size() != 2 || b.size() != 2) return kernel_error(spec, StatusCode::kInvalidArgument, "A and B must be 2-D");
  bool ta = spec.node.attr_int("transA", 0) != 0, tb = spec.node.attr_int("transB", 0) != 0;
  int64_t m = ta ? a[1] : a[0], k = ta ? a[0] : a[1], n = tb ? b[0] : b[1];
  if ((tb ? b[1] : b[0]) != k) return kernel_error(spec, StatusCode::kInvalidArgument, "A ", a, " and B ", b, " disagree");
  using dt = dnnl::memory::data_type;
  MatMulSetup s;
  s.a = ta ? dnnl::memory::desc({m, k}, dt::f32, {1, m}) : plain_desc({m, k});
  s.b = tb ? dnnl::memory::desc({k, n}, dt::f32, {1, k}) : plain_desc({k, n});
  s.dst = plain_desc({m, n});
  s.alpha = spec.node.attr_float("alpha", 1.0f);
  s.beta = spec.node.attr_float("beta", 1.0f);
  bool has_c = spec.inputs.size() > 2 && spec.inputs[2].dtype != DType::kUndefined && s.beta != 0.0f;
  Dims dst = {m, n};
  s.c_used = has_c;
  if (has_c) {
    Dims c = spec.inputs[2].shape.dims();
    if (!broadcasts_to(c, dst))
      return kernel_error(spec, StatusCode::kInvalidArgument, "C ", c, " does not broadcast to ", dst);
    s.c_plan = make_strided_plan(dst, {broadcast_strides(c, dst)});
    if (s.alpha == 1.0f && s.beta == 1.0f && k != 0) {
      c.insert(c.begin(), 2 - c.size(), 1);
      s.has_bias = true;
      s.bias = plain_desc(c);
    } else {
      s.sum_c = true;
    }
  } else {
    s.c_plan = make_strided_plan(dst, {Dims{0, 0}});
  }
  LW_ASSIGN_OR_RETURN(s.bn, FusedBatchNorm::read(spec, n, 2));
  LW_RETURN_IF_ERROR(read_fused_activation(spec, &s));
  return build(spec, std::move(s), dst, k);
}

}  // namespace

void register_matmul_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"MatMul", make_matmul});
  registry.push_back({"Gemm", make_gemm});
}

}  // namespace lw::cpu
