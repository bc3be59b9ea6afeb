#include "graph/ops/op_helpers.h"

#include <algorithm>

namespace lw::ir {

Status check_attr_kinds(const InferContext& ctx, std::initializer_list<std::pair<const char*, AttrKind>> expected) {
  for (const auto& [name, kind] : expected) {
    auto it = ctx.node.attrs.find(name);
    if (it == ctx.node.attrs.end()) continue;
    AttrKind got = attr_kind(it->second);
    // An int where a float is expected is harmless (attr_float converts it).
    if (got != kind && !(kind == AttrKind::kFloat && got == AttrKind::kInt))
      return ctx.error("attribute '", name, "' must be ", attr_kind_name(kind), ", got ", attr_kind_name(got));
  }
  return Status::ok();
}

Result<int64_t> normalize_axis(const InferContext& ctx, int64_t axis, int64_t rank, const char* what,
                               bool inclusive_end) {
  int64_t hi = inclusive_end ? rank : rank - 1;
  if (axis < -rank || axis > hi)
    return ctx.error(what, " ", axis, " is out of range [", -rank, ", ", hi, "] for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

Result<Shape> broadcast_shapes(const InferContext& ctx, const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (const Shape& s : shapes) {
    if (!s.rank_known()) return Shape::unknown_rank();
    rank = std::max(rank, s.rank());
  }
  Dims out(rank, 1);
  for (size_t k = 0; k < rank; ++k) {
    bool dynamic = false;
    int64_t fixed = 1;  // the non-1 static size seen, if any
    for (const Shape& s : shapes) {
      if (k + s.rank() < rank) continue;  // implicit leading 1
      int64_t d = s.dim(k + s.rank() - rank);
      if (d < 0) {
        dynamic = true;
      } else if (d != 1) {
        if (fixed != 1 && fixed != d) {
          std::string list;
          for (size_t i = 0; i < shapes.size(); ++i)
            list += (i == 0 ? "" : (i + 1 == shapes.size() ? " and " : ", ")) + shapes[i].to_string();
          return ctx.error("shapes ", list, " do not broadcast");
        }
        fixed = d;
      }
    }
    out[k] = fixed != 1 ? fixed : (dynamic ? kDynamicDim : 1);
  }
  return Shape(out);
}

Result<std::optional<std::vector<int64_t>>> const_ints(const InferContext& ctx, size_t i) {
  if (i >= ctx.const_inputs.size() || ctx.const_inputs[i] == nullptr) return std::optional<std::vector<int64_t>>();
  auto r = tensor_to_ints(*ctx.const_inputs[i]);
  if (!r.is_ok()) return ctx.error("input ", i, ": ", r.status().message());
  return std::optional<std::vector<int64_t>>(std::move(r).value());
}

Status check_dtype(const InferContext& ctx, size_t i, std::initializer_list<DType> allowed, const char* input_name) {
  if (!ctx.has_input(i)) return Status::ok();
  DType t = ctx.inputs[i].dtype;
  if (std::find(allowed.begin(), allowed.end(), t) != allowed.end()) return Status::ok();
  return ctx.error("input ", i, " (", input_name, ") has unsupported type ", dtype_name(t));
}

Status check_same_dtype(const InferContext& ctx, size_t i, size_t j) {
  if (!ctx.has_input(i) || !ctx.has_input(j)) return Status::ok();
  if (ctx.inputs[i].dtype == ctx.inputs[j].dtype) return Status::ok();
  return ctx.error("input ", i, " is ", dtype_name(ctx.inputs[i].dtype), " but input ", j, " is ",
                   dtype_name(ctx.inputs[j].dtype));
}

int64_t dims_product(const Dims& dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t k = begin; k < end; ++k) {
    if (dims[k] < 0) return kDynamicDim;
    // A product past int64 (hostile dims from a file) is unknown, not undefined behaviour.
    if (__builtin_mul_overflow(p, dims[k], &p)) return kDynamicDim;
  }
  return p;
}

}  // namespace lw::ir
