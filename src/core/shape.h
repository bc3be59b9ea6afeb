// Shapes: a rank and dims, where a dim may be dynamic (kDynamicDim) and the rank may be
// unknown. Element counts are overflow-checked because dims come from files and callers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "liveweight/dtype.h"
#include "liveweight/status.h"

namespace lw {

using Dims = std::vector<int64_t>;

inline constexpr int64_t kDynamicDim = -1;
// Largest number of bytes any single tensor may claim (2^40); larger claims are refused
// before anything is allocated.
inline constexpr uint64_t kMaxTensorBytes = uint64_t{1} << 40;
inline constexpr size_t kMaxRank = 128;

class Shape {
 public:
  Shape() = default;  // rank 0 scalar
  explicit Shape(Dims dims) : dims_(std::move(dims)), rank_known_(true) {}
  static Shape unknown_rank() {
    Shape s;
    s.rank_known_ = false;
    return s;
  }

  bool rank_known() const { return rank_known_; }
  size_t rank() const { return dims_.size(); }
  const Dims& dims() const { return dims_; }
  int64_t dim(size_t i) const { return dims_[i]; }
  // Every dim known (and rank known).
  bool is_static() const;
  // Any dim 0.
  bool is_empty() const;

  bool operator==(const Shape& o) const { return rank_known_ == o.rank_known_ && dims_ == o.dims_; }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string to_string() const;

 private:
  Dims dims_;
  bool rank_known_ = true;
};

// Product of dims; fails on a negative dim or on overflow past kMaxTensorBytes elements.
Result<uint64_t> element_count(const Dims& dims);
// element_count * dtype_size, failing past kMaxTensorBytes.
Result<uint64_t> byte_size(DType dtype, const Dims& dims);
std::string dims_to_string(const Dims& dims);

}  // namespace lw
