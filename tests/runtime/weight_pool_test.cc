// Released weight memory is reused by later updates, but never while a pinned snapshot still
// holds it.
#include <gtest/gtest.h>

#include <cstring>

#include "runtime/variable_store.h"

namespace lw::rt {
namespace {

void write(VariableStore& store, float value) {
  auto update = store.begin_update();
  auto buf = update->stage(0);
  ASSERT_TRUE(buf.is_ok());
  float v[4] = {value, value, value, value};
  std::memcpy((*buf)->data(), v, sizeof(v));
  store.commit(std::move(update));
}

float first(const WeightSnapshot& s) {
  float v;
  std::memcpy(&v, s.buffers[0]->data(), sizeof(v));
  return v;
}

TEST(WeightPool, ReusesReleasedBuffersOnlyWhenUnpinned) {
  VariableStore store({{"w", DType::kFloat32, {4}, 16}});
  write(store, 1.0f);
  auto pinned = store.current();
  const uint8_t* v1 = pinned->buffers[0]->data();
  write(store, 2.0f);
  EXPECT_EQ(store.pooled_bytes(), 0u) << "version 1 is pinned: its buffer must not be pooled";
  const uint8_t* v2 = store.current()->buffers[0]->data();
  write(store, 3.0f);  // may not take v1's memory; v2's goes to the pool
  EXPECT_EQ(first(*pinned), 1.0f);
  EXPECT_NE(store.current()->buffers[0]->data(), v1);
  EXPECT_EQ(store.pooled_bytes(), 16u);
  pinned.reset();
  EXPECT_EQ(store.pooled_bytes(), 16u) << "the pool keeps at most one spare copy of the weights";
  write(store, 4.0f);
  EXPECT_EQ(store.current()->buffers[0]->data(), v2) << "the released buffer should be reused";
  EXPECT_EQ(first(*store.current()), 4.0f);
}

TEST(WeightPool, DiscardedUpdateReturnsItsBuffers) {
  VariableStore store({{"w", DType::kFloat32, {4}, 16}});
  write(store, 1.0f);
  {
    auto update = store.begin_update();
    ASSERT_TRUE(update->stage(0).is_ok());
  }  // rejected: nothing published
  EXPECT_EQ(first(*store.current()), 1.0f);
  EXPECT_EQ(store.current()->version, 1u);
  EXPECT_EQ(store.pooled_bytes(), 16u);
}

TEST(WeightPool, BuffersMayOutliveTheStore) {
  std::shared_ptr<const WeightSnapshot> pinned;
  {
    VariableStore store({{"w", DType::kFloat32, {4}, 16}});
    write(store, 5.0f);
    pinned = store.current();
  }
  EXPECT_EQ(first(*pinned), 5.0f);
}

}  // namespace
}  // namespace lw::rt
