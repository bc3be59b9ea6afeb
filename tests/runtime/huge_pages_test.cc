// Weight memory on transparent huge pages (WeightMemory::kHostHugePages) and the setting that
// chooses it ("huge_pages" in the aclInit config, LW_HUGE_PAGES).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/blob.h"
#include "runtime/config.h"
#include "runtime/plan.h"
#include "runtime/variable_store.h"
#include "support/float_data.h"
#include "support/graph_builder.h"
#include "support/naive_conv.h"
#include "support/test_support.h"

namespace lw::rt {
namespace {

constexpr uint64_t kHugePage = uint64_t{2} << 20;

// The VmFlags line of the /proc/self/smaps mapping holding `p` ("" when none does).
std::string vm_flags_of(const void* p) {
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx ", &lo, &hi) == 2 && line.find(':') > line.find('-')) {
      inside = addr >= lo && addr < hi;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

// Bytes of this process's mappings advised as huge pages.
uint64_t advised_bytes() {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  uint64_t total = 0, size = 0;
  while (std::getline(smaps, line)) {
    unsigned long long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx ", &lo, &hi) == 2 && line.find(':') > line.find('-')) {
      size = hi - lo;
    } else if (line.rfind("VmFlags:", 0) == 0 && line.find(" hg") != std::string::npos) {
      total += size;
    }
  }
  return total;
}

bool kernel_has_thp() { return std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled").good(); }

TEST(HugePages, LargeWeightsStartOnA2MiBBoundaryAndAreAdvised) {
  Status error;
  const uint64_t bytes = 2 * kHugePage + 12345;  // two whole huge pages and a tail
  WeightPtr big = allocate_weight_memory(WeightMemory::kHostHugePages, bytes, &error);
  ASSERT_TRUE(big) << error.message();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.get()) % kHugePage, 0u);
  // Every byte is usable (the tail past the whole pages too).
  std::memset(big.get(), 0x5a, bytes);
  EXPECT_EQ(big.get()[bytes - 1], 0x5a);
  if (!kernel_has_thp()) GTEST_SKIP() << "this kernel has no transparent huge pages";
  EXPECT_NE(vm_flags_of(big.get()).find(" hg"), std::string::npos) << vm_flags_of(big.get());
  EXPECT_NE(vm_flags_of(big.get() + kHugePage + 1).find(" hg"), std::string::npos);
}

// The mapping (start, end, name) that holds `p`, from /proc/self/maps; end 0 when none does.
struct Mapping {
  uintptr_t start = 0, end = 0;
  std::string name;
};
Mapping mapping_of(const void* p) {
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx ", &lo, &hi) != 2 || addr < lo || addr >= hi) continue;
    const size_t slash = line.find('/'), bracket = line.find('[');
    const size_t at = std::min(slash, bracket);
    return {static_cast<uintptr_t>(lo), static_cast<uintptr_t>(hi), at == std::string::npos ? "" : line.substr(at)};
  }
  return {};
}

// A huge-page weight block is a mapping of its own, exactly its pages long, never a piece of
// malloc's heap: glibc raises its mmap threshold once large blocks are freed, and served blocks
// of up to 32 MiB from the heap, where they were faulted in 4 KiB at a time. Freeing unmaps it.
TEST(HugePages, HugePageBlocksAreTheirOwnMappingEvenAfterMallocRaisedItsThreshold) {
  if (!weight_blocks_are_mapped()) GTEST_SKIP() << "AddressSanitizer build: weight blocks come from malloc, which it checks";
  for (int i = 0; i < 4; ++i) {  // what raises glibc's threshold: freeing mapped blocks
    void* big = std::malloc(size_t{24} << 20);
    ASSERT_NE(big, nullptr);
    std::memset(big, 1, 4096);
    std::free(big);
  }
  const size_t bytes = 3 * kHugePage + 100;
  WeightBlockPtr block = alloc_weight_block(bytes, true);
  ASSERT_TRUE(block);
  EXPECT_EQ(block.get_deleter().mapped_bytes, (bytes + 4095) / 4096 * 4096);
  std::memset(block.get(), 0x3c, bytes);
  const Mapping m = mapping_of(block.get());
  ASSERT_NE(m.end, 0u);
  EXPECT_NE(m.name, "[heap]");
  EXPECT_EQ(m.start, reinterpret_cast<uintptr_t>(block.get())) << "the block starts its mapping";
  // The advised whole 2 MiB pages and the small-page tail are two mappings as the kernel counts them.
  const Mapping tail = mapping_of(block.get() + bytes - 1);
  EXPECT_NE(tail.name, "[heap]");
  EXPECT_GE(tail.end, reinterpret_cast<uintptr_t>(block.get()) + bytes);
  EXPECT_LE(tail.end, reinterpret_cast<uintptr_t>(block.get()) + bytes + 4096);
  EXPECT_EQ(block.get()[bytes - 1], 0x3c);
  // A weight buffer of the store's huge-page memory comes the same way and goes the same way.
  Status error;
  WeightPtr weight = allocate_weight_memory(WeightMemory::kHostHugePages, 2 * kHugePage, &error);
  ASSERT_TRUE(weight) << error.message();
  EXPECT_EQ(mapping_of(weight.get()).start, reinterpret_cast<uintptr_t>(weight.get()));
  // Freed, the block is kept for the next one of its length, which gets it back as it is.
  const size_t length = block.get_deleter().mapped_bytes, cached = cached_weight_block_bytes();
  uint8_t* where = block.get();
  block.reset();
  if (cached_weight_block_bytes() == cached + length) {
    EXPECT_NE(mapping_of(where).end, 0u) << "a kept block stays mapped";
    WeightBlockPtr again = alloc_weight_block(bytes, true);
    EXPECT_EQ(again.get(), where);
    EXPECT_EQ(again.get()[bytes - 1], 0x3c) << "not zeroed again";
    EXPECT_EQ(cached_weight_block_bytes(), cached);
  } else {  // the cache was full (or turned off by LW_WEIGHT_BLOCK_CACHE_BYTES)
    EXPECT_EQ(mapping_of(where).end, 0u) << "freeing unmaps the block";
  }
  // One of 32 MiB or more is never kept.
  WeightBlockPtr huge = alloc_weight_block(size_t{32} << 20, true);
  ASSERT_TRUE(huge);
  uint8_t* huge_at = huge.get();
  huge_at[0] = 1;
  const size_t before = cached_weight_block_bytes();
  huge.reset();
  EXPECT_EQ(cached_weight_block_bytes(), before);
  EXPECT_EQ(mapping_of(huge_at).end, 0u) << "freeing unmaps a block too large to keep";
}

// release_cached_weight_blocks (what aclFinalize calls) unmaps every kept block.
TEST(HugePages, ReleasingTheKeptBlocksUnmapsThem) {
  if (!weight_blocks_are_mapped()) GTEST_SKIP() << "AddressSanitizer build: weight blocks come from malloc, which it checks";
  WeightBlockPtr block = alloc_weight_block(kHugePage + 4096, true);
  ASSERT_TRUE(block);
  block.get()[0] = 7;
  uint8_t* where = block.get();
  block.reset();
  release_cached_weight_blocks();
  EXPECT_EQ(cached_weight_block_bytes(), 0u);
  EXPECT_EQ(mapping_of(where).end, 0u);
}

TEST(HugePages, SmallWeightsAndPlainHostMemoryAreNotAdvised) {
  Status error;
  WeightPtr small = allocate_weight_memory(WeightMemory::kHostHugePages, kHugePage - 64, &error);
  ASSERT_TRUE(small) << error.message();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.get()) % 64, 0u);
  WeightPtr plain = allocate_weight_memory(WeightMemory::kHost, 3 * kHugePage, &error);
  ASSERT_TRUE(plain) << error.message();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(plain.get()) % 64, 0u);
  if (!kernel_has_thp()) GTEST_SKIP() << "this kernel has no transparent huge pages";
  EXPECT_EQ(vm_flags_of(small.get()).find(" hg"), std::string::npos) << vm_flags_of(small.get());
  EXPECT_EQ(vm_flags_of(plain.get()).find(" hg"), std::string::npos) << vm_flags_of(plain.get());
}

// A store on huge-page memory works like any other: updates, snapshots, the pool.
TEST(HugePages, AStoreOnHugePagesKeepsItsVersions) {
  const uint64_t bytes = 3 * kHugePage;
  VariableStore store({{"w", DType::kFloat32, {static_cast<int64_t>(bytes / 4)}, bytes}},
                      StoreOptions{false, 0, false, WeightMemory::kHostHugePages});
  for (uint8_t value : {1, 2, 3}) {
    auto update = store.begin_update();
    auto buf = update->stage(0);
    ASSERT_TRUE(buf.is_ok()) << buf.status().message();
    std::memset((*buf)->data(), value, bytes);
    store.commit(std::move(update));
    auto now = store.current();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(now->buffers[0]->data()) % kHugePage, 0u);
    EXPECT_EQ(now->buffers[0]->data()[0], value);
    EXPECT_EQ(now->buffers[0]->data()[bytes - 1], value);
  }
}

// Small Variables staged by one update share one block of huge pages; the pieces are reused
// through the pool like separate buffers, and a large Variable keeps a block of its own.
TEST(HugePages, SmallWeightsStagedTogetherShareOneAdvisedBlock) {
  constexpr int kSmall = 40;
  constexpr uint64_t kSmallBytes = 100000;  // not a multiple of 64: the pieces are rounded up
  const uint64_t big_bytes = kHugePage + 4096;
  std::vector<VariableSlot> slots;
  for (int i = 0; i < kSmall; ++i)
    slots.push_back({std::string(1, 's') += std::to_string(i), DType::kUint8, {static_cast<int64_t>(kSmallBytes)}, kSmallBytes});
  slots.push_back({"big", DType::kUint8, {static_cast<int64_t>(big_bytes)}, big_bytes});
  VariableStore store(slots, StoreOptions{false, 0, false, WeightMemory::kHostHugePages});
  std::vector<int32_t> all;
  for (int32_t i = 0; i <= kSmall; ++i) all.push_back(i);
  std::vector<int32_t> with_repeat = all;
  with_repeat.push_back(3);

  auto write_all = [&](uint8_t base, std::vector<const uint8_t*>* where) {
    auto update = store.begin_update();
    std::vector<WeightBuffer*> bufs;
    Status st = update->stage_many(with_repeat, &bufs);
    ASSERT_TRUE(st.is_ok()) << st.message();
    ASSERT_EQ(bufs.size(), with_repeat.size());
    EXPECT_EQ(bufs.back(), bufs[3]) << "a slot named twice gets one buffer";
    where->clear();
    for (int32_t i = 0; i <= kSmall; ++i) {
      ASSERT_EQ(bufs[static_cast<size_t>(i)]->size(), slots[static_cast<size_t>(i)].bytes);
      std::memset(bufs[static_cast<size_t>(i)]->data(), base + i, slots[static_cast<size_t>(i)].bytes);
      where->push_back(bufs[static_cast<size_t>(i)]->data());
    }
    store.commit(std::move(update));
  };
  auto check_current = [&](uint8_t base) {
    auto now = store.current();
    for (int32_t i = 0; i <= kSmall; ++i) {
      const WeightBuffer& b = *now->buffers[static_cast<size_t>(i)];
      EXPECT_EQ(b.data()[0], static_cast<uint8_t>(base + i)) << "slot " << i;
      EXPECT_EQ(b.data()[b.size() - 1], static_cast<uint8_t>(base + i)) << "slot " << i;
    }
  };

  std::vector<const uint8_t*> v1, v2, v3;
  write_all(10, &v1);
  check_current(10);
  // The small ones lie end to end, each on a 64-byte boundary; the large one on its own.
  const uint64_t piece = (kSmallBytes + 63) / 64 * 64;
  const uint8_t* lo = *std::min_element(v1.begin(), v1.begin() + kSmall);
  const uint8_t* hi = *std::max_element(v1.begin(), v1.begin() + kSmall);
  EXPECT_EQ(static_cast<uint64_t>(hi - lo), (kSmall - 1) * piece) << "one block, no gaps or overlaps";
  for (int i = 0; i < kSmall; ++i) EXPECT_EQ(reinterpret_cast<uintptr_t>(v1[static_cast<size_t>(i)]) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(v1[kSmall]) % kHugePage, 0u);
  EXPECT_TRUE(v1[kSmall] < lo || v1[kSmall] >= hi + piece);
  if (kernel_has_thp()) {
    // The block starts on a 2 MiB boundary, and its whole 2 MiB stretches are advised.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(lo) % kHugePage, 0u);
    EXPECT_NE(vm_flags_of(lo).find(" hg"), std::string::npos) << vm_flags_of(lo);
  }

  write_all(50, &v2);  // version 1 is current: a second block
  check_current(50);
  for (int i = 0; i <= kSmall; ++i) EXPECT_NE(v2[static_cast<size_t>(i)], v1[static_cast<size_t>(i)]);
  EXPECT_EQ(store.pooled_bytes(), kSmall * kSmallBytes + big_bytes) << "version 1's buffers are pooled";
  write_all(90, &v3);  // takes version 1's memory back from the pool, piece by piece
  check_current(90);
  EXPECT_EQ(v3, v1);
  EXPECT_EQ(store.pooled_bytes(), kSmall * kSmallBytes + big_bytes);
}

// The block stays alive while any of its pieces is used, even after its store is gone.
TEST(HugePages, ABlockOfSmallWeightsLivesAsLongAsAPieceIsUsed) {
  std::shared_ptr<const WeightSnapshot> kept;
  {
    std::vector<VariableSlot> slots;
    for (int i = 0; i < 24; ++i) slots.push_back({std::string(1, 'w') += std::to_string(i), DType::kUint8, {100000}, 100000});
    VariableStore store(slots, StoreOptions{false, 0, false, WeightMemory::kHostHugePages});
    for (uint8_t value : {1, 2}) {
      auto update = store.begin_update();
      std::vector<int32_t> all(slots.size());
      for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int32_t>(i);
      std::vector<WeightBuffer*> bufs;
      ASSERT_TRUE(update->stage_many(all, &bufs).is_ok());
      for (WeightBuffer* b : bufs) std::memset(b->data(), value, b->size());
      store.commit(std::move(update));
      if (value == 1) kept = store.current();
    }
  }
  // Version 1 outlived the store and its pool; its pieces are still readable (ASan checks).
  ASSERT_EQ(kept->buffers.size(), 24u);
  for (const auto& b : kept->buffers) {
    EXPECT_EQ(b->data()[0], 1);
    EXPECT_EQ(b->data()[b->size() - 1], 1);
  }
  kept.reset();
}

TEST(HugePages, WeightBlocksForKernelsFollowTheSetting) {
  WeightBlockPtr on = alloc_weight_block(2 * kHugePage, true);
  WeightBlockPtr off = alloc_weight_block(2 * kHugePage, false);
  ASSERT_TRUE(on && off);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(on.get()) % kHugePage, 0u);
  if (!kernel_has_thp()) GTEST_SKIP() << "this kernel has no transparent huge pages";
  EXPECT_NE(vm_flags_of(on.get()).find(" hg"), std::string::npos) << vm_flags_of(on.get());
  EXPECT_EQ(vm_flags_of(off.get()).find(" hg"), std::string::npos) << vm_flags_of(off.get());
}

// A Conv whose 4.7 MB weight is a Const, packed by the kernel into huge-page memory when the
// plan's store is on huge pages, against a naive loop. (A convolution's weights are packed on
// every instruction set; oneDNN's AVX2 matmul reads a Gemm's plain B where it is.)
TEST(HugePages, APlanPacksConstWeightsIntoHugePagesAndComputes) {
  constexpr int64_t c = 256, m = 512, h = 4;
  auto x = test::random_vec(static_cast<size_t>(c * h * h), 1, 1.0f);
  auto w = test::random_vec(static_cast<size_t>(m * c * 9), 2, 0.05f);
  ir::Graph g;
  ir::ValueId in = g.add_data("x", DType::kFloat32, Shape(Dims{1, c, h, h}));
  g.outputs = {test::add_op(g, "Conv", {in, g.add_const("w", test::tensor(w, {m, c, 3, 3}))}, "y",
                            {{"pads", std::vector<int64_t>{1, 1, 1, 1}}})};
  ASSERT_TRUE(ir::infer_graph_types(g).is_ok());
  VariableStore store({}, StoreOptions{false, 0, false, WeightMemory::kHostHugePages});
  const uint64_t advised_before = advised_bytes(), cached_before = cached_weight_block_bytes();
  auto plan = Plan::create(g, store, 2);
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  if (kernel_has_thp()) {
    // A new advised mapping, or one taken from the freed blocks the process keeps (advised too).
    EXPECT_GE(advised_bytes() + (cached_before - cached_weight_block_bytes()), advised_before + 2 * kHugePage)
        << "W's packed copy";
  }
  std::vector<float> y(static_cast<size_t>(m * h * h));
  Status st = (*plan)->run(*store.current(), {x.data()}, {y.data()}, nullptr);
  ASSERT_TRUE(st.is_ok()) << st.message();
  EXPECT_LT(test::max_diff(y, test::naive_conv(x, w, {}, c, m, h, 3)), 1e-4f);
}

class HugePagesConfig : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv("LW_HUGE_PAGES"); }
  void TearDown() override {
    unsetenv("LW_HUGE_PAGES");
    if (!path_.empty()) std::remove(path_.c_str());
  }
  const char* file(const std::string& json) {
    path_ = test::temp_path("huge_pages.json");
    std::ofstream(path_) << json;
    return path_.c_str();
  }
  std::string path_;
};

TEST_F(HugePagesConfig, OnByDefaultOffByFileOrEnvironment) {
  auto config = load_config(nullptr);
  ASSERT_TRUE(config.is_ok()) << config.status().message();
  EXPECT_TRUE(config->huge_pages);
  config = load_config(file(R"({"liveweight": {"huge_pages": false}})"));
  ASSERT_TRUE(config.is_ok()) << config.status().message();
  EXPECT_FALSE(config->huge_pages);
  ASSERT_EQ(setenv("LW_HUGE_PAGES", "0", 1), 0);
  config = load_config(nullptr);
  ASSERT_TRUE(config.is_ok()) << config.status().message();
  EXPECT_FALSE(config->huge_pages);
  // The file's setting wins over the environment.
  config = load_config(file(R"({"liveweight": {"huge_pages": true}})"));
  ASSERT_TRUE(config.is_ok()) << config.status().message();
  EXPECT_TRUE(config->huge_pages);
}

TEST_F(HugePagesConfig, BadValuesAreNamed) {
  auto config = load_config(file(R"({"liveweight": {"huge_pages": 1}})"));
  ASSERT_FALSE(config.is_ok());
  EXPECT_EQ(config.status().code(), StatusCode::kParseFile);
  EXPECT_NE(config.status().message().find("\"huge_pages\" must be true or false"), std::string::npos)
      << config.status().message();
  ASSERT_EQ(setenv("LW_HUGE_PAGES", "yes", 1), 0);
  config = load_config(nullptr);
  ASSERT_FALSE(config.is_ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(config.status().message().find("LW_HUGE_PAGES='yes' must be 0 or 1"), std::string::npos)
      << config.status().message();
}

}  // namespace
}  // namespace lw::rt
