// Schemas of the neural-network ops: Gemm, MatMul, Conv, the pools, BatchNormalization
// (inference), Softmax, LogSoftmax and LayerNormalization.
#include <algorithm>

#include "graph/ops/op_helpers.h"
#include "graph/ops/ops.h"
#include "graph/ops/spatial.h"

namespace lw::ir {

namespace {

// Two dims that must agree; dynamic agrees with anything. Returns the more precise one.
Result<int64_t> merge_dim(const InferContext& ctx, int64_t a, int64_t b, const char* what) {
  if (a >= 0 && b >= 0 && a != b) return ctx.error(what, ": ", a, " vs ", b);
  return a >= 0 ? a : b;
}

Status infer_gemm(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"alpha", AttrKind::kFloat}, {"beta", AttrKind::kFloat},
                                            {"transA", AttrKind::kInt}, {"transB", AttrKind::kInt}}));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes, "A"));
  LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 1));
  LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  int64_t trans_a = ctx.node.attr_int("transA", 0), trans_b = ctx.node.attr_int("transB", 0);
  if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1))
    return ctx.error("attributes transA/transB must be 0 or 1");
  const Shape& a = ctx.inputs[0].shape;
  const Shape& b = ctx.inputs[1].shape;
  if (a.rank_known() && a.rank() != 2) return ctx.error("input A must be 2-D, got ", a.to_string());
  if (b.rank_known() && b.rank() != 2) return ctx.error("input B must be 2-D, got ", b.to_string());
  int64_t m = a.rank_known() ? a.dim(trans_a ? 1 : 0) : kDynamicDim;
  int64_t ka = a.rank_known() ? a.dim(trans_a ? 0 : 1) : kDynamicDim;
  int64_t kb = b.rank_known() ? b.dim(trans_b ? 1 : 0) : kDynamicDim;
  int64_t n = b.rank_known() ? b.dim(trans_b ? 0 : 1) : kDynamicDim;
  if (ka >= 0 && kb >= 0 && ka != kb)
    return ctx.error("inner dims differ: A ", a.to_string(), (trans_a ? " (transposed)" : ""), " and B ",
                     b.to_string(), (trans_b ? " (transposed)" : ""));
  if (ctx.has_input(2)) {
    const Shape& c = ctx.inputs[2].shape;
    if (c.rank_known()) {
      if (c.rank() > 2) return ctx.error("input C must have rank <= 2, got ", c.to_string());
      // Unidirectional broadcast of C to [M, N].
      Dims target = {m, n};
      for (size_t i = 0; i < c.rank(); ++i) {
        int64_t cd = c.dim(i), td = target[2 - c.rank() + i];
        if (cd >= 0 && cd != 1 && td >= 0 && cd != td)
          return ctx.error("input C ", c.to_string(), " does not broadcast to [", m, ",", n, "]");
      }
    }
  }
  ctx.outputs[0] = TensorType{ctx.inputs[0].dtype, Shape(Dims{m, n})};
  return Status::ok();
}

Status infer_matmul(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes, "A"));
  LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 1));
  const Shape& a = ctx.inputs[0].shape;
  const Shape& b = ctx.inputs[1].shape;
  DType t = ctx.inputs[0].dtype;
  if (!a.rank_known() || !b.rank_known()) {
    ctx.outputs[0] = TensorType{t, Shape::unknown_rank()};
    return Status::ok();
  }
  if (a.rank() == 0 || b.rank() == 0) return ctx.error("inputs must not be scalars");
  Dims ad = a.dims(), bd = b.dims();
  bool a_vec = ad.size() == 1, b_vec = bd.size() == 1;
  if (a_vec) ad.insert(ad.begin(), 1);
  if (b_vec) bd.push_back(1);
  int64_t ka = ad[ad.size() - 1], kb = bd[bd.size() - 2];
  if (ka >= 0 && kb >= 0 && ka != kb)
    return ctx.error("inner dims differ: A ", a.to_string(), " and B ", b.to_string());
  Shape batch_a(Dims(ad.begin(), ad.end() - 2)), batch_b(Dims(bd.begin(), bd.end() - 2));
  auto batch = broadcast_shapes(ctx, {batch_a, batch_b});
  if (!batch.is_ok())
    return ctx.error("batch dims of A ", a.to_string(), " and B ", b.to_string(), " do not broadcast");
  Dims out = batch->dims();
  if (!a_vec) out.push_back(ad[ad.size() - 2]);
  if (!b_vec) out.push_back(bd[bd.size() - 1]);
  ctx.outputs[0] = TensorType{t, Shape(out)};
  return Status::ok();
}

Status infer_conv(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"group", AttrKind::kInt}, {"kernel_shape", AttrKind::kInts},
                                            {"strides", AttrKind::kInts}, {"dilations", AttrKind::kInts},
                                            {"pads", AttrKind::kInts}, {"auto_pad", AttrKind::kString}}));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kFloatTypes, "X"));
  LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 1));
  LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  const Shape& x = ctx.inputs[0].shape;
  const Shape& w = ctx.inputs[1].shape;
  DType t = ctx.inputs[0].dtype;
  int64_t group = ctx.node.attr_int("group", 1);
  if (group <= 0) return ctx.error("attribute 'group' must be positive, got ", group);
  if (!x.rank_known() && !w.rank_known()) {
    ctx.outputs[0] = TensorType{t, Shape::unknown_rank()};
    return Status::ok();
  }
  size_t rank = x.rank_known() ? x.rank() : w.rank();
  if (rank < 3) return ctx.error("input X must have rank >= 3 (N, C, spatial...), got rank ", rank);
  if (x.rank_known() && w.rank_known() && x.rank() != w.rank())
    return ctx.error("X ", x.to_string(), " and W ", w.to_string(), " differ in rank");
  Dims xd = x.rank_known() ? x.dims() : Dims(rank, kDynamicDim);
  Dims wd = w.rank_known() ? w.dims() : Dims(rank, kDynamicDim);
  if (xd[1] >= 0 && xd[1] % group != 0) return ctx.error("input channels ", xd[1], " not divisible by group ", group);
  if (xd[1] >= 0 && wd[1] >= 0 && xd[1] != wd[1] * group)
    return ctx.error("X has ", xd[1], " channels but W ", w.to_string(), " expects ", wd[1] * group,
                     " (group ", group, ")");
  if (wd[0] >= 0 && wd[0] % group != 0) return ctx.error("output channels ", wd[0], " not divisible by group ", group);
  if (ctx.has_input(2)) {
    const Shape& b = ctx.inputs[2].shape;
    if (b.rank_known() && b.rank() != 1) return ctx.error("bias B must be 1-D, got ", b.to_string());
    if (b.rank_known() && b.dim(0) >= 0 && wd[0] >= 0 && b.dim(0) != wd[0])
      return ctx.error("bias B has ", b.dim(0), " values, expected ", wd[0]);
  }
  Dims wk(wd.begin() + 2, wd.end());
  bool wk_known = std::all_of(wk.begin(), wk.end(), [](int64_t d) { return d >= 0; });
  Dims out = {xd[0], wd[0]};
  if (!wk_known && !ctx.node.has_attr("kernel_shape")) {
    out.resize(rank, kDynamicDim);
  } else {
    auto p = read_spatial_params(ctx.node, rank - 2, wk_known ? &wk : nullptr, false, true);
    if (!p.is_ok()) return p.status();
    LW_ASSIGN_OR_RETURN(Dims sp, spatial_output_dims(ctx.node, *p, Dims(xd.begin() + 2, xd.end())));
    out.insert(out.end(), sp.begin(), sp.end());
  }
  ctx.outputs[0] = TensorType{t, Shape(out)};
  return Status::ok();
}

InferFn pool_infer(bool is_max) {
  return [is_max](InferContext& ctx) -> Status {
    LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"kernel_shape", AttrKind::kInts}, {"strides", AttrKind::kInts},
                                              {"dilations", AttrKind::kInts}, {"pads", AttrKind::kInts},
                                              {"auto_pad", AttrKind::kString}, {"ceil_mode", AttrKind::kInt},
                                              {"count_include_pad", AttrKind::kInt},
                                              {"storage_order", AttrKind::kInt}}));
    LW_RETURN_IF_ERROR(check_dtype(ctx, 0, is_max ? kNumericTypes : kFloatTypes, "X"));
    int64_t cip = ctx.node.attr_int("count_include_pad", 0);
    if (cip != 0 && cip != 1) return ctx.error("attribute 'count_include_pad' must be 0 or 1");
    int64_t so = ctx.node.attr_int("storage_order", 0);
    if (so != 0 && so != 1) return ctx.error("attribute 'storage_order' must be 0 or 1");
    const Shape& x = ctx.inputs[0].shape;
    DType t = ctx.inputs[0].dtype;
    Shape out_shape = Shape::unknown_rank();
    if (ctx.node.has_attr("kernel_shape")) {
      // kernel_shape gives the spatial rank even when X's rank is unknown.
      size_t rank = ctx.node.attr_ints("kernel_shape").size();
      if (x.rank_known() && x.rank() != rank + 2)
        return ctx.error("X ", x.to_string(), " has rank ", x.rank(), " but kernel_shape has ", rank, " dims");
      LW_ASSIGN_OR_RETURN(SpatialParams p, read_spatial_params(ctx.node, rank, nullptr, true, true));
      Dims xd = x.rank_known() ? x.dims() : Dims(rank + 2, kDynamicDim);
      LW_ASSIGN_OR_RETURN(Dims sp, spatial_output_dims(ctx.node, p, Dims(xd.begin() + 2, xd.end())));
      Dims out = {xd[0], xd[1]};
      out.insert(out.end(), sp.begin(), sp.end());
      out_shape = Shape(out);
    } else {
      return ctx.error("attribute 'kernel_shape' is required");
    }
    ctx.outputs[0] = TensorType{t, out_shape};
    if (ctx.outputs.size() > 1) ctx.outputs[1] = TensorType{DType::kInt64, out_shape};
    return Status::ok();
  };
}

Status infer_global_pool(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kFloatTypes, "X"));
  const Shape& x = ctx.inputs[0].shape;
  if (!x.rank_known()) {
    ctx.outputs[0] = ctx.inputs[0];
    return Status::ok();
  }
  if (x.rank() < 3) return ctx.error("input X must have rank >= 3 (N, C, spatial...), got ", x.to_string());
  Dims out = x.dims();
  for (size_t i = 2; i < out.size(); ++i) out[i] = 1;
  ctx.outputs[0] = TensorType{ctx.inputs[0].dtype, Shape(out)};
  return Status::ok();
}

Status infer_batch_norm(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"epsilon", AttrKind::kFloat}, {"momentum", AttrKind::kFloat},
                                            {"training_mode", AttrKind::kInt}}));
  if (ctx.node.attr_int("training_mode", 0) != 0)
    return ctx.error("training_mode=1 is not supported (inference only)");
  if (ctx.outputs.size() > 1) return ctx.error("outputs running_mean/running_var exist only in training mode");
  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kFloatTypes, "X"));
  const Shape& x = ctx.inputs[0].shape;
  if (x.rank_known() && x.rank() < 2) return ctx.error("input X must have rank >= 2, got ", x.to_string());
  int64_t c = x.rank_known() ? x.dim(1) : kDynamicDim;
  static const char* kNames[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i) {
    LW_RETURN_IF_ERROR(check_dtype(ctx, i, kFloatTypes, kNames[i]));
    const Shape& s = ctx.inputs[i].shape;
    if (!s.rank_known()) continue;
    if (s.rank() != 1) return ctx.error("input '", kNames[i], "' must be 1-D, got ", s.to_string());
    LW_ASSIGN_OR_RETURN(c, merge_dim(ctx, c, s.dim(0), (std::string("channel count of '") + kNames[i] + "'").c_str()));
  }
  ctx.outputs[0] = ctx.inputs[0];
  return Status::ok();
}

Status infer_softmax(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"axis", AttrKind::kInt}}));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kFloatTypes, "input"));
  const Shape& x = ctx.inputs[0].shape;
  if (x.rank_known()) {
    if (x.rank() == 0) return ctx.error("input must have rank >= 1");
    auto axis = normalize_axis(ctx, ctx.node.attr_int("axis", -1), static_cast<int64_t>(x.rank()), "axis");
    if (!axis.is_ok()) return axis.status();
  }
  ctx.outputs[0] = ctx.inputs[0];
  return Status::ok();
}

Status infer_layer_norm(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(
      ctx, {{"axis", AttrKind::kInt}, {"epsilon", AttrKind::kFloat}, {"stash_type", AttrKind::kInt}}));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kFloatTypes, "X"));
  LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 1));
  LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
  const Shape& x = ctx.inputs[0].shape;
  Shape stat = Shape::unknown_rank();
  if (x.rank_known()) {
    int64_t r = static_cast<int64_t>(x.rank());
    if (r == 0) return ctx.error("input X must have rank >= 1");
    LW_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.node.attr_int("axis", -1), r, "axis"));
    Dims sd = x.dims();
    for (size_t i = static_cast<size_t>(axis); i < sd.size(); ++i) sd[i] = 1;
    stat = Shape(sd);
    // Scale and B broadcast unidirectionally to the normalized tail.
    Shape tail(Dims(x.dims().begin() + axis, x.dims().end()));
    for (size_t i = 1; i < 3; ++i) {
      if (!ctx.has_input(i) || !ctx.inputs[i].shape.rank_known()) continue;
      LW_ASSIGN_OR_RETURN(Shape b, broadcast_shapes(ctx, {tail, ctx.inputs[i].shape}));
      if (b.rank() != tail.rank() || (b.is_static() && tail.is_static() && b != tail))
        return ctx.error("input ", i, " ", ctx.inputs[i].shape.to_string(), " does not broadcast to the normalized dims ",
                         tail.to_string());
    }
  }
  ctx.outputs[0] = ctx.inputs[0];
  int64_t stash = ctx.node.attr_int("stash_type", 1);
  if (stash != 1) return ctx.error("stash_type ", stash, " is not supported (only 1, float32 statistics)");
  for (size_t i = 1; i < ctx.outputs.size(); ++i) ctx.outputs[i] = TensorType{DType::kFloat32, stat};
  return Status::ok();
}

}  // namespace

void register_nn_ops(std::vector<OpSchema>& registry) {
  registry.push_back(OpSchema{"Gemm", 2, 3, 1, 1, {}, infer_gemm});
  registry.push_back(OpSchema{"MatMul", 2, 2, 1, 1, {}, infer_matmul});
  registry.push_back(OpSchema{"Conv", 2, 3, 1, 1, {}, infer_conv});
  registry.push_back(OpSchema{"MaxPool", 1, 1, 1, 2, {}, pool_infer(true)});
  registry.push_back(OpSchema{"AveragePool", 1, 1, 1, 1, {}, pool_infer(false)});
  registry.push_back(OpSchema{"GlobalAveragePool", 1, 1, 1, 1, {}, infer_global_pool});
  registry.push_back(OpSchema{"GlobalMaxPool", 1, 1, 1, 1, {}, infer_global_pool});
  registry.push_back(OpSchema{"BatchNormalization", 5, 5, 1, 3, {}, infer_batch_norm});
  registry.push_back(OpSchema{"Softmax", 1, 1, 1, 1, {}, infer_softmax});
  registry.push_back(OpSchema{"LogSoftmax", 1, 1, 1, 1, {}, infer_softmax});
  registry.push_back(OpSchema{"LayerNormalization", 2, 3, 1, 3, {}, infer_layer_norm});
}

}  // namespace lw::ir
