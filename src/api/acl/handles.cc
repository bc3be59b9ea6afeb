#include "api/acl/handles.h"

namespace lw::acl {

// Function-local statics: constructed on first use, so C API calls made from other static
// initializers still find them.
HandleRegistry<aclDataBuffer>& data_buffers() {
  static HandleRegistry<aclDataBuffer> registry;
  return registry;
}

HandleRegistry<aclTensorDesc>& tensor_descs() {
  static HandleRegistry<aclTensorDesc> registry;
  return registry;
}

HandleRegistry<aclmdlDataset>& datasets() {
  static HandleRegistry<aclmdlDataset> registry;
  return registry;
}

HandleRegistry<aclmdlDesc>& model_descs() {
  static HandleRegistry<aclmdlDesc> registry;
  return registry;
}

HandleRegistry<Context>& contexts() {
  static HandleRegistry<Context> registry;
  return registry;
}

aclTensorDesc* new_owned_desc_copy(const aclTensorDesc& src) {
  auto copy = std::make_shared<aclTensorDesc>(src);
  copy->owned_by_dataset = true;
  return tensor_descs().add(std::move(copy));
}

void release_owned_desc(aclTensorDesc* desc) {
  if (desc != nullptr) tensor_descs().remove(desc);
}

}  // namespace lw::acl
