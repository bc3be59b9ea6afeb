// Bundle::save: a copy of the bundle file whose weight-init graph holds the current weights.
#include <cstring>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "backends/cuda/device.h"
#include "format/bundle_io.h"
#include "graph/op_registry.h"
#include "runtime/bundle.h"

namespace lw::rt {

namespace {

// 64-byte-aligned bytes owned by a Blob; `bytes` is where to write them.
struct OwnedBytes {
  Blob blob;
  uint8_t* bytes = nullptr;
};

Result<OwnedBytes> allocate_blob(uint64_t size, const std::string& what) {
  void* p = alloc_aligned(static_cast<size_t>(size));
  if (!p) return make_error(StatusCode::kOutOfMemory, "cannot allocate ", size, " bytes to save ", what);
  OwnedBytes out;
  out.bytes = static_cast<uint8_t*>(p);
  out.blob.owner = std::shared_ptr<const void>(p, [](const void* q) { free_aligned(const_cast<void*>(q)); });
  out.blob.data = out.bytes;
  out.blob.size = static_cast<size_t>(size);
  return out;
}

// A value name not in `used` (which it joins): `want`, else `want`_1, _2, ...
std::string unique_name(std::set<std::string>& used, const std::string& want) {
  std::string name = want;
  for (int i = 1; !used.insert(name).second; ++i) name = str_cat(want, "_", i);
  return name;
}

}  // namespace

Status Bundle::save(const std::string& path) const {
  const std::string context = str_cat("cannot save bundle ", id_, " to '", path, "': ");
  // The graphs as the file holds them (Const data are slices of file_, nothing is copied): the
  // Models keep theirs as prepared for execution, not as written.
  auto read = format::read_bundle(file_);
  if (!read.is_ok()) return read.status().with_context(context);
  ir::BundleModel model = std::move(read).value();
  if (!model.is_bundle)
    return make_error(StatusCode::kInvalidArgument, context,
                      "a plain model has no weight-init graph to hold its weights");

  // One snapshot for every Variable: a concurrent copy-on-write update publishes a new one and
  // leaves this one's buffers alone. In-place, the gate (shared, as an inference takes it) keeps
  // updates from writing the live buffers until the copies below are done.
  const VariableStore& store = *store_;
  std::shared_lock<UpdateGate> gate(store_->gate(), std::defer_lock);
  if (store.options().in_place) gate.lock();
  std::shared_ptr<const WeightSnapshot> snapshot = store.current();

  std::vector<int32_t> slots;
  std::string unwritten;
  size_t unwritten_count = 0;
  for (const ir::VariableDesc& v : model.variables) {
    int32_t slot = store.find(v.name);
    if (slot < 0 || static_cast<size_t>(slot) >= snapshot->buffers.size())
      return make_error(StatusCode::kInternal, context, "Variable '", v.name, "' has no weight slot");
    if (!snapshot->buffers[static_cast<size_t>(slot)]) {
      unwritten += str_cat(unwritten.empty() ? "" : ", ", "'", v.name, "'");
      ++unwritten_count;
    }
    slots.push_back(slot);
  }
  if (unwritten_count > 0)
    return make_error(StatusCode::kInvalidArgument, context, unwritten_count == 1 ? "Variable " : "Variables ",
                      unwritten, unwritten_count == 1 ? " has" : " have",
                      " never been written (run the weight-init graph or update ",
                      unwritten_count == 1 ? "it" : "them", " first)");

  const bool on_device = store.options().memory == WeightMemory::kCudaDevice;
  if (on_device) LW_RETURN_IF_ERROR(cuda::set_device(device_.cuda_device).with_context(context));
  std::vector<Blob> values;
  values.reserve(model.variables.size());
  for (size_t i = 0; i < model.variables.size(); ++i) {
    const ir::VariableDesc& v = model.variables[i];
    const VariableSlot& slot = store.slots()[static_cast<size_t>(slots[i])];
    const WeightBuffer& buffer = *snapshot->buffers[static_cast<size_t>(slots[i])];
    // Fixed before the slot was first written and never changed since: the buffer's layout.
    std::shared_ptr<const cpu::PackedLayout> layout = store.layout(slots[i]);
    const std::string what = str_cat("Variable '", v.name, "'");
    const uint64_t stored = layout ? layout->bytes : slot.bytes;
    if (buffer.size() < stored)
      return make_error(StatusCode::kInternal, context, what, " holds ", buffer.size(), " bytes, its layout needs ",
                        stored);
    LW_ASSIGN_OR_RETURN(OwnedBytes plain, allocate_blob(slot.bytes, what));
    if (on_device) {
      // The CUDA backend keeps weights plain in device memory.
      if (layout)
        return make_error(StatusCode::kInternal, context, what, " is held in a packed layout in device memory");
      LW_RETURN_IF_ERROR(cuda::copy(plain.bytes, buffer.data(), static_cast<size_t>(slot.bytes))
                             .with_context(str_cat(context, "copying ", what, " from the device: ")));
    } else if (layout) {
      if (!layout->unpack)
        return make_error(StatusCode::kInternal, context, what, " is held in layout ", layout->key,
                          ", which cannot be converted back to the plain layout");
      LW_RETURN_IF_ERROR(layout->unpack(buffer.data(), plain.bytes).with_context(str_cat(context, what, ": ")));
    } else if (slot.bytes > 0) {
      std::memcpy(plain.bytes, buffer.data(), static_cast<size_t>(slot.bytes));
    }
    values.push_back(std::move(plain.blob));
  }
  const uint64_t version = snapshot->version;
  if (gate.owns_lock()) gate.unlock();
  snapshot.reset();  // the copies are made: the buffers may go back to the pool

  // The new init graph, as the refreshable conversion builds one: per Variable
  // Const(current value) -> Variable -> Assign; no inputs, no outputs.
  size_t infer_index = model.graphs.size();
  std::string init_name;
  for (size_t g = 0; g < model.graphs.size(); ++g) {
    if (model.graphs[g].role == ir::GraphRole::kInference && infer_index == model.graphs.size()) infer_index = g;
    if (model.graphs[g].role == ir::GraphRole::kWeightInit && init_name.empty()) init_name = model.graphs[g].graph.name;
  }
  if (init_name.empty())
    init_name = (infer_index < model.graphs.size() ? model.graphs[infer_index].graph.name : std::string("bundle")) +
                "_init";
  ir::Graph init;
  init.name = init_name;
  std::set<std::string> used;
  for (const ir::VariableDesc& v : model.variables) used.insert(v.name);
  for (size_t i = 0; i < model.variables.size(); ++i) {
    const ir::VariableDesc& v = model.variables[i];
    ir::TensorData data;
    data.dtype = v.dtype;
    data.dims = v.dims;
    data.bytes = values[i];
    ir::ValueId c = init.add_const(unique_name(used, v.source.empty() ? v.name + "_saved" : v.source), std::move(data));
    ir::ValueId var = init.add_variable(v.name, v.dtype, v.dims);
    if (!v.source.empty()) init.nodes.back().attrs["source"] = v.source;
    init.add_assign(var, c, false, v.name + "_init_assign");
  }
  LW_RETURN_IF_ERROR(init.verify().with_context(context + "the new weight-init graph: "));
  LW_RETURN_IF_ERROR(ir::infer_graph_types(init).with_context(context + "the new weight-init graph: "));

  bool replaced = false;
  for (ir::GraphEntry& entry : model.graphs) {
    if (entry.role != ir::GraphRole::kWeightInit) continue;
    std::string name = entry.graph.name;
    entry.graph = init;
    entry.graph.name = std::move(name);
    replaced = true;
  }
  if (!replaced) {
    size_t at = infer_index < model.graphs.size() ? infer_index + 1 : model.graphs.size();
    model.graphs.insert(model.graphs.begin() + static_cast<std::ptrdiff_t>(at),
                        ir::GraphEntry{ir::GraphRole::kWeightInit, std::move(init)});
  }
  model.weights_version = version;
  return format::write_bundle_file(model, path);
}

}  // namespace lw::rt
