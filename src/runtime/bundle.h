// Bundle: the graphs of one bundle file, prepared as Models that share one VariableStore.
// Lifetime: created by Runtime on load, released when unloaded and no execution still holds it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/blob.h"
#include "graph/bundle_model.h"
#include "runtime/model.h"
#include "runtime/variable_store.h"

namespace lw::rt {

class Bundle {
 public:
  // `model` must have passed ir::verify_bundle_model (format::read_bundle checks it). `file`
  // is the bundle's bytes (mapped or copied): Const data points into it. `next_id` hands out
  // model ids.
  // `file_mapped`: `file` maps a file read-only, so init may drop the pages of the weights it
  // has copied (they are read again from the file if init runs again).
  static Result<std::shared_ptr<Bundle>> create(uint32_t id, ir::BundleModel model, Blob file, const DeviceOptions& device,
                                                uint32_t (*next_id)(), bool file_mapped = false,
                                                StoreOptions store_options = {});

  uint32_t id() const { return id_; }
  const std::vector<std::shared_ptr<Model>>& models() const { return models_; }
  const std::shared_ptr<VariableStore>& store() const { return store_; }
  const std::vector<ir::VariableDesc>& variables() const { return variables_; }

  // Writes a copy of this bundle's file to `path` whose weight-init graph holds the current
  // weights (Session::save): the file's graphs are re-read from its own bytes, the init graph
  // (role kWeightInit; every one, if several) is replaced by Const -> Variable -> Assign per
  // Variable holding its current value in the plain row-major layout, or inserted right after
  // the inference graph when the bundle has none; weights_version is the version saved.
  // One snapshot is read (shared with the gate in in-place mode), so the file holds exactly one
  // version even while updates run. kInvalidArgument naming the Variables never written;
  // the writer's kWriteFile naming `path`. Thread-safe.
  Status save(const std::string& path) const;

 private:
  Bundle() = default;
  uint32_t id_ = 0;
  Blob file_;
  DeviceOptions device_;
  std::vector<ir::VariableDesc> variables_;
  std::shared_ptr<VariableStore> store_;
  std::vector<std::shared_ptr<Model>> models_;
};

// Slots for the Variables a model describes, in its order.
Result<std::vector<VariableSlot>> variable_slots(const std::vector<ir::VariableDesc>& variables);

}  // namespace lw::rt
