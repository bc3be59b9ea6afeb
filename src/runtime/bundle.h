// Bundle: the graphs of one bundle file, prepared as Models that share one VariableStore.
// Lifetime: created by Runtime on load, released when unloaded and no execution still holds it.
#pragma once

#include <memory>
#include <vector>

#include "core/blob.h"
#include "graph/bundle_model.h"
#include "runtime/model.h"
#include "runtime/variable_store.h"

namespace lw::rt {

class Bundle {
 public:
  // `file` is the bundle's bytes (mapped or copied): Const data points into it. `next_id`
  // hands out model ids.
  // `file_mapped`: `file` maps a file read-only, so init may drop the pages of the weights it
  // has copied (they are read again from the file if init runs again).
  static Result<std::shared_ptr<Bundle>> create(uint32_t id, ir::BundleModel model, Blob file, const DeviceOptions& device,
                                                uint32_t (*next_id)(), bool file_mapped = false,
                                                StoreOptions store_options = {});

  uint32_t id() const { return id_; }
  const std::vector<std::shared_ptr<Model>>& models() const { return models_; }
  const std::shared_ptr<VariableStore>& store() const { return store_; }
  const std::vector<ir::VariableDesc>& variables() const { return variables_; }

 private:
  Bundle() = default;
  uint32_t id_ = 0;
  Blob file_;
  std::vector<ir::VariableDesc> variables_;
  std::shared_ptr<VariableStore> store_;
  std::vector<std::shared_ptr<Model>> models_;
};

// Slots for the Variables a model describes, in its order.
Result<std::vector<VariableSlot>> variable_slots(const std::vector<ir::VariableDesc>& variables);

}  // namespace lw::rt
