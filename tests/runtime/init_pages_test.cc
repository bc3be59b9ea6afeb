// Init from a file mapping: an Assign from a Const that lives in the mapped file drops the
// source pages once copied (checked in /proc/self/smaps); running init again reads them back from the file. A Const outside
// the mapping (heap) is left alone.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "format/bundle_io.h"
#include "graph/op_registry.h"
#include "runtime/plan.h"
#include "support/test_support.h"

namespace lw::rt {
namespace {

// A kilobyte field ("Rss:", "FilePmdMapped:") of the mapping that contains `p`, from
// /proc/self/smaps; -1 if not found.
long smaps_kb_of_mapping(const void* p, const std::string& field) {
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
    if (inside && line.rfind(field, 0) == 0) {
      std::istringstream fields(line.substr(field.size()));
      long kb = -1;
      fields >> kb;
      return kb;
    }
  }
  return -1;
}

long resident_kb_of_mapping(const void* p) { return smaps_kb_of_mapping(p, "Rss:"); }

// Runs an init plan once and publishes what it wrote.
Status run_once(const Plan& plan, VariableStore& store) {
  auto update = store.begin_update();
  Status s = plan.run(update->base(), {}, {}, update.get());
  if (s.is_ok()) store.commit(std::move(update));
  return s;
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
    Status s = run_once(**plan, store);
    ASSERT_TRUE(s.is_ok()) << s.message();
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

// Tensors a few pages apart are dropped as one run, the pages between them too (they are
// read-only file pages: a later reader faults them in again); a wide gap between tensors keeps
// its pages. Three tensors over 2 MiB boundaries, so the run is cut between two threads.
TEST(InitPages, NearbyTensorsDropAsOneRunAndWideGapsStay) {
  constexpr size_t kA = 1536 * 1024 / 4, kB = 1536 * 1024 / 4, kC = 1024 * 1024 / 4;  // floats
  constexpr size_t kSmallGap = 8 * 1024, kWideGap = 256 * 1024;                       // bytes
  std::vector<float> a(kA), b(kB), c(kC);
  for (size_t i = 0; i < kA; ++i) a[i] = static_cast<float>(i % 1000) * 0.5f;
  for (size_t i = 0; i < kB; ++i) b[i] = -static_cast<float>(i % 777);
  for (size_t i = 0; i < kC; ++i) c[i] = static_cast<float>(i % 333) + 0.25f;
  const size_t off_a = 4, off_b = off_a + kA * 4 + kSmallGap, off_c = off_b + kB * 4 + kWideGap;
  std::string path = test::temp_path("init_pages_runs.bin");
  {
    std::vector<char> bytes(off_c + kC * 4, 'x');
    std::memcpy(bytes.data() + off_a, a.data(), kA * 4);
    std::memcpy(bytes.data() + off_b, b.data(), kB * 4);
    std::memcpy(bytes.data() + off_c, c.data(), kC * 4);
    // Written a page at a time, which leaves the page cache in small pieces the mapping maps
    // page by page (one large write can give 2 MiB pieces; see huge_mapped below).
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::setvbuf(f, nullptr, _IONBF, 0);
    for (size_t at = 0; at < bytes.size(); at += 4096)
      ASSERT_EQ(std::fwrite(bytes.data() + at, 1, std::min<size_t>(4096, bytes.size() - at), f), std::min<size_t>(4096, bytes.size() - at));
    std::fclose(f);
  }
  auto file = format::map_file(path);
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  volatile uint8_t sink = 0;
  for (size_t i = 0; i < file->size; i += 4096) sink = sink + file->data[i];  // every page resident
  // A file mapped in 2 MiB pages loses the whole 2 MiB mapping when part of it is dropped (the
  // kernel unmaps a file's huge page rather than splitting it), the wide gap's pages with it.
  const bool huge_mapped = smaps_kb_of_mapping(file->data, "FilePmdMapped:") > 0;

  auto dims = [](size_t n) { return Dims{static_cast<int64_t>(n)}; };
  VariableStore store({{"a", DType::kFloat32, dims(kA), kA * 4},
                       {"b", DType::kFloat32, dims(kB), kB * 4},
                       {"c", DType::kFloat32, dims(kC), kC * 4}});
  ir::Graph init;
  init.name = "init";
  const std::pair<const char*, std::pair<size_t, size_t>> parts[] = {{"a", {off_a, kA}}, {"b", {off_b, kB}}, {"c", {off_c, kC}}};
  for (const auto& [name, where] : parts)
    init.add_assign(init.add_variable(name, DType::kFloat32, dims(where.second)),
                    init.add_const(std::string(name) + "_c",
                                   {DType::kFloat32, dims(where.second), file->slice(where.first, where.second * 4)}),
                    false, std::string("assign_") + name);
  ASSERT_TRUE(ir::infer_graph_types(init).is_ok());
  auto plan = Plan::create(init, store, 2, MappedRange{file->data, file->size});
  ASSERT_TRUE(plan.is_ok()) << plan.status().message();
  Status s = run_once(**plan, store);
  ASSERT_TRUE(s.is_ok()) << s.message();

  long rss = resident_kb_of_mapping(file->data);
  if (rss >= 0) {
    // The wide gap stays (its 64 pages, a partial page at either end besides); everything else,
    // the small gap included, is gone.
    if (!huge_mapped) {
      EXPECT_GE(rss, static_cast<long>(kWideGap / 1024) - 8);
    }
    EXPECT_LE(rss, static_cast<long>(kWideGap / 1024) + 16);
  }
  auto snap = store.current();
  EXPECT_EQ(std::memcmp(snap->buffers[0]->data(), a.data(), kA * 4), 0);
  EXPECT_EQ(std::memcmp(snap->buffers[1]->data(), b.data(), kB * 4), 0);
  EXPECT_EQ(std::memcmp(snap->buffers[2]->data(), c.data(), kC * 4), 0);
  // The dropped pages, the small gap's too, read the file's bytes again.
  EXPECT_EQ(file->data[off_a + kA * 4 + kSmallGap / 2], 'x');
  EXPECT_EQ(std::memcmp(file->data + off_b, b.data(), kB * 4), 0);
  std::remove(path.c_str());
}

TEST(InitPages, MappedRangeContains) {
  uint8_t storage[72] = {};
  uint8_t* buf = storage + 8;  // the range; storage[7] lies just before it
  MappedRange r{buf, 64};
  EXPECT_TRUE(r.contains(buf, 64));
  EXPECT_TRUE(r.contains(buf + 10, 54));
  EXPECT_FALSE(r.contains(buf + 10, 55));
  EXPECT_FALSE(r.contains(storage + 7, 2));
  EXPECT_FALSE(MappedRange{}.contains(buf, 1));
}

}  // namespace
}  // namespace lw::rt
