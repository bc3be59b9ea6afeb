// Replays every input kept under fuzz/regressions/<target>/ (crashes the fuzzers found, each
// fixed) and the in-process seeds through the fuzz targets' bodies. A regression that comes
// back crashes or trips a sanitizer here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz/fuzz_targets.h"

namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs `body` on every file of fuzz/regressions/<target>; returns how many.
size_t replay(const std::string& target, void (*body)(const uint8_t*, size_t)) {
  fs::path dir = fs::path(LW_SOURCE_DIR) / "fuzz" / "regressions" / target;
  size_t n = 0;
  if (!fs::is_directory(dir)) return 0;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.string());
    std::vector<uint8_t> bytes = read_all(f);
    body(bytes.data(), bytes.size());
    ++n;
  }
  return n;
}

TEST(FuzzRegressions, BundleReader) {
  const auto& bundle = lw::fuzz::small_bundle();
  const auto& plain = lw::fuzz::small_plain_model();
  ASSERT_FALSE(bundle.empty());
  lw::fuzz::run_bundle_reader(bundle.data(), bundle.size());
  lw::fuzz::run_bundle_reader(plain.data(), plain.size());
  // Every truncation of the small bundle at a 7-byte stride.
  for (size_t len = 0; len < bundle.size(); len += 7) lw::fuzz::run_bundle_reader(bundle.data(), len);
  std::printf("[fuzz-regressions] bundle_reader: %zu kept inputs\n", replay("bundle_reader", lw::fuzz::run_bundle_reader));
}

TEST(FuzzRegressions, OnnxImport) {
  fs::path digits = fs::path(LW_SOURCE_DIR) / "examples" / "models" / "digits.onnx";
  std::vector<uint8_t> bytes = read_all(digits);
  ASSERT_FALSE(bytes.empty()) << digits;
  lw::fuzz::run_onnx_import(bytes.data(), bytes.size());
  for (size_t len = 0; len < bytes.size(); len += 997) lw::fuzz::run_onnx_import(bytes.data(), len);
  std::printf("[fuzz-regressions] onnx_import: %zu kept inputs\n", replay("onnx_import", lw::fuzz::run_onnx_import));
}

TEST(FuzzRegressions, CApi) {
  // Every single-op sequence and every op followed by each other op, with index bytes 0.
  for (uint8_t a = 0; a < 20; ++a) {
    for (uint8_t b = 0; b < 20; ++b) {
      const uint8_t seq[] = {8, 0, 0, a, 0, 0, 0, b, 0, 0, 0, 1, 1};
      lw::fuzz::run_c_api(seq, sizeof seq);
    }
  }
  std::printf("[fuzz-regressions] c_api: %zu kept inputs\n", replay("c_api", lw::fuzz::run_c_api));
}

}  // namespace
