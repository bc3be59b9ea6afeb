// Activation memory planning: places tensors with known lifetimes into one arena so that
// tensors whose lifetimes overlap never share bytes.
#pragma once

#include <cstdint>
#include <vector>

namespace lw::rt {

struct Lifetime {
  uint64_t bytes = 0;
  int32_t first = 0;  // step that writes it
  int32_t last = 0;   // last step that reads it (>= first)
};

struct ArenaPlan {
  std::vector<uint64_t> offsets;  // one per Lifetime, 64-byte aligned
  uint64_t arena_bytes = 0;
};

// Greedy by size (largest first), each tensor at the lowest offset that does not collide with
// an already placed tensor whose lifetime overlaps. Deterministic.
ArenaPlan plan_arena(const std::vector<Lifetime>& tensors);

}  // namespace lw::rt
