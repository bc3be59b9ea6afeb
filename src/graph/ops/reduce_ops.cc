// Schemas of the reductions (opset 13-17 forms: ReduceSum's axes are input 1, the other
// reductions' axes an attribute).
#include <algorithm>
#include <set>

#include "graph/ops/op_helpers.h"
#include "graph/ops/ops.h"

namespace lw::ir {

namespace {

Status infer_reduce(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(
      ctx, {{"axes", AttrKind::kInts}, {"keepdims", AttrKind::kInt}, {"noop_with_empty_axes", AttrKind::kInt}}));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes, "data"));
  const Shape& x = ctx.inputs[0].shape;
  DType t = ctx.inputs[0].dtype;
  bool keep = ctx.node.attr_int("keepdims", 1) != 0;
  Dims axes = ctx.node.attr_ints("axes");
  bool noop_empty = ctx.node.attr_int("noop_with_empty_axes", 0) != 0;
  if (ctx.has_input(1)) {
    // ReduceSum-13 form: axes as an int64 shape input.
    LW_RETURN_IF_ERROR(check_dtype(ctx, 1, {DType::kInt64}, "axes"));
    LW_ASSIGN_OR_RETURN(auto from_input, const_ints(ctx, 1));
    if (!from_input) {
      ctx.outputs[0] = TensorType{t, keep && x.rank_known() ? Shape(Dims(x.rank(), kDynamicDim)) : Shape::unknown_rank()};
      return Status::ok();
    }
    axes = *from_input;
  }
  if (axes.empty() && noop_empty) {
    ctx.outputs[0] = ctx.inputs[0];
    return Status::ok();
  }
  if (!x.rank_known()) {
    ctx.outputs[0] = TensorType{t, Shape::unknown_rank()};
    return Status::ok();
  }
  int64_t r = static_cast<int64_t>(x.rank());
  std::set<int64_t> reduced;
  for (int64_t a : axes) {
    LW_ASSIGN_OR_RETURN(int64_t n, normalize_axis(ctx, a, r, "axis"));
    if (!reduced.insert(n).second) return ctx.error("axes ", axes, " repeat axis ", a);
  }
  if (axes.empty())
    for (int64_t k = 0; k < r; ++k) reduced.insert(k);
  Dims out;
  for (int64_t k = 0; k < r; ++k) {
    if (!reduced.count(k)) out.push_back(x.dim(static_cast<size_t>(k)));
    else if (keep) out.push_back(1);
  }
  ctx.outputs[0] = TensorType{t, Shape(out)};
  return Status::ok();
}

// ArgMax/ArgMin: one axis, int64 indices.
Status infer_arg(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(
      ctx, {{"axis", AttrKind::kInt}, {"keepdims", AttrKind::kInt}, {"select_last_index", AttrKind::kInt}}));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, kNumericTypes, "data"));
  const Shape& x = ctx.inputs[0].shape;
  if (!x.rank_known()) {
    ctx.outputs[0] = TensorType{DType::kInt64, Shape::unknown_rank()};
    return Status::ok();
  }
  LW_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.node.attr_int("axis", 0), static_cast<int64_t>(x.rank()), "axis"));
  Dims out = x.dims();
  if (ctx.node.attr_int("keepdims", 1) != 0) out[static_cast<size_t>(axis)] = 1;
  else out.erase(out.begin() + axis);
  ctx.outputs[0] = TensorType{DType::kInt64, Shape(out)};
  return Status::ok();
}

}  // namespace

void register_reduce_ops(std::vector<OpSchema>& registry) {
  // Opsets 13-17: ReduceSum takes axes as input 1, the others as an attribute.
  for (const char* op : {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare", "ReduceL1",
                         "ReduceL2", "ReduceLogSumExp", "ReduceLogSum"})
    registry.push_back(OpSchema{op, 1, 1, 1, 1, {}, infer_reduce});
  registry.push_back(OpSchema{"ReduceSum", 1, 2, 1, 1, {1}, infer_reduce});
  registry.push_back(OpSchema{"ArgMax", 1, 1, 1, 1, {}, infer_arg});
  registry.push_back(OpSchema{"ArgMin", 1, 1, 1, 1, {}, infer_arg});
}

}  // namespace lw::ir
