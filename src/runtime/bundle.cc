#include "runtime/bundle.h"

namespace lw::rt {

Result<std::vector<VariableSlot>> variable_slots(const std::vector<ir::VariableDesc>& variables) {
  std::vector<VariableSlot> slots;
  for (const auto& v : variables) {
    LW_ASSIGN_OR_RETURN(uint64_t bytes, byte_size(v.dtype, v.dims));
    slots.push_back({v.name, v.dtype, v.dims, bytes});
  }
  return slots;
}

Result<std::shared_ptr<Bundle>> Bundle::create(uint32_t id, ir::BundleModel model, Blob file, const DeviceOptions& device,
                                               uint32_t (*next_id)(), bool file_mapped,
                                               StoreOptions store_options) {
  LW_RETURN_IF_ERROR(ir::verify_bundle_model(model));
  std::shared_ptr<Bundle> b(new Bundle());
  b->id_ = id;
  b->file_ = std::move(file);
  b->device_ = device;
  b->variables_ = model.variables;
  LW_ASSIGN_OR_RETURN(std::vector<VariableSlot> slots, variable_slots(model.variables));
  b->store_ = std::make_shared<VariableStore>(std::move(slots), store_options);
  for (size_t i = 0; i < model.graphs.size(); ++i) {
    auto m = Model::create(next_id(), model.is_bundle ? id : 0, std::move(model.graphs[i]), b->store_, device,
                           file_mapped ? MappedRange{b->file_.data, b->file_.size} : MappedRange{});
    if (!m.is_ok()) return m.status().with_context(str_cat("graph ", i, ": "));
    b->models_.push_back(std::move(m).value());
  }
  return b;
}

}  // namespace lw::rt
