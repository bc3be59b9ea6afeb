// The CUDA backend's entry points in a build without it (LW_CUDA off): each reports that the
// backend is absent, so selecting it fails with a clear kInvalidDevice instead of a link error.
#include "backends/cuda/device.h"
#include "graph/ir.h"
#include "runtime/execution_plan.h"

namespace lw::cuda {

namespace {
Status absent() {
  return make_error(StatusCode::kInvalidDevice,
                    "this liveweight was built without the CUDA backend (configure with -DLW_CUDA=ON and nvcc)");
}
}  // namespace

bool built_with_cuda() { return false; }
Status check_available() { return absent(); }
Result<int> device_count() { return absent(); }
Status set_device(int) { return absent(); }
Result<std::string> device_name(int) { return absent(); }
Result<void*> malloc_device(size_t) { return absent(); }
void free_device(void*) {}
Result<void*> malloc_host(size_t) { return absent(); }
void free_host(void*) {}
PointerKind pointer_kind(const void*) { return PointerKind::kPageableHost; }
const void* pinned_device_view(const void*) { return nullptr; }
Status copy(void*, const void*, size_t) { return absent(); }
Status memset_device(void*, int, size_t) { return absent(); }
Status synchronize_device() { return absent(); }
Result<void*> create_stream() { return absent(); }
Status destroy_stream(void*) { return absent(); }
Status synchronize_stream(void*) { return absent(); }
Status copy_async(void*, const void*, size_t, void*) { return absent(); }
Result<std::unique_ptr<rt::ExecutionPlan>> create_plan(ir::Graph, const rt::VariableStore&, const rt::DeviceOptions&) {
  return absent();
}
std::vector<std::string> kernel_ops() { return {}; }

}  // namespace lw::cuda
