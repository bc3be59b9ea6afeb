// Helpers shared by the op schemas (src/graph/ops/*.cc): attribute checks, axis
// normalization, numpy broadcasting over possibly dynamic dims, and reading constant
// shape inputs. Stateless free functions; thread-safe.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "graph/op_registry.h"

namespace lw::ir {

// Fails when an attribute in `expected` is present with another kind.
Status check_attr_kinds(const InferContext& ctx, std::initializer_list<std::pair<const char*, AttrKind>> expected);

// Maps `axis` in [-rank, rank) (or [-rank, rank] when `inclusive_end`) to [0, rank);
// error names the attribute and the range.
Result<int64_t> normalize_axis(const InferContext& ctx, int64_t axis, int64_t rank, const char* what,
                               bool inclusive_end = false);

// Numpy broadcasting of several shapes. Unknown rank gives unknown rank; a dynamic dim
// against 1 stays dynamic, against n > 1 becomes n. Static mismatches are an error
// ("shapes [2,3] and [4] do not broadcast").
Result<Shape> broadcast_shapes(const InferContext& ctx, const std::vector<Shape>& shapes);

// Data of constant input `i` as integers; nullopt when the input is not constant.
Result<std::optional<std::vector<int64_t>>> const_ints(const InferContext& ctx, size_t i);

// Fails when input `i` is present and its dtype is known and not in `allowed`.
Status check_dtype(const InferContext& ctx, size_t i, std::initializer_list<DType> allowed, const char* input_name);
// Fails when inputs `i` and `j` (both present, dtypes known) differ.
Status check_same_dtype(const InferContext& ctx, size_t i, size_t j);

// The element types the CPU math kernels accept.
inline constexpr std::initializer_list<DType> kFloatTypes = {DType::kFloat32, DType::kFloat16, DType::kFloat64,
                                                               DType::kBFloat16};
inline constexpr std::initializer_list<DType> kNumericTypes = {
    DType::kFloat32, DType::kFloat16, DType::kFloat64, DType::kBFloat16, DType::kInt8,  DType::kInt16,
    DType::kInt32,   DType::kInt64,   DType::kUint8,   DType::kUint16,   DType::kUint32, DType::kUint64};

// Product of dims, kDynamicDim if any is dynamic.
int64_t dims_product(const Dims& dims, size_t begin, size_t end);

}  // namespace lw::ir
