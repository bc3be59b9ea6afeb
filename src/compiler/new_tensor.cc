#include "compiler/new_tensor.h"

#include <algorithm>
#include <memory>

namespace lw::compiler {

Result<Blob> new_blob(size_t size) {
  void* p = alloc_aligned(std::max<size_t>(size, 1));
  if (!p) return make_error(StatusCode::kOutOfMemory, "compiler: cannot allocate ", size, " bytes for a folded constant");
  std::shared_ptr<const void> owner(p, [](const void* q) { free_aligned(const_cast<void*>(q)); });
  return Blob{std::move(owner), static_cast<const uint8_t*>(p), size};
}

Result<ir::TensorData> new_tensor(DType dtype, const Dims& dims) {
  ir::TensorData t;
  t.dtype = dtype;
  t.dims = dims;
  LW_ASSIGN_OR_RETURN(uint64_t bytes, byte_size(dtype, dims));
  LW_ASSIGN_OR_RETURN(t.bytes, new_blob(static_cast<size_t>(bytes)));
  return t;
}

}  // namespace lw::compiler
