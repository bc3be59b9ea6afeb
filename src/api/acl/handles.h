// The objects behind the C API's opaque handles, and the registry of each kind. The handle types
// are the C API's own struct names (global namespace), completed here.
//
// Lifetime: every object is created by its aclCreate* function, registered, and owned by its
// registry until its destroy function unregisters it. Thread-safety: the registries are
// thread-safe; the objects themselves are not locked (AscendCL leaves concurrent mutation of one
// handle to the caller).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "acl/acl_base.h"
#include "acl/acl_mdl.h"
#include "api/acl/handle_registry.h"
#include "core/shape.h"
#include "runtime/runtime.h"

struct aclDataBuffer {
  void* data = nullptr;
  size_t size = 0;
};

struct aclTensorDesc {
  aclDataType dtype = ACL_DT_UNDEFINED;
  aclFormat format = ACL_FORMAT_UNDEFINED;
  lw::Dims dims;
  std::string name;
  // Set for descriptions a dataset holds: the dataset frees them, aclDestroyTensorDesc refuses.
  bool owned_by_dataset = false;
};

struct aclmdlDataset {
  struct Slot {
    aclDataBuffer* buffer = nullptr;  // not owned; may have been destroyed since it was added
    aclTensorDesc* desc = nullptr;    // owned (registered, owned_by_dataset) or null
    bool desc_from_execute = false;   // written by aclmdlExecute rather than by the caller
  };
  std::vector<Slot> slots;
};

struct aclmdlDesc {
  uint32_t model_id = 0;
  std::shared_ptr<const lw::rt::ModelInfo> info;  // null until aclmdlGetDesc succeeds
  // Every info this description has held, so name pointers handed out stay valid while it lives.
  std::vector<std::shared_ptr<const lw::rt::ModelInfo>> history;
};

namespace lw::acl {

// What an aclrtContext points to.
struct Context {
  int32_t device = 0;
  bool is_default = false;  // made by aclrtSetDevice; freed by aclrtResetDevice
  uint64_t serial = 0;      // unique per process, so a reused address is not mistaken for it
};

HandleRegistry<aclDataBuffer>& data_buffers();
HandleRegistry<aclTensorDesc>& tensor_descs();
HandleRegistry<aclmdlDataset>& datasets();
HandleRegistry<aclmdlDesc>& model_descs();
HandleRegistry<Context>& contexts();

// Registers a new dataset-owned deep copy of `src` and returns its handle.
aclTensorDesc* new_owned_desc_copy(const aclTensorDesc& src);
// Unregisters (and so frees) a dataset-owned description; null is ignored.
void release_owned_desc(aclTensorDesc* desc);

}  // namespace lw::acl
