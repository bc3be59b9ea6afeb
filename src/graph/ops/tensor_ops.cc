// Schemas of the ops that index, repeat or generate tensors: Slice, Split, Expand, Tile, Pad,
// ConstantOfShape, Range and Resize. Inputs that decide output sizes are shape inputs: they
// must be constant when a graph is prepared (the build folds shape arithmetic into them).
#include <algorithm>
#include <cmath>

#include "graph/ops/op_helpers.h"
#include "graph/ops/ops.h"
#include "graph/ops/tensor_geometry.h"

namespace lw::ir {

namespace {

Status check_fixed_size(const InferContext& ctx, size_t i) {
  if (ctx.has_input(i) && dtype_size(ctx.inputs[i].dtype) == 0)
    return ctx.error("input ", i, " has unsupported type ", dtype_name(ctx.inputs[i].dtype));
  return Status::ok();
}

// Input `i` as ints when constant; an absent optional input gives an empty list.
Result<std::optional<Dims>> optional_ints(const InferContext& ctx, size_t i) {
  if (!ctx.has_input(i)) return std::optional<Dims>(Dims{});
  return const_ints(ctx, i);
}

Shape dynamic_of_rank(const Shape& s) {
  return s.rank_known() ? Shape(Dims(s.rank(), kDynamicDim)) : Shape::unknown_rank();
}

Status infer_slice(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  for (size_t i = 1; i < 5; ++i) LW_RETURN_IF_ERROR(check_dtype(ctx, i, {DType::kInt64, DType::kInt32}, "starts/ends/axes/steps"));
  const Shape& x = ctx.inputs[0].shape;
  DType t = ctx.inputs[0].dtype;
  LW_ASSIGN_OR_RETURN(auto starts, const_ints(ctx, 1));
  LW_ASSIGN_OR_RETURN(auto ends, const_ints(ctx, 2));
  LW_ASSIGN_OR_RETURN(auto axes, optional_ints(ctx, 3));
  LW_ASSIGN_OR_RETURN(auto steps, optional_ints(ctx, 4));
  if (!x.rank_known() || !starts || !ends || !axes || !steps) {
    ctx.outputs[0] = TensorType{t, dynamic_of_rank(x)};
    return Status::ok();
  }
  // Dynamic dims are sliced as if huge (to check the arguments), then reported dynamic.
  Dims in = x.dims();
  Dims probe = in;
  for (auto& d : probe)
    if (d < 0) d = int64_t{1} << 40;
  LW_ASSIGN_OR_RETURN(auto geo, slice_geometry(ctx.node, probe, *starts, *ends, *axes, *steps));
  Dims out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = in[i] < 0 ? kDynamicDim : geo[i].out;
  ctx.outputs[0] = TensorType{t, Shape(out)};
  return Status::ok();
}

Status infer_split(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"axis", AttrKind::kInt}, {"split", AttrKind::kInts}}));
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 1, {DType::kInt64}, "split"));
  const Shape& x = ctx.inputs[0].shape;
  DType t = ctx.inputs[0].dtype;
  const size_t n = ctx.outputs.size();
  if (!x.rank_known()) {
    for (auto& o : ctx.outputs) o = TensorType{t, Shape::unknown_rank()};
    return Status::ok();
  }
  LW_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.node.attr_int("axis", 0), static_cast<int64_t>(x.rank()), "axis"));
  std::optional<Dims> split;
  if (ctx.has_input(1)) {
    LW_ASSIGN_OR_RETURN(split, const_ints(ctx, 1));
  } else if (ctx.node.has_attr("split")) {
    split = ctx.node.attr_ints("split");
  }
  int64_t dim = x.dim(static_cast<size_t>(axis));
  Dims sizes(n, kDynamicDim);
  if (split) {
    if (split->size() != n) return ctx.error("split has ", split->size(), " values but the node has ", n, " outputs");
    int64_t total = 0;
    for (int64_t s : *split) {
      if (s < 0 || s > (int64_t{1} << 40)) return ctx.error("split ", *split, " has an invalid size");
      total += s;
    }
    if (dim >= 0 && total != dim) return ctx.error("split ", *split, " sums to ", total, " but axis ", axis, " has ", dim);
    sizes = *split;
  } else if (dim >= 0) {
    if (dim % static_cast<int64_t>(n) != 0)
      return ctx.error("axis ", axis, " of size ", dim, " does not split evenly into ", n, " outputs");
    sizes.assign(n, dim / static_cast<int64_t>(n));
  }
  for (size_t k = 0; k < n; ++k) {
    Dims d = x.dims();
    d[static_cast<size_t>(axis)] = sizes[k];
    ctx.outputs[k] = TensorType{t, Shape(d)};
  }
  return Status::ok();
}

// Bidirectional broadcast of X's shape with the requested shape (Expand).
Status infer_expand(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 1, {DType::kInt64}, "shape"));
  DType t = ctx.inputs[0].dtype;
  LW_ASSIGN_OR_RETURN(auto shape, const_ints(ctx, 1));
  if (!shape) {
    const Shape& ss = ctx.inputs[1].shape;
    ctx.outputs[0] = TensorType{t, ss.is_static() && ss.rank() == 1 ? Shape(Dims(static_cast<size_t>(std::max<int64_t>(
                                                                                ss.dim(0), 0)), kDynamicDim))
                                                                    : Shape::unknown_rank()};
    if (ctx.outputs[0].shape.rank_known() && ctx.inputs[0].shape.rank_known() &&
        ctx.inputs[0].shape.rank() > ctx.outputs[0].shape.rank())
      ctx.outputs[0].shape = Shape(Dims(ctx.inputs[0].shape.rank(), kDynamicDim));
    return Status::ok();
  }
  for (int64_t d : *shape)
    if (d < 0) return ctx.error("shape ", *shape, " has a negative dim");
  LW_ASSIGN_OR_RETURN(Shape s, broadcast_shapes(ctx, {ctx.inputs[0].shape, Shape(*shape)}));
  ctx.outputs[0] = TensorType{t, s};
  return Status::ok();
}

Status infer_tile(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 1, {DType::kInt64}, "repeats"));
  const Shape& x = ctx.inputs[0].shape;
  DType t = ctx.inputs[0].dtype;
  LW_ASSIGN_OR_RETURN(auto reps, const_ints(ctx, 1));
  if (!reps || !x.rank_known()) {
    ctx.outputs[0] = TensorType{t, dynamic_of_rank(x)};
    return Status::ok();
  }
  if (reps->size() != x.rank()) return ctx.error("repeats has ", reps->size(), " values, expected ", x.rank());
  Dims out(x.rank());
  for (size_t i = 0; i < x.rank(); ++i) {
    int64_t r = (*reps)[i];
    if (r < 0 || r > (int64_t{1} << 31)) return ctx.error("repeats ", *reps, " has an invalid value");
    int64_t d = x.dim(i);
    out[i] = d < 0 ? kDynamicDim : d * r;
  }
  ctx.outputs[0] = TensorType{t, Shape(out)};
  return Status::ok();
}

Status infer_pad(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"mode", AttrKind::kString}}));
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 1, {DType::kInt64}, "pads"));
  std::string mode = ctx.node.attr_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    return ctx.error("attribute 'mode' has unknown value '", mode, "'");
  if (ctx.has_input(2)) {
    LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, 2));
    const Shape& cs = ctx.inputs[2].shape;
    if (cs.is_static() && dims_product(cs.dims(), 0, cs.rank()) != 1)
      return ctx.error("input 'constant_value' must hold one value, got ", cs.to_string());
  }
  const Shape& x = ctx.inputs[0].shape;
  DType t = ctx.inputs[0].dtype;
  LW_ASSIGN_OR_RETURN(auto pads, const_ints(ctx, 1));
  if (!pads || !x.rank_known()) {
    ctx.outputs[0] = TensorType{t, dynamic_of_rank(x)};
    return Status::ok();
  }
  LW_ASSIGN_OR_RETURN(Dims out, pad_output_dims(ctx.node, x.dims(), *pads));
  if (mode != "constant")
    for (size_t i = 0; i < x.rank(); ++i)
      if (x.dim(i) == 0 && out[i] > 0) return ctx.error("mode '", mode, "' cannot pad the empty dim ", i);
  ctx.outputs[0] = TensorType{t, Shape(out)};
  return Status::ok();
}

Status infer_constant_of_shape(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"value", AttrKind::kTensor}}));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 0, {DType::kInt64}, "input"));
  DType t = DType::kFloat32;
  if (const TensorData* v = ctx.node.attr_tensor("value")) {
    if (v->numel() != 1) return ctx.error("attribute 'value' must hold one element");
    t = v->dtype;
  }
  const Shape& ss = ctx.inputs[0].shape;
  if (ss.rank_known() && ss.rank() != 1) return ctx.error("input must be 1-D, got ", ss.to_string());
  LW_ASSIGN_OR_RETURN(auto dims, const_ints(ctx, 0));
  if (!dims) {
    ctx.outputs[0] = TensorType{t, ss.is_static() ? Shape(Dims(static_cast<size_t>(ss.dim(0)), kDynamicDim))
                                                  : Shape::unknown_rank()};
    return Status::ok();
  }
  for (int64_t d : *dims)
    if (d < 0) return ctx.error("shape ", *dims, " has a negative dim");
  ctx.outputs[0] = TensorType{t, Shape(*dims)};
  return Status::ok();
}

Status infer_range(InferContext& ctx) {
  const std::initializer_list<DType> types = {DType::kFloat32, DType::kFloat64, DType::kInt16, DType::kInt32,
                                              DType::kInt64};
  for (size_t i = 0; i < 3; ++i) {
    LW_RETURN_IF_ERROR(check_dtype(ctx, i, types, "start/limit/delta"));
    LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, i));
    const Shape& s = ctx.inputs[i].shape;
    if (s.is_static() && dims_product(s.dims(), 0, s.rank()) != 1)
      return ctx.error("input ", i, " must be a scalar, got ", s.to_string());
  }
  DType t = ctx.inputs[0].dtype;
  if (!ctx.const_inputs[0] || !ctx.const_inputs[1] || !ctx.const_inputs[2]) {
    ctx.outputs[0] = TensorType{t, Shape(Dims{kDynamicDim})};
    return Status::ok();
  }
  LW_ASSIGN_OR_RETURN(auto start, tensor_to_doubles(*ctx.const_inputs[0]));
  LW_ASSIGN_OR_RETURN(auto limit, tensor_to_doubles(*ctx.const_inputs[1]));
  LW_ASSIGN_OR_RETURN(auto delta, tensor_to_doubles(*ctx.const_inputs[2]));
  if (start.size() != 1 || limit.size() != 1 || delta.size() != 1) return ctx.error("inputs must be scalars");
  if (delta[0] == 0.0 || !std::isfinite(delta[0]) || !std::isfinite(start[0]) || !std::isfinite(limit[0]))
    return ctx.error("delta must be non-zero and all inputs finite");
  double n = std::ceil((limit[0] - start[0]) / delta[0]);
  if (n > static_cast<double>(int64_t{1} << 40)) return ctx.error("the range holds too many elements (", n, ")");
  ctx.outputs[0] = TensorType{t, Shape(Dims{std::max<int64_t>(0, static_cast<int64_t>(n))})};
  return Status::ok();
}

Status infer_resize(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"mode", AttrKind::kString},
                                            {"coordinate_transformation_mode", AttrKind::kString},
                                            {"nearest_mode", AttrKind::kString},
                                            {"cubic_coeff_a", AttrKind::kFloat},
                                            {"exclude_outside", AttrKind::kInt},
                                            {"extrapolation_value", AttrKind::kFloat}}));
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 2, {DType::kFloat32}, "scales"));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 3, {DType::kInt64}, "sizes"));
  std::string mode = ctx.node.attr_string("mode", "nearest");
  if (mode != "nearest" && mode != "linear" && mode != "cubic") return ctx.error("attribute 'mode' has unknown value '", mode, "'");
  std::string ctm = ctx.node.attr_string("coordinate_transformation_mode", "half_pixel");
  for (const char* ok : {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn",
                         "tf_crop_and_resize"})
    if (ctm == ok) ctm.clear();
  if (!ctm.empty()) return ctx.error("attribute 'coordinate_transformation_mode' has unknown value '", ctm, "'");
  std::string nm = ctx.node.attr_string("nearest_mode", "round_prefer_floor");
  if (nm != "round_prefer_floor" && nm != "round_prefer_ceil" && nm != "floor" && nm != "ceil")
    return ctx.error("attribute 'nearest_mode' has unknown value '", nm, "'");
  const Shape& x = ctx.inputs[0].shape;
  DType t = ctx.inputs[0].dtype;
  std::vector<float> scales;
  Dims sizes;
  bool known = true;
  if (ctx.has_input(3) && ctx.inputs[3].shape.rank_known() &&
      !(ctx.inputs[3].shape.is_static() && dims_product(ctx.inputs[3].shape.dims(), 0, ctx.inputs[3].shape.rank()) == 0)) {
    LW_ASSIGN_OR_RETURN(auto s, const_ints(ctx, 3));
    if (s) sizes = *s;
    else known = false;
  }
  if (ctx.has_input(2)) {
    if (const TensorData* sc = ctx.const_inputs[2]) {
      for (uint64_t i = 0; i < sc->numel(); ++i) scales.push_back(sc->as<float>()[i]);
    } else if (!(ctx.inputs[2].shape.is_static() && dims_product(ctx.inputs[2].shape.dims(), 0, ctx.inputs[2].shape.rank()) == 0)) {
      known = false;
    }
  }
  if (!known || !x.rank_known()) {
    ctx.outputs[0] = TensorType{t, dynamic_of_rank(x)};
    return Status::ok();
  }
  LW_ASSIGN_OR_RETURN(Dims out, resize_output_dims(ctx.node, x.dims(), scales, sizes));
  ctx.outputs[0] = TensorType{t, Shape(out)};
  return Status::ok();
}

Status infer_size(InferContext& ctx) {
  ctx.outputs[0] = TensorType{DType::kInt64, Shape(Dims{})};
  return Status::ok();
}

// Trilu: the upper or lower triangle of the last two dims; k (optional scalar) shifts the diagonal.
Status infer_trilu(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"upper", AttrKind::kInt}}));
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 1, {DType::kInt64}, "k"));
  const Shape& x = ctx.inputs[0].shape;
  if (x.rank_known() && x.rank() < 2) return ctx.error("input must have rank >= 2, got ", x.to_string());
  ctx.outputs[0] = ctx.inputs[0];
  return Status::ok();
}

}  // namespace

void register_tensor_ops(std::vector<OpSchema>& registry) {
  registry.push_back(OpSchema{"Slice", 3, 5, 1, 1, {1, 2, 3, 4}, infer_slice});
  registry.push_back(OpSchema{"Split", 1, 2, 1, 64, {1}, infer_split});
  registry.push_back(OpSchema{"Expand", 2, 2, 1, 1, {1}, infer_expand});
  registry.push_back(OpSchema{"Tile", 2, 2, 1, 1, {1}, infer_tile});
  registry.push_back(OpSchema{"Pad", 2, 3, 1, 1, {1}, infer_pad});
  registry.push_back(OpSchema{"ConstantOfShape", 1, 1, 1, 1, {0}, infer_constant_of_shape});
  registry.push_back(OpSchema{"Range", 3, 3, 1, 1, {0, 1, 2}, infer_range});
  registry.push_back(OpSchema{"Resize", 1, 4, 1, 1, {1, 2, 3}, infer_resize});
  registry.push_back(OpSchema{"Size", 1, 1, 1, 1, {}, infer_size});
  registry.push_back(OpSchema{"Trilu", 1, 2, 1, 1, {}, infer_trilu});
}

}  // namespace lw::ir
