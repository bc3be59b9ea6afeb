// Heap allocations per inference: loads a bundle through the C API, runs init, prepares the
// input/output datasets once (zero inputs), warms up, then counts the calls to malloc, calloc,
// realloc, posix_memalign and aligned_alloc (operator new goes through malloc) made during
// N aclmdlExecute calls, from every thread of the process (liveweight's, oneDNN's, OpenMP's).
//
// Usage: alloc_count BUNDLE.om [RUNS]    prints {"allocs_per_run": X} as the last line.
//
// The counting works by defining the allocation functions in this executable: the dynamic
// linker binds every library's calls to them, and they forward to glibc's __libc_* entries.
#include <acl/acl.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_calls{0};
inline void count() {
  if (g_counting.load(std::memory_order_relaxed)) g_calls.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* malloc(size_t n) {
  count();
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t size) {
  count();
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t n) {
  count();
  return __libc_realloc(p, n);
}
int posix_memalign(void** p, size_t alignment, size_t n) {
  count();
  *p = __libc_memalign(alignment, n);
  return *p ? 0 : 12;  // ENOMEM
}
void* aligned_alloc(size_t alignment, size_t n) {
  count();
  return __libc_memalign(alignment, n);
}
}

namespace {
bool ok(aclError e, const char* what) {
  if (e == ACL_SUCCESS) return true;
  std::fprintf(stderr, "%s failed (%d): %s\n", what, static_cast<int>(e), aclGetRecentErrMsg());
  return false;
}

// A dataset with one zeroed buffer of each size.
aclmdlDataset* make_dataset(const std::vector<size_t>& sizes, std::vector<void*>& owned) {
  aclmdlDataset* set = aclmdlCreateDataset();
  for (size_t n : sizes) {
    void* p = nullptr;
    if (!ok(aclrtMalloc(&p, n ? n : 1, ACL_MEM_MALLOC_HUGE_FIRST), "aclrtMalloc")) return nullptr;
    std::memset(p, 0, n);
    owned.push_back(p);
    if (!ok(aclmdlAddDatasetBuffer(set, aclCreateDataBuffer(p, n)), "aclmdlAddDatasetBuffer")) return nullptr;
  }
  return set;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: alloc_count BUNDLE.om [RUNS]\n");
    return 2;
  }
  const int runs = argc > 2 ? std::atoi(argv[2]) : 20;
  if (!ok(aclInit(nullptr), "aclInit") || !ok(aclrtSetDevice(0), "aclrtSetDevice")) return 1;
  uint32_t bundle = 0, infer = 0, init = 0;
  if (!ok(aclmdlBundleLoadFromFile(argv[1], &bundle), "aclmdlBundleLoadFromFile")) return 1;
  if (!ok(aclmdlBundleGetModelId(bundle, 0, &infer), "aclmdlBundleGetModelId") ||
      !ok(aclmdlBundleGetModelId(bundle, 1, &init), "aclmdlBundleGetModelId"))
    return 1;
  std::vector<void*> owned;
  aclmdlDataset* none_in = aclmdlCreateDataset();
  aclmdlDataset* none_out = aclmdlCreateDataset();
  if (!ok(aclmdlExecute(init, none_in, none_out), "init")) return 1;
  aclmdlDesc* desc = aclmdlCreateDesc();
  if (!ok(aclmdlGetDesc(desc, infer), "aclmdlGetDesc")) return 1;
  std::vector<size_t> in_sizes, out_sizes;
  for (size_t i = 0; i < aclmdlGetNumInputs(desc); ++i) in_sizes.push_back(aclmdlGetInputSizeByIndex(desc, i));
  for (size_t i = 0; i < aclmdlGetNumOutputs(desc); ++i) out_sizes.push_back(aclmdlGetOutputSizeByIndex(desc, i));
  aclmdlDataset* in = make_dataset(in_sizes, owned);
  aclmdlDataset* out = make_dataset(out_sizes, owned);
  if (!in || !out) return 1;
  for (int i = 0; i < 5; ++i)
    if (!ok(aclmdlExecute(infer, in, out), "aclmdlExecute")) return 1;
  g_counting = true;
  bool all_ok = true;
  for (int i = 0; i < runs; ++i) all_ok = aclmdlExecute(infer, in, out) == ACL_SUCCESS && all_ok;
  g_counting = false;
  if (!all_ok) {
    std::fprintf(stderr, "aclmdlExecute failed while counting: %s\n", aclGetRecentErrMsg());
    return 1;
  }
  std::printf("{\"allocs_per_run\": %.1f}\n", static_cast<double>(g_calls.load()) / runs);
  aclmdlDestroyDesc(desc);
  aclmdlUnload(bundle);
  aclFinalize();
  return 0;
}
