// Strided iteration for broadcasting and permuting kernels. A plan describes a contiguous
// output walked in row-major order and, for each input, the element stride that goes with
// each output dim (0 where the input is broadcast). Plans are built once at kernel creation
// (dims are collapsed so the innermost row is as long as possible) and read by run().
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "backends/cpu/kernels/kernel_util.h"

namespace lw::cpu {

struct StridedPlan {
  Dims dims;                          // collapsed output dims, at least one; the last is the row
  std::vector<Dims> strides;          // per input, one stride per collapsed dim
  int64_t total = 0;                  // output elements
  int64_t row() const { return dims.back(); }
  int64_t inner_stride(size_t input) const { return strides[input].back(); }
};

// Strides of `in_dims` seen from `out_dims` under numpy broadcasting (in_dims right-aligned).
Dims broadcast_strides(const Dims& in_dims, const Dims& out_dims);
// True when `in_dims` broadcasts to exactly `out_dims`.
bool broadcasts_to(const Dims& in_dims, const Dims& out_dims);
// Input strides for each output dim of a transpose: output dim i reads input dim perm[i].
Dims permuted_strides(const Dims& in_dims, const Dims& perm);
// Drops size-1 dims and merges dims that every input walks contiguously.
StridedPlan make_strided_plan(const Dims& out_dims, const std::vector<Dims>& strides);

// Splits the output into chunks of at most kChunk elements along rows and calls
// fn(offsets, out_offset, len) for each, where offsets[i] is input i's element offset at the
// chunk start; the chunk then advances input i by plan.inner_stride(i) per element.
template <size_t N, typename Fn>
void run_strided(const StridedPlan& plan, int max_threads, Fn&& fn) {
  constexpr int64_t kChunk = 16384;
  const int64_t row = plan.row();
  if (plan.total == 0 || row == 0) return;
  const int64_t chunks_per_row = (row + kChunk - 1) / kChunk;
  const int64_t rows = plan.total / row;
  const int64_t items = rows * chunks_per_row;
  const size_t outer = plan.dims.size() - 1;
  int threads = threads_for(plan.total, 32768, max_threads);
  parallel_ranges(items, threads, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      int64_t r = item / chunks_per_row, c = item % chunks_per_row;
      std::array<int64_t, N> off{};
      int64_t rem = r;
      for (size_t d = outer; d-- > 0;) {
        int64_t idx = rem % plan.dims[d];
        rem /= plan.dims[d];
        for (size_t i = 0; i < N; ++i) off[i] += idx * plan.strides[i][d];
      }
      int64_t start = c * kChunk;
      for (size_t i = 0; i < N; ++i) off[i] += start * plan.strides[i][outer];
      fn(off, r * row + start, std::min(kChunk, row - start));
    }
  });
}

}  // namespace lw::cpu
