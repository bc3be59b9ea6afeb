#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "runtime/variable_store.h"

namespace lw::rt {
namespace {

VariableStore make_store() {
  return VariableStore({{"a", DType::kFloat32, {2}, 8}, {"b", DType::kFloat32, {3}, 12}});
}

TEST(VariableStore, StartsUnwrittenAtVersionZero) {
  VariableStore store = make_store();
  auto snap = store.current();
  EXPECT_EQ(snap->version, 0u);
  EXPECT_EQ(snap->buffers.size(), 2u);
  EXPECT_EQ(snap->buffers[0], nullptr);
  EXPECT_EQ(store.find("b"), 1);
  EXPECT_EQ(store.find("zz"), -1);
}

TEST(VariableStore, PinnedSnapshotNeverSeesLaterUpdates) {
  VariableStore store = make_store();
  auto update = store.begin_update();
  auto buf = update->stage(0);
  ASSERT_TRUE(buf.is_ok());
  float one[2] = {1, 1};
  std::memcpy((*buf)->data(), one, 8);
  store.commit(std::move(update));

  auto pinned = store.current();
  EXPECT_EQ(pinned->version, 1u);
  const WeightBuffer* old_a = pinned->buffers[0].get();

  update = store.begin_update();
  buf = update->stage(0);
  float two[2] = {2, 2};
  std::memcpy((*buf)->data(), two, 8);
  store.commit(std::move(update));

  // The pinned snapshot still holds version 1's bytes; the new one has version 2's.
  EXPECT_EQ(pinned->buffers[0].get(), old_a);
  EXPECT_EQ(reinterpret_cast<const float*>(pinned->buffers[0]->data())[0], 1.0f);
  auto now = store.current();
  EXPECT_EQ(now->version, 2u);
  EXPECT_EQ(reinterpret_cast<const float*>(now->buffers[0]->data())[0], 2.0f);
  EXPECT_EQ(now->buffers[1], nullptr);  // untouched variables stay as they were
}

TEST(VariableStore, DiscardedUpdateChangesNothing) {
  VariableStore store = make_store();
  {
    auto update = store.begin_update();
    ASSERT_TRUE(update->stage(1).is_ok());
    // destroyed without commit
  }
  EXPECT_EQ(store.current()->version, 0u);
  EXPECT_EQ(store.current()->buffers[1], nullptr);
  auto empty = store.begin_update();
  store.commit(std::move(empty));  // nothing staged: no new version
  EXPECT_EQ(store.current()->version, 0u);
}

TEST(VariableStore, StageRejectsBadSlot) {
  VariableStore store = make_store();
  auto update = store.begin_update();
  EXPECT_FALSE(update->stage(2).is_ok());
  EXPECT_FALSE(update->stage(-1).is_ok());
}

TEST(ParallelCopy, CopiesLargeAndSmallBuffersExactly) {
  for (StoreMode mode : {StoreMode::kCached, StoreMode::kStreaming})
    for (size_t n : {size_t{0}, size_t{7}, size_t{100}, size_t{1} << 20, (size_t{5} << 20) + 3}) {
      // Offsets 0..3 into the buffers: the streaming copy's unaligned head and tail.
      for (size_t shift : {0, 1, 3}) {
        std::vector<uint8_t> src(n + shift), dst(n + shift + 1, 0);
        for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 31 + 7);
        parallel_copy(dst.data() + shift, src.data() + shift, n, mode);
        if (n > 0) {  // memcmp must not see the null data() of an empty vector
          EXPECT_EQ(std::memcmp(dst.data() + shift, src.data() + shift, n), 0) << n << " bytes, shift " << shift;
        }
        EXPECT_EQ(dst[n + shift], 0) << "wrote past the end";
        for (size_t i = 0; i < shift; ++i) EXPECT_EQ(dst[i], 0) << "wrote before the start";
      }
    }
}

TEST(StoreMode, StreamsFromTheThresholdUp) {
  ASSERT_EQ(setenv("LW_STREAMING_MIN_BYTES", "1000", 1), 0);
  EXPECT_EQ(store_mode_for(999), StoreMode::kCached);
  EXPECT_EQ(store_mode_for(1000), StoreMode::kStreaming);
  ASSERT_EQ(setenv("LW_STREAMING_MIN_BYTES", "0", 1), 0);  // off
  EXPECT_EQ(store_mode_for(uint64_t{1} << 40), StoreMode::kCached);
  ASSERT_EQ(setenv("LW_STREAMING_MIN_BYTES", "12x", 1), 0);  // unparsable: off
  EXPECT_EQ(store_mode_for(uint64_t{1} << 40), StoreMode::kCached);
  ASSERT_EQ(unsetenv("LW_STREAMING_MIN_BYTES"), 0);
  // By default the last-level cache's size: a terabyte streams, a kilobyte does not.
  EXPECT_EQ(store_mode_for(uint64_t{1} << 40), StoreMode::kStreaming);
  EXPECT_EQ(store_mode_for(1024), StoreMode::kCached);
}

TEST(StoreMode, StreamsMegabytesIntoAModelLargerThanTheCache) {
  ASSERT_EQ(setenv("LW_STREAMING_MIN_BYTES", "4000000", 1), 0);  // the cache size assumed
  const uint64_t mib = uint64_t{1} << 20;
  // A model that fits: only writes of the whole cache size stream.
  EXPECT_EQ(store_mode_for(2 * mib, 3999999), StoreMode::kCached);
  EXPECT_EQ(store_mode_for(4000000, 3999999), StoreMode::kStreaming);
  // One that does not: a megabyte and more streams, less stays cached.
  EXPECT_EQ(store_mode_for(mib, 4000000), StoreMode::kStreaming);
  EXPECT_EQ(store_mode_for(mib - 1, 4000000), StoreMode::kCached);
  EXPECT_EQ(store_mode_for(mib, 0), StoreMode::kCached);
  ASSERT_EQ(setenv("LW_STREAMING_MIN_BYTES", "0", 1), 0);  // off stays off
  EXPECT_EQ(store_mode_for(uint64_t{1} << 40, uint64_t{1} << 40), StoreMode::kCached);
  ASSERT_EQ(unsetenv("LW_STREAMING_MIN_BYTES"), 0);
  EXPECT_EQ(store_mode_for(2 * mib, uint64_t{1} << 40), StoreMode::kStreaming);
  EXPECT_EQ(store_mode_for(2 * mib, 1024), StoreMode::kCached);
}

TEST(StoreMode, StreamsReusedWeightsWhenTheRefreshOverflowsTheCache) {
  ASSERT_EQ(setenv("LW_STREAMING_MIN_BYTES", "4000000", 1), 0);  // the cache size assumed
  const uint64_t mib = uint64_t{1} << 20;
  const uint64_t model = 3000000;  // fits: the two-argument rule keeps 2 MiB cached
  ASSERT_EQ(store_mode_for(2 * mib, model), StoreMode::kCached);
  // A weight read 32 times or more per run, when the refresh's buffers overflow the cache.
  EXPECT_EQ(store_mode_for(2 * mib, model, 2 * 2 * mib + model, 49), StoreMode::kStreaming);
  EXPECT_EQ(store_mode_for(2 * mib, model, 2 * 2 * mib + model, 32), StoreMode::kStreaming);
  EXPECT_EQ(store_mode_for(2 * mib, model, 2 * 2 * mib + model, 31), StoreMode::kCached) << "read too few times";
  EXPECT_EQ(store_mode_for(2 * mib, model, 3999999, 49), StoreMode::kCached) << "everything stays cached";
  EXPECT_EQ(store_mode_for(mib - 1, model, 2 * (mib - 1) + 4000000, 49), StoreMode::kCached) << "under a megabyte";
  // What the two-argument rule streams streams whatever the reads.
  EXPECT_EQ(store_mode_for(mib, 4000000, 2 * mib + 4000000, 1), StoreMode::kStreaming);
  ASSERT_EQ(setenv("LW_STREAMING_MIN_BYTES", "0", 1), 0);  // off stays off
  EXPECT_EQ(store_mode_for(2 * mib, model, uint64_t{1} << 40, 1000), StoreMode::kCached);
  ASSERT_EQ(unsetenv("LW_STREAMING_MIN_BYTES"), 0);
}

TEST(VariableStore, KeepsTheMostReadsPerRunNoted) {
  VariableStore store({{"w", DType::kFloat32, {4}, 16}});
  EXPECT_EQ(store.reads_per_run(0), 1u);
  store.note_reads_per_run(0, 49);
  store.note_reads_per_run(0, 8);  // a second graph reading it less often
  EXPECT_EQ(store.reads_per_run(0), 49u);
  EXPECT_EQ(store.reads_per_run(1), 1u) << "unknown slot";
  store.note_reads_per_run(-1, 5);  // ignored
}

}  // namespace
}  // namespace lw::rt
