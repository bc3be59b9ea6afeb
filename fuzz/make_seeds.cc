// Writes the seed corpora: real bundles and models for the bundle reader, and C API call
// sequences that drive the small bundle through load, init, inference, update and unload.
// Usage: make_seeds <source dir> <out dir>  (creates <out>/bundle_reader and <out>/c_api;
// the ONNX seeds come from make_onnx_seeds.py).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz/fuzz_targets.h"
#include "liveweight/build.h"

namespace {

bool write(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

// Op codes of run_c_api (see step() in fuzz_targets.cc).
enum Op : uint8_t {
  kCreateDataset = 0, kDestroyDataset = 1, kCreateBuffer = 2, kDestroyBuffer = 3, kAddBuffer = 4,
  kCreateDesc = 5, kDestroyDesc = 6, kSetDesc = 7, kLoadBundle = 8, kUnloadBundle = 9, kExecute = 10,
  kLoadPlain = 12, kUnloadPlain = 13, kQueryDataset = 15, kMalloc = 16, kQueryDesc = 17, kAsync = 18,
};

void buffer(std::vector<uint8_t>& s, uint16_t size) {
  s.insert(s.end(), {kCreateBuffer, static_cast<uint8_t>(size & 0xFF), static_cast<uint8_t>(size >> 8)});
  for (uint16_t i = 0; i < size; ++i) s.push_back(static_cast<uint8_t>(i % 4 == 3 ? 0x3F : 0));  // floats near 0.5..2
  s.insert(s.end(), {1, 0});  // claim the whole block, non-null
}

// Loads the bundle (models 0 infer, 1 init, 2 update), runs init, infers with x [1,4], updates
// W with dims [4,3], infers again, then unloads.
std::vector<uint8_t> full_flow(bool async, bool unload_first) {
  std::vector<uint8_t> s = {kLoadBundle, kCreateDataset, kCreateDataset, kExecute, 1, 0, 1};
  buffer(s, 16);  // buffer 0: x
  buffer(s, 12);  // buffer 1: y
  buffer(s, 48);  // buffer 2: W
  s.insert(s.end(), {kCreateDataset, kCreateDataset, kAddBuffer, 2, 0, kAddBuffer, 3, 1});
  if (async) s.insert(s.end(), {kAsync});
  s.insert(s.end(), {static_cast<uint8_t>(async ? kAsync : kExecute), 0, 2, 3});
  // desc 0: float [4,3]
  s.insert(s.end(), {kCreateDesc, 3, 4, 3, 0, 0, 0, 1, 1, kCreateDataset, kAddBuffer, 4, 2, kSetDesc, 4, 0, 0});
  s.insert(s.end(), {kExecute, 2, 4, 1, kExecute, 0, 2, 3, kQueryDesc, 0, 0, kQueryDataset, 4, 0, 0});
  if (unload_first) s.insert(s.end(), {kUnloadBundle, 0, kExecute, 0, 2, 3, kDestroyDataset, 2, kExecute, 2, 4, 1});
  s.insert(s.end(), {kDestroyBuffer, 0, kExecute, 0, 2, 3, kLoadPlain, kExecute, 3, 2, 3, kMalloc, 0, 0x40, 0, 7});
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <source dir> <out dir>\n", argv[0]);
    return 2;
  }
  std::filesystem::path src = argv[1], out = argv[2];
  std::filesystem::create_directories(out / "bundle_reader");
  std::filesystem::create_directories(out / "c_api");
  bool ok = !lw::fuzz::small_bundle().empty() && !lw::fuzz::small_plain_model().empty();
  ok = ok && write(out / "bundle_reader" / "small_bundle.om", lw::fuzz::small_bundle());
  ok = ok && write(out / "bundle_reader" / "small_plain.om", lw::fuzz::small_plain_model());
  for (bool init : {true, false}) {
    lw::OnnxBuildOptions options;
    options.init = init;
    std::string name = init ? "digits_bundle.om" : "digits_bundle_noinit.om";
    lw::Status st = lw::build_bundle_from_onnx((src / "examples/models/digits.onnx").string(), (out / "bundle_reader" / name).string(), options);
    if (!st.is_ok()) {
      std::fprintf(stderr, "digits bundle: %s\n", st.message().c_str());
      ok = false;
    }
  }
  ok = ok && write(out / "c_api" / "full_flow.bin", full_flow(false, false));
  ok = ok && write(out / "c_api" / "full_flow_async.bin", full_flow(true, false));
  ok = ok && write(out / "c_api" / "unload_then_use.bin", full_flow(false, true));
  return ok ? 0 : 1;
}
