// Helpers shared by the C++ tests: temp paths, .npy files, the generated test models.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lw::test {

// The build tree the fixtures live in: $LW_TEST_BINARY_DIR when set (test binaries run away
// from their build tree, e.g. on the GPU machine), else the one they were built in.
std::string binary_dir();
// A fresh path under the build tree's test scratch folder (not created).
std::string temp_path(const std::string& name);
// Folder holding the models and references that tests/models/make_test_models.py wrote.
std::string test_models_dir();

struct NpyArray {
  std::string dtype;  // numpy descr without byte order: "f4", "i8", ...
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  const float* f32() const { return reinterpret_cast<const float*>(bytes.data()); }
  size_t numel() const;
};
// Reads a little-endian, C-ordered .npy file (version 1 or 2). Fails the test on error.
NpyArray read_npy(const std::string& path);
std::vector<uint8_t> read_file_bytes(const std::string& path);

// Largest |a-b| / (max |b| over the tensor, at least 1e-6): the "relative on the output's
// scale" error the tests bound.
double max_scaled_error(const float* a, const float* b, size_t n);

}  // namespace lw::test
