// Init from a file mapping: an Assign from a Const that lives in the mapped file drops the
// source pages once copied (checked in /proc/self/smaps); running init again reads them back from the file. A Const outside
// the mapping (heap) is left alone.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "format/bundle_io.h"
#include "graph/op_registry.h"
#include "runtime/plan.h"
#include "support/test_support.h"

namespace lw::rt {
namespace {

// Resident kilobytes of the mapping that contains `p`, from /proc/self/smaps; -1 if not found.
long resident_kb_of_mapping(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  const auto addr = reinterpret_cast<uintptr_t>(p);
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2) {  // a mapping's header line
      inside = addr >= begin && addr < end;
      continue;
    }
    if (inside && line.rfind("Rss:", 0) == 0) {
      std::istringstream fields(line.substr(4));
      long kb = -1;
      fields >> kb;
      return kb;
    }
  }
  return -1;
}

TEST(InitPages, AssignFromMappedFileDropsPagesAndCanRunAgain) {
  constexpr size_t kFloats = 3 * 4096 + 17;  // several whole pages plus a tail
  std::vector<float> big(kFloats), small = {1.5f, -2.5f, 3.5f};
  for (size_t i = 0; i < kFloats; ++i) big[i] = static_cast<float>(i) * 0.25f - 7.0f;
  std::string path = test::temp_path("init_pages.bin");
  {
    std::ofstream f(path, std::ios::binary);
    f.write("pad!", 4);  // not page aligned on purpose
    f.write(reinterpret_cast<const char*>(big.data()), static_cast<std::streamsize>(big.size() * 4));
  }
  auto file = format::map_file(path);
  ASSERT_TRUE(file.is_ok()) << file.status().message();

  VariableStore store({{"big", DType::kFloat32, {static_cast<int64_t>(kFloats)}, kFloats * 4},
                       {"small", DType::kFloat32, {3}, 12}});
  ir::Graph init;
  init.name = "init";
  init.add_assign(init.add_variable("big", DType::kFloat32, {static_cast<int64_t>(kFloats)}),
                  init.add_const("big_c", {DType::kFloat32, {static_cast<int64_t>(kFloats)}, file->slice(4, kFloats * 4)}),
                  false, "a1");
  init.add_assign(init.add_variable("small", DType::kFloat32, {3}),
                  init.add_const("small_c", {DType::kFloat32, {3}, Blob::copy_of(small.data(), 12)}), false, "a2");
  ASSERT_TRUE(ir::infer_graph_types(init).is_ok());
  auto plan = Plan::create(init, store, 2, MappedRange{file->data, file->size});
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  for (int round = 0; round < 2; ++round) {
    auto update = store.begin_update();
    Status s = (*plan)->run(update->base(), {}, {}, update.get());
    ASSERT_TRUE(s.is_ok()) << s.message();
    store.commit(std::move(update));
    // Only the partial pages at the ends of the copied range may stay mapped.
    long rss = resident_kb_of_mapping(file->data);
    if (rss >= 0) {
      EXPECT_LE(rss, 8) << "round " << round << ": the copied file pages should have been dropped";
    }
    auto snap = store.current();
    EXPECT_EQ(std::memcmp(snap->buffers[0]->data(), big.data(), kFloats * 4), 0) << "round " << round;
    EXPECT_EQ(std::memcmp(snap->buffers[1]->data(), small.data(), 12), 0) << "round " << round;
  }
  // The mapping still reads the file's bytes.
  EXPECT_EQ(std::memcmp(file->data + 4, big.data(), kFloats * 4), 0);
  std::remove(path.c_str());
}

TEST(InitPages, MappedRangeContains) {
  uint8_t buf[64];
  MappedRange r{buf, 64};
  EXPECT_TRUE(r.contains(buf, 64));
  EXPECT_TRUE(r.contains(buf + 10, 54));
  EXPECT_FALSE(r.contains(buf + 10, 55));
  EXPECT_FALSE(r.contains(buf - 1, 2));
  EXPECT_FALSE(MappedRange{}.contains(buf, 1));
}

}  // namespace
}  // namespace lw::rt
