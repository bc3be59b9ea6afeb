// Shared pieces of the reliability tests: the small bundle they load, its reference output, C API
// helpers that own what they create, and the resident-memory probe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "acl/acl.h"

namespace lw::test {

// y = Relu(x W + b), x [-1,4], W [4,3] and b [3] refreshable; bundle graphs [infer, init, update]
// (update inputs W_var_data, b_var_data).
struct SmallModel {
  std::vector<float> w, b;
  std::vector<uint8_t> bundle;  // empty when the build failed (the test then fails)
  std::vector<uint8_t> plain;   // the inference graph alone, weights as constants
};
const SmallModel& small_model();

// The naive reference: rows of x [n,4] times w [4,3] plus b, then Relu.
std::vector<float> reference(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b);

// Bytes of resident memory (/proc/self/statm), 0 when unreadable.
size_t resident_bytes();

// Threads started in this process so far (thread_start_hook.cc counts pthread_create calls).
uint64_t threads_started();

// True in a build with AddressSanitizer or ThreadSanitizer (their allocators keep freed memory
// in quarantine, so resident memory is not a leak measure there; LSan checks leaks instead).
bool sanitizer_build();

// Datasets over host vectors; destroys everything it made, in any state.
class IoSet {
 public:
  IoSet() = default;
  IoSet(const IoSet&) = delete;
  IoSet& operator=(const IoSet&) = delete;
  ~IoSet();
  // A dataset over the given blocks; `dims` (when not empty) sets slot i's tensor desc (float).
  aclmdlDataset* dataset(const std::vector<std::pair<void*, size_t>>& slots,
                         const std::vector<std::vector<int64_t>>& dims = {});

 private:
  std::vector<aclmdlDataset*> datasets_;
  std::vector<aclDataBuffer*> buffers_;
};

// The three model ids of a loaded bundle.
struct BundleIds {
  uint32_t bundle = 0, infer = 0, init = 0, update = 0;
};
// Returns the C API's error for a failed aclmdlBundleLoadFromMem or GetModelId.
aclError load_small_bundle(BundleIds* ids);

// Runs x [n,4] through `infer`; on success fills *y (n*3 floats).
aclError infer(uint32_t model, const std::vector<float>& x, std::vector<float>* y);
// Runs the update graph with new W [4,3] and b [3] (an empty vector skips that weight).
aclError update(uint32_t model, const std::vector<float>& w, const std::vector<float>& b);

}  // namespace lw::test
