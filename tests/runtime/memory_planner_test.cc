#include <gtest/gtest.h>

#include <random>

#include "runtime/memory_planner.h"

namespace lw::rt {
namespace {

TEST(MemoryPlanner, OverlappingLifetimesNeverShareBytes) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<Lifetime> t(1 + rng() % 40);
    for (auto& l : t) {
      l.bytes = rng() % 5000;
      l.first = static_cast<int32_t>(rng() % 30);
      l.last = l.first + static_cast<int32_t>(rng() % 10);
    }
    ArenaPlan plan = plan_arena(t);
    uint64_t total = 0;
    for (size_t i = 0; i < t.size(); ++i) {
      EXPECT_EQ(plan.offsets[i] % 64, 0u);
      EXPECT_LE(plan.offsets[i] + t[i].bytes, plan.arena_bytes);
      total += (t[i].bytes + 63) / 64 * 64;
      for (size_t j = 0; j < i; ++j) {
        bool live_together = t[i].first <= t[j].last && t[j].first <= t[i].last;
        bool bytes_overlap = plan.offsets[i] < plan.offsets[j] + std::max<uint64_t>(t[j].bytes, 1) &&
                             plan.offsets[j] < plan.offsets[i] + std::max<uint64_t>(t[i].bytes, 1);
        EXPECT_FALSE(live_together && bytes_overlap) << "trial " << trial << " tensors " << i << "," << j;
      }
    }
    EXPECT_LE(plan.arena_bytes, total + 64 * t.size());
  }
}

TEST(MemoryPlanner, ReusesMemoryOfDeadTensors) {
  // A chain a -> b -> c: a is dead when c is written, so c can take a's place.
  std::vector<Lifetime> t = {{1024, 0, 1}, {1024, 1, 2}, {1024, 2, 3}};
  ArenaPlan plan = plan_arena(t);
  EXPECT_EQ(plan.arena_bytes, 2048u);
}

}  // namespace
}  // namespace lw::rt
