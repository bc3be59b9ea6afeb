// bound_update_memory: a copy-on-write update waits while an execution still pins a replaced
// version, then refreshes into that version's released memory.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "runtime/variable_store.h"

namespace lw::rt {
namespace {

Status write_all(VariableStore& store, float value) {
  auto update = store.begin_update();
  auto buf = update->stage(0);
  if (!buf.is_ok()) return buf.status();
  float v[4] = {value, value, value, value};
  std::memcpy((*buf)->data(), v, sizeof(v));
  store.commit(std::move(update));
  return Status::ok();
}

float first(const WeightSnapshot& s) { return reinterpret_cast<const float*>(s.buffers[0]->data())[0]; }

TEST(BoundedMemory, UpdateWaitsForPinsOfReplacedVersionsAndReusesTheirMemory) {
  StoreOptions options;
  options.bound_update_memory = true;
  VariableStore store({{"w", DType::kFloat32, {4}, 16}}, options);
  ASSERT_TRUE(write_all(store, 1.f).is_ok());
  auto pinned = store.current();  // an "execution" on version 1
  const uint8_t* v1_memory = pinned->buffers[0]->data();
  ASSERT_TRUE(write_all(store, 2.f).is_ok());  // version 1 was current: no wait
  // Version 1 is now replaced but pinned: the next update must wait for it.
  std::atomic<bool> done{false};
  std::thread updater([&] {
    EXPECT_TRUE(write_all(store, 3.f).is_ok());
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(done.load());
  EXPECT_EQ(store.version(), 2u);
  EXPECT_EQ(first(*pinned), 1.f);  // the pinned execution still reads version 1
  pinned.reset();                  // the execution ends
  updater.join();
  EXPECT_TRUE(done.load());
  auto now = store.current();
  EXPECT_EQ(now->version, 3u);
  EXPECT_EQ(first(*now), 3.f);
  EXPECT_EQ(now->buffers[0]->data(), v1_memory) << "the update should reuse version 1's released memory";
}

TEST(BoundedMemory, KeptVersionsDoNotBlockUpdates) {
  StoreOptions options;
  options.bound_update_memory = true;
  options.keep_versions = 2;
  VariableStore store({{"w", DType::kFloat32, {4}, 16}}, options);
  for (float v = 1; v <= 5; ++v) ASSERT_TRUE(write_all(store, v).is_ok());
  EXPECT_EQ(store.kept_versions(), (std::vector<uint64_t>{4, 3}));
  auto r = store.rollback(3);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(first(*store.current()), 3.f);
  ASSERT_TRUE(write_all(store, 7.f).is_ok());
  EXPECT_EQ(first(*store.current()), 7.f);
}

}  // namespace
}  // namespace lw::rt
