#include "liveweight/memory.h"

#include "backends/cuda/device.h"
#include "runtime/runtime.h"

namespace lw {

bool is_device_pointer(const void* p) {
  if (p == nullptr) return false;
  const rt::Runtime& runtime = rt::Runtime::instance();
  if (!runtime.initialized() || runtime.config().backend != "cuda") return false;
  cuda::PointerKind kind = cuda::pointer_kind(p);
  return kind == cuda::PointerKind::kDevice;
}

}  // namespace lw
