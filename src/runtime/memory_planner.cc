#include "runtime/memory_planner.h"

#include <algorithm>
#include <numeric>

#include "core/blob.h"

namespace lw::rt {

ArenaPlan plan_arena(const std::vector<Lifetime>& tensors) {
  ArenaPlan plan;
  plan.offsets.assign(tensors.size(), 0);
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return tensors[a].bytes > tensors[b].bytes; });

  struct Placed {
    uint64_t begin, end;
    int32_t first, last;
  };
  std::vector<Placed> placed;
  for (size_t idx : order) {
    const Lifetime& t = tensors[idx];
    uint64_t size = align64(std::max<uint64_t>(t.bytes, 1));
    // Collect the byte ranges of overlapping lifetimes, sorted by start, and take the first gap.
    std::vector<std::pair<uint64_t, uint64_t>> busy;
    for (const Placed& p : placed)
      if (p.first <= t.last && t.first <= p.last) busy.push_back({p.begin, p.end});
    std::sort(busy.begin(), busy.end());
    uint64_t offset = 0;
    for (const auto& [b, e] : busy) {
      if (offset + size <= b) break;
      offset = std::max(offset, e);
    }
    plan.offsets[idx] = offset;
    placed.push_back({offset, offset + size, t.first, t.last});
    plan.arena_bytes = std::max(plan.arena_bytes, offset + size);
  }
  return plan;
}

}  // namespace lw::rt
