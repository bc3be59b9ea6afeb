#include "support/test_support.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <cstdlib>

namespace lw::test {

std::string binary_dir() {
  const char* dir = std::getenv("LW_TEST_BINARY_DIR");
  return dir && *dir ? std::string(dir) : std::string(LW_BINARY_DIR);
}

std::string temp_path(const std::string& name) {
  static std::atomic<int> counter{0};
  std::filesystem::path dir = std::filesystem::path(binary_dir()) / "test_scratch";
  std::filesystem::create_directories(dir);
  return (dir / (std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + name)).string();
}

std::string test_models_dir() { return binary_dir() + "/test_models"; }

size_t NpyArray::numel() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

NpyArray read_npy(const std::string& path) {
  NpyArray out;
  std::vector<uint8_t> raw = read_file_bytes(path);
  if (raw.size() < 12 || std::memcmp(raw.data(), "\x93NUMPY", 6) != 0) {
    ADD_FAILURE() << path << " is not an .npy file";
    return out;
  }
  uint8_t major = raw[6];
  size_t header_len, offset;
  if (major == 1) {
    header_len = raw[8] | (raw[9] << 8);
    offset = 10;
  } else {
    header_len = raw[8] | (raw[9] << 8) | (raw[10] << 16) | (static_cast<size_t>(raw[11]) << 24);
    offset = 12;
  }
  std::string header(reinterpret_cast<const char*>(raw.data() + offset), header_len);
  auto descr_pos = header.find("'descr': '");
  EXPECT_NE(descr_pos, std::string::npos) << path;
  std::string descr = header.substr(descr_pos + 10, header.find('\'', descr_pos + 10) - descr_pos - 10);
  EXPECT_TRUE(descr[0] == '<' || descr[0] == '|') << path << ": big-endian arrays are not supported";
  out.dtype = descr.substr(1);
  EXPECT_EQ(header.find("'fortran_order': True"), std::string::npos) << path;
  auto shape_pos = header.find("'shape': (");
  std::string shape = header.substr(shape_pos + 10, header.find(')', shape_pos) - shape_pos - 10);
  size_t p = 0;
  while (p < shape.size()) {
    while (p < shape.size() && (shape[p] == ' ' || shape[p] == ',')) ++p;
    if (p >= shape.size()) break;
    out.shape.push_back(std::stoll(shape.substr(p)));
    while (p < shape.size() && shape[p] != ',') ++p;
  }
  out.bytes.assign(raw.begin() + static_cast<long>(offset + header_len), raw.end());
  return out;
}

double max_scaled_error(const float* a, const float* b, size_t n) {
  double scale = 1e-6, err = 0;
  for (size_t i = 0; i < n; ++i) scale = std::max(scale, static_cast<double>(std::fabs(b[i])));
  for (size_t i = 0; i < n; ++i) {
    double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
    err = std::max(err, d);
  }
  return err / scale;
}

}  // namespace lw::test
