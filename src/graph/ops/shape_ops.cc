// Schemas of the ops that move or reinterpret data: Flatten, Reshape, Transpose, Concat,
// Squeeze, Unsqueeze, Shape and Gather. They accept every fixed-size element type.
#include <algorithm>
#include <set>

#include "graph/ops/op_helpers.h"
#include "graph/ops/ops.h"

namespace lw::ir {

namespace {

Status check_fixed_size(const InferContext& ctx, size_t i) {
  if (ctx.has_input(i) && dtype_size(ctx.inputs[i].dtype) == 0)
    return ctx.error("input ", i, " has unsupported type ", dtype_name(ctx.inputs[i].dtype));
  return Status::ok();
}

Status infer_flatten(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"axis", AttrKind::kInt}}));
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  const Shape& x = ctx.inputs[0].shape;
  DType t = ctx.inputs[0].dtype;
  if (!x.rank_known()) {
    ctx.outputs[0] = TensorType{t, Shape(Dims{kDynamicDim, kDynamicDim})};
    return Status::ok();
  }
  int64_t r = static_cast<int64_t>(x.rank());
  LW_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.node.attr_int("axis", 1), r, "axis", true));
  size_t a = static_cast<size_t>(axis);
  ctx.outputs[0] = TensorType{t, Shape(Dims{dims_product(x.dims(), 0, a), dims_product(x.dims(), a, x.rank())})};
  return Status::ok();
}

Status infer_reshape(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"allowzero", AttrKind::kInt}}));
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 1, {DType::kInt64}, "shape"));
  const Shape& x = ctx.inputs[0].shape;
  DType t = ctx.inputs[0].dtype;
  bool allow_zero = ctx.node.attr_int("allowzero", 0) != 0;
  const Shape& ss = ctx.inputs[1].shape;
  if (ss.rank_known() && ss.rank() != 1) return ctx.error("input 'shape' must be 1-D, got ", ss.to_string());
  LW_ASSIGN_OR_RETURN(auto requested, const_ints(ctx, 1));
  if (!requested) {
    if (ss.rank_known() && ss.dim(0) >= 0)
      ctx.outputs[0] = TensorType{t, Shape(Dims(static_cast<size_t>(ss.dim(0)), kDynamicDim))};
    else
      ctx.outputs[0] = TensorType{t, Shape::unknown_rank()};
    return Status::ok();
  }
  Dims out = *requested;
  int minus_one = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (minus_one >= 0) return ctx.error("shape ", *requested, " has more than one -1");
      minus_one = static_cast<int>(i);
    } else if (out[i] == 0 && !allow_zero) {
      if (!x.rank_known()) {
        out[i] = kDynamicDim;
      } else if (i >= x.rank()) {
        return ctx.error("shape ", *requested, " copies dim ", i, " (0) but the input ", x.to_string(), " has rank ",
                         x.rank());
      } else {
        out[i] = x.dim(i);
      }
    } else if (out[i] < -1) {
      return ctx.error("shape ", *requested, " has invalid dim ", out[i]);
    }
  }
  if (allow_zero && minus_one >= 0 && std::find(out.begin(), out.end(), 0) != out.end())
    return ctx.error("shape ", *requested, " has both 0 and -1 with allowzero=1");
  int64_t in_count = x.rank_known() ? dims_product(x.dims(), 0, x.rank()) : kDynamicDim;
  if (minus_one >= 0) {
    // Dims copied with 0 cancel out, so [N?, 3, 4] -> [0, -1] still gives [N?, 12].
    auto copied = [&](size_t i) { return !allow_zero && i < requested->size() && (*requested)[i] == 0; };
    int64_t known = 1;
    bool dynamic = false;
    for (size_t i = 0; i < out.size(); ++i) {
      if (static_cast<int>(i) == minus_one || copied(i)) continue;
      if (out[i] < 0) dynamic = true;
      else known *= out[i];
    }
    if (x.rank_known()) {
      in_count = 1;
      for (size_t i = 0; i < x.rank() && in_count >= 0; ++i) {
        if (copied(i)) continue;
        in_count = x.dim(i) < 0 ? kDynamicDim : in_count * x.dim(i);
      }
    }
    if (in_count < 0 || dynamic) {
      out[minus_one] = kDynamicDim;
    } else {
      if (known == 0 || in_count % known != 0)
        return ctx.error("cannot reshape ", x.to_string(), " into ", *requested);
      out[minus_one] = in_count / known;
    }
  } else if (in_count >= 0) {
    int64_t out_count = dims_product(out, 0, out.size());
    if (out_count >= 0 && out_count != in_count)
      return ctx.error("cannot reshape ", x.to_string(), " (", in_count, " elements) into ", *requested, " (",
                       out_count, " elements)");
  }
  ctx.outputs[0] = TensorType{t, Shape(out)};
  return Status::ok();
}

Status infer_transpose(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"perm", AttrKind::kInts}}));
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  const Shape& x = ctx.inputs[0].shape;
  DType t = ctx.inputs[0].dtype;
  bool has_perm = ctx.node.has_attr("perm");
  Dims perm = ctx.node.attr_ints("perm");
  if (!x.rank_known()) {
    ctx.outputs[0] = TensorType{t, has_perm ? Shape(Dims(perm.size(), kDynamicDim)) : Shape::unknown_rank()};
    return Status::ok();
  }
  size_t r = x.rank();
  if (!has_perm) {
    perm.resize(r);
    for (size_t i = 0; i < r; ++i) perm[i] = static_cast<int64_t>(r - 1 - i);
  }
  if (perm.size() != r) return ctx.error("perm ", perm, " has ", perm.size(), " entries for input of rank ", r);
  std::vector<bool> seen(r, false);
  Dims out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t p = perm[i];
    if (p < 0) p += static_cast<int64_t>(r);
    if (p < 0 || p >= static_cast<int64_t>(r) || seen[static_cast<size_t>(p)])
      return ctx.error("perm ", perm, " is not a permutation of 0..", r - 1);
    seen[static_cast<size_t>(p)] = true;
    out[i] = x.dim(static_cast<size_t>(p));
  }
  ctx.outputs[0] = TensorType{t, Shape(out)};
  return Status::ok();
}

Status infer_concat(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"axis", AttrKind::kInt}}));
  if (!ctx.node.has_attr("axis")) return ctx.error("attribute 'axis' is required");
  DType t = ctx.inputs[0].dtype;
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  int64_t rank = -1;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    if (!ctx.has_input(i)) return ctx.error("input ", i, " is missing");
    LW_RETURN_IF_ERROR(check_same_dtype(ctx, 0, i));
    const Shape& s = ctx.inputs[i].shape;
    if (!s.rank_known()) continue;
    if (rank >= 0 && static_cast<int64_t>(s.rank()) != rank)
      return ctx.error("inputs differ in rank: ", ctx.inputs[0].shape.to_string(), " and ", s.to_string());
    rank = static_cast<int64_t>(s.rank());
  }
  if (rank < 0) {
    ctx.outputs[0] = TensorType{t, Shape::unknown_rank()};
    return Status::ok();
  }
  if (rank == 0) return ctx.error("inputs must have rank >= 1");
  LW_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.node.attr_int("axis", 0), rank, "axis"));
  Dims out(static_cast<size_t>(rank), kDynamicDim);
  int64_t total = 0;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const Shape& s = ctx.inputs[i].shape;
    if (!s.rank_known()) {
      total = kDynamicDim;
      continue;
    }
    for (size_t k = 0; k < s.rank(); ++k) {
      if (static_cast<int64_t>(k) == axis) continue;
      int64_t d = s.dim(k);
      if (d >= 0 && out[k] >= 0 && d != out[k])
        return ctx.error("input ", i, " ", s.to_string(), " differs from the others in dim ", k, " (", out[k], ")");
      if (d >= 0) out[k] = d;
    }
    int64_t d = s.dim(static_cast<size_t>(axis));
    // A sum past int64 (hostile dims from a file) is unknown, not undefined behaviour.
    if (total < 0 || d < 0 || __builtin_add_overflow(total, d, &total)) total = kDynamicDim;
  }
  out[static_cast<size_t>(axis)] = total;
  ctx.outputs[0] = TensorType{t, Shape(out)};
  return Status::ok();
}

// Normalized, sorted, duplicate-free axes.
Result<Dims> normalize_axes(const InferContext& ctx, const Dims& axes, int64_t rank) {
  std::set<int64_t> seen;
  for (int64_t a : axes) {
    LW_ASSIGN_OR_RETURN(int64_t n, normalize_axis(ctx, a, rank, "axis"));
    if (!seen.insert(n).second) return ctx.error("axes ", axes, " repeat axis ", a);
  }
  return Dims(seen.begin(), seen.end());
}

Status infer_squeeze(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 1, {DType::kInt64}, "axes"));
  const Shape& x = ctx.inputs[0].shape;
  DType t = ctx.inputs[0].dtype;
  std::optional<Dims> axes;
  if (ctx.has_input(1)) {
    LW_ASSIGN_OR_RETURN(axes, const_ints(ctx, 1));
    if (axes && axes->empty()) axes.reset();  // an empty list squeezes every unit dim, as no list does
    else if (!axes) {
      ctx.outputs[0] = TensorType{t, Shape::unknown_rank()};
      return Status::ok();
    }
  }
  if (!x.rank_known()) {
    ctx.outputs[0] = TensorType{t, Shape::unknown_rank()};
    return Status::ok();
  }
  Dims out;
  if (!axes) {
    for (int64_t d : x.dims()) {
      if (d < 0) {  // cannot tell whether it is 1
        ctx.outputs[0] = TensorType{t, Shape::unknown_rank()};
        return Status::ok();
      }
      if (d != 1) out.push_back(d);
    }
  } else {
    LW_ASSIGN_OR_RETURN(Dims norm, normalize_axes(ctx, *axes, static_cast<int64_t>(x.rank())));
    for (size_t k = 0; k < x.rank(); ++k) {
      bool squeezed = std::binary_search(norm.begin(), norm.end(), static_cast<int64_t>(k));
      if (squeezed && x.dim(k) >= 0 && x.dim(k) != 1)
        return ctx.error("cannot squeeze axis ", k, " of ", x.to_string(), ": its size is not 1");
      if (!squeezed) out.push_back(x.dim(k));
    }
  }
  ctx.outputs[0] = TensorType{t, Shape(out)};
  return Status::ok();
}

Status infer_unsqueeze(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 1, {DType::kInt64}, "axes"));
  const Shape& x = ctx.inputs[0].shape;
  DType t = ctx.inputs[0].dtype;
  LW_ASSIGN_OR_RETURN(auto axes, const_ints(ctx, 1));
  if (!axes || !x.rank_known()) {
    const Shape& as = ctx.inputs[1].shape;
    if (x.rank_known() && as.rank_known() && as.rank() == 1 && as.dim(0) >= 0)
      ctx.outputs[0] = TensorType{t, Shape(Dims(x.rank() + static_cast<size_t>(as.dim(0)), kDynamicDim))};
    else
      ctx.outputs[0] = TensorType{t, Shape::unknown_rank()};
    return Status::ok();
  }
  int64_t out_rank = static_cast<int64_t>(x.rank() + axes->size());
  LW_ASSIGN_OR_RETURN(Dims norm, normalize_axes(ctx, *axes, out_rank));
  Dims out;
  size_t src = 0;
  for (int64_t k = 0; k < out_rank; ++k) {
    if (std::binary_search(norm.begin(), norm.end(), k)) out.push_back(1);
    else out.push_back(x.dim(src++));
  }
  ctx.outputs[0] = TensorType{t, Shape(out)};
  return Status::ok();
}

Status infer_shape(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"start", AttrKind::kInt}, {"end", AttrKind::kInt}}));
  const Shape& x = ctx.inputs[0].shape;
  if (!x.rank_known()) {
    ctx.outputs[0] = TensorType{DType::kInt64, Shape(Dims{kDynamicDim})};
    return Status::ok();
  }
  int64_t r = static_cast<int64_t>(x.rank());
  int64_t start = ctx.node.attr_int("start", 0), end = ctx.node.attr_int("end", r);
  // Shape-15 clamps start and end instead of rejecting them.
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  ctx.outputs[0] = TensorType{DType::kInt64, Shape(Dims{std::max<int64_t>(0, end - start)})};
  return Status::ok();
}

Status infer_gather(InferContext& ctx) {
  LW_RETURN_IF_ERROR(check_attr_kinds(ctx, {{"axis", AttrKind::kInt}}));
  LW_RETURN_IF_ERROR(check_fixed_size(ctx, 0));
  LW_RETURN_IF_ERROR(check_dtype(ctx, 1, {DType::kInt64, DType::kInt32}, "indices"));
  const Shape& x = ctx.inputs[0].shape;
  const Shape& idx = ctx.inputs[1].shape;
  DType t = ctx.inputs[0].dtype;
  if (!x.rank_known() || !idx.rank_known()) {
    ctx.outputs[0] = TensorType{t, Shape::unknown_rank()};
    return Status::ok();
  }
  if (x.rank() == 0) return ctx.error("input 'data' must have rank >= 1");
  LW_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(ctx, ctx.node.attr_int("axis", 0), static_cast<int64_t>(x.rank()), "axis"));
  size_t a = static_cast<size_t>(axis);
  LW_ASSIGN_OR_RETURN(auto values, const_ints(ctx, 1));
  if (values && x.dim(a) >= 0) {
    for (int64_t v : *values)
      if (v < -x.dim(a) || v >= x.dim(a))
        return ctx.error("index ", v, " is out of range for axis ", axis, " of size ", x.dim(a));
  }
  Dims out(x.dims().begin(), x.dims().begin() + axis);
  out.insert(out.end(), idx.dims().begin(), idx.dims().end());
  out.insert(out.end(), x.dims().begin() + axis + 1, x.dims().end());
  ctx.outputs[0] = TensorType{t, Shape(out)};
  return Status::ok();
}

}  // namespace

void register_shape_ops(std::vector<OpSchema>& registry) {
  registry.push_back(OpSchema{"Flatten", 1, 1, 1, 1, {}, infer_flatten});
  registry.push_back(OpSchema{"Reshape", 2, 2, 1, 1, {1}, infer_reshape});
  registry.push_back(OpSchema{"Transpose", 1, 1, 1, 1, {}, infer_transpose});
  registry.push_back(OpSchema{"Concat", 1, 1 << 20, 1, 1, {}, infer_concat});
  registry.push_back(OpSchema{"Squeeze", 1, 2, 1, 1, {1}, infer_squeeze});
  registry.push_back(OpSchema{"Unsqueeze", 2, 2, 1, 1, {1}, infer_unsqueeze});
  registry.push_back(OpSchema{"Shape", 1, 1, 1, 1, {}, infer_shape});
  registry.push_back(OpSchema{"Gather", 2, 2, 1, 1, {}, infer_gather});
}

}  // namespace lw::ir
