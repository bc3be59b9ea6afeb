#include "runtime/bundle.h"

#include <map>
#include <string>

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
  // Not verified again here: read_bundle did, and it was a tenth of a ms of MobileNet v2's load.
  std::shared_ptr<Bundle> b(new Bundle());
  b->id_ = id;
  b->file_ = std::move(file);
  b->device_ = device;
  LW_ASSIGN_OR_RETURN(std::vector<VariableSlot> slots, variable_slots(model.variables));
  b->variables_ = std::move(model.variables);  // moved: a copy was 2.5% of MobileNet v2's load allocations
  b->store_ = std::make_shared<VariableStore>(std::move(slots), store_options);
  // A Plan may hold a weight read by one node only in that node's preferred (packed) layout.
  // Count the reads over every graph first: a Variable read by two nodes, in one graph or in
  // two (an update graph computing W + delta reads the W a Gemm packs), stays plain for all.
  std::map<std::string, int> reads;
  for (const ir::GraphEntry& e : model.graphs) {
    const ir::Graph& g = e.graph;
    for (const ir::Node& n : g.nodes)
      for (size_t s = 0; s < n.inputs.size(); ++s) {
        if (n.inputs[s] == ir::kNoValue || (n.op == ir::kOpAssign && s == 0)) continue;
        const ir::Value& v = g.value(n.inputs[s]);
        if (v.producer >= 0 && g.nodes[static_cast<size_t>(v.producer)].op == ir::kOpVariable) ++reads[v.name];
      }
  }
  for (const auto& [name, count] : reads) {
    int32_t slot = b->store_->find(name);
    if (count > 1 && slot >= 0) b->store_->fix_layout(slot, nullptr);
  }
  for (size_t i = 0; i < model.graphs.size(); ++i) {
    auto m = Model::create(next_id(), model.is_bundle ? id : 0, std::move(model.graphs[i]), b->store_, device,
                           file_mapped ? MappedRange{b->file_.data, b->file_.size} : MappedRange{});
    if (!m.is_ok()) return m.status().with_context(str_cat("graph ", i, ": "));
    b->models_.push_back(std::move(m).value());
  }
  return b;
}

}  // namespace lw::rt
