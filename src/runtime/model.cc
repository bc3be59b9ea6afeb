#include "runtime/model.h"

#include <mutex>
#include <set>
#include <shared_mutex>

#include "backends/cpu/kernel.h"
#include "backends/cuda/device.h"
#include "compiler/constant_folding.h"
#include "core/thread_scratch.h"
#include "graph/op_registry.h"

namespace lw::rt {

namespace {
constexpr size_t kMaxCachedPlans = 16;
// CANN reports an input of unknown rank as the single dim -2.
constexpr int64_t kUnknownRankDim = -2;

bool has_zero_dim(const Dims& dims) {
  for (int64_t d : dims)
    if (d == 0) return true;
  return false;
}

TensorInfo tensor_info(const ir::Value& v) {
  TensorInfo t;
  t.name = v.name;
  t.dtype = v.dtype;
  t.dims = v.shape.rank_known() ? v.shape.dims() : Dims{kUnknownRankDim};
  t.format = Format::kND;
  if (v.shape.is_static()) {
    auto bytes = byte_size(v.dtype, v.shape.dims());
    t.bytes = bytes.is_ok() ? *bytes : 0;
  }
  return t;
}

// A graph holding only copies of `g`'s input and output values (in that order, without their
// producers) and its name: what a model validates executions against.
ir::Graph io_values(const ir::Graph& g) {
  ir::Graph io;
  io.name = g.name;
  auto keep = [&](ir::ValueId v, std::vector<ir::ValueId>* list) {
    list->push_back(static_cast<ir::ValueId>(io.values.size()));
    io.values.push_back(g.value(v));
    io.values.back().producer = -1;
  };
  for (ir::ValueId v : g.inputs) keep(v, &io.inputs);
  for (ir::ValueId v : g.outputs) keep(v, &io.outputs);
  return io;
}
}  // namespace

Result<std::shared_ptr<Model>> Model::create(uint32_t id, uint32_t bundle_id, ir::GraphEntry entry,
                                             std::shared_ptr<VariableStore> store, const DeviceOptions& device,
                                             MappedRange mapped) {
  std::shared_ptr<Model> m(new Model());
  m->id_ = id;
  m->bundle_id_ = bundle_id;
  m->device_ = device;
  m->mapped_ = mapped;
  m->graph_ = std::move(entry.graph);
  m->store_ = std::move(store);
  ir::Graph& g = m->graph_;
  LW_RETURN_IF_ERROR(ir::infer_graph_types(g));

  std::set<std::string> missing;
  for (const ir::Node& n : g.nodes) {
    if (n.op == ir::kOpData || n.op == ir::kOpConst || n.op == ir::kOpVariable || n.op == ir::kOpAssign) continue;
    // The CUDA plan runs an op it has no kernel for on the CPU kernel, so both need one.
    if (!cpu::find_cpu_kernel(n.op)) missing.insert(n.op);
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& op : missing) list += (list.empty() ? "" : ", ") + op;
    return make_error(StatusCode::kOpNotFound, "graph '", g.name, "': the CPU backend has no kernel for: ", list);
  }

  auto info = std::make_shared<ModelInfo>();
  info->name = g.name;
  info->role = entry.role;
  for (ir::ValueId v : g.inputs) info->inputs.push_back(tensor_info(g.value(v)));
  for (ir::ValueId v : g.outputs) info->outputs.push_back(tensor_info(g.value(v)));
  m->info_ = info;

  m->input_assign_slot_.assign(g.inputs.size(), -1);
  m->input_assign_skippable_.assign(g.inputs.size(), false);
  auto consumers = g.consumers();
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    for (auto [node, slot] : consumers[static_cast<size_t>(g.inputs[i])]) {
      const ir::Node& n = g.nodes[static_cast<size_t>(node)];
      if (n.op != ir::kOpAssign || slot != 1) continue;
      m->input_assign_slot_[i] = m->store_->find(g.value(n.inputs[0]).name);
      m->input_assign_skippable_[i] = n.attr_int("skip_if_empty", 0) != 0;
    }
  }

  bool all_static = true;
  std::vector<Dims> dims;
  for (ir::ValueId v : g.inputs) {
    all_static = all_static && g.value(v).shape.is_static();
    dims.push_back(g.value(v).shape.dims());
  }
  if (all_static) {
    // The only plan a static graph ever needs (its inputs must have the declared dims): made
    // from the graph itself instead of a copy (3,000 of MobileNet v2's 18,500 allocations per
    // load, and the copy's destruction at unload), after which the model keeps only the values
    // of its inputs and outputs.
    ir::Graph io = io_values(g);
    auto plan = m->make_plan(std::move(m->graph_), dims);
    if (!plan.is_ok()) return plan.status();
    m->graph_ = std::move(io);
  }
  return m;
}

Status Model::input_dims(const std::vector<IoTensor>& inputs, std::vector<Dims>* out) const {
  std::vector<Dims>& dims = *out;
  dims.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ir::Value& v = graph_.value(graph_.inputs[i]);
    const IoTensor& io = inputs[i];
    auto fail = [&](const auto&... parts) {
      return make_error(StatusCode::kInputMismatch, "input ", i, " '", v.name, "': ", parts...);
    };
    if (!io.data) return make_error(StatusCode::kInvalidArgument, "input ", i, " '", v.name, "': the data buffer is NULL");
    int32_t slot = input_assign_slot_[i];
    const VariableSlot* var = slot >= 0 ? &store_->slots()[static_cast<size_t>(slot)] : nullptr;

    if (io.has_dims) {
      dims[i] = io.dims;
      for (int64_t d : io.dims)
        if (d < 0) return fail("tensor desc dims ", dims_to_string(io.dims), " are negative");
    } else if (v.shape.is_static()) {
      dims[i] = v.shape.dims();
    } else if (var) {
      // No desc on an update input: the buffer must hold exactly the weight's bytes.
      if (io.size != var->bytes)
        return fail("has no tensor desc and its buffer holds ", io.size, " bytes, but Variable '", var->name, "' needs ",
                    var->bytes, " (set a tensor desc: its dims to refresh, dims [0] to skip)");
      dims[i] = var->dims;
    } else {
      return fail("has dynamic dims ", v.shape.to_string(), "; set its tensor desc with the real dims");
    }

    if (var && input_assign_skippable_[i] && has_zero_dim(dims[i])) {
      if (io.size == 0) return fail("an empty (skipped) update input still needs a valid buffer of at least 1 byte");
      continue;
    }
    if (var && dims[i] != var->dims)
      return fail("dims ", dims_to_string(dims[i]), " do not match Variable '", var->name, "' ", dims_to_string(var->dims),
                  " (use dims [0] to skip it)");
    if (v.shape.rank_known()) {
      const Dims& declared = v.shape.dims();
      bool ok = declared.size() == dims[i].size();
      for (size_t d = 0; ok && d < declared.size(); ++d) ok = declared[d] < 0 || declared[d] == dims[i][d];
      if (!ok) return fail("dims ", dims_to_string(dims[i]), " do not match the model's ", v.shape.to_string());
    }
    LW_ASSIGN_OR_RETURN(uint64_t bytes, byte_size(v.dtype, dims[i]));
    if (io.size < bytes)
      return fail("buffer holds ", io.size, " bytes but ", dtype_name(v.dtype), " ", dims_to_string(dims[i]), " needs ", bytes);
  }
  return Status::ok();
}

Result<std::shared_ptr<const ExecutionPlan>> Model::plan_for(const std::vector<Dims>& dims) {
  {
    std::lock_guard<std::mutex> lock(plans_mu_);
    auto it = plans_.find(dims);
    if (it != plans_.end()) return it->second;
  }
  return make_plan(graph_, dims);
}

Result<std::shared_ptr<const ExecutionPlan>> Model::make_plan(ir::Graph g, const std::vector<Dims>& dims) {
  // graph_'s types were inferred from the declared input shapes (Model::create); when those are
  // the dims asked for (a static graph's only plan), inferring again would give the same.
  bool declared = true;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const Shape& shape = g.value(g.inputs[i]).shape;
    declared = declared && shape.is_static() && shape.dims() == dims[i];
  }
  if (!declared) {
    for (size_t i = 0; i < g.inputs.size(); ++i) g.value(g.inputs[i]).shape = Shape(dims[i]);
    // Re-infer from the concrete input dims: forget everything inferred from the declared ones.
    for (ir::Value& v : g.values) {
      int32_t p = v.producer;
      // A value no node produces (and none reads: the verifier refuses that) has nothing to
      // re-infer; a crafted file can hold one (found by the bundle_reader fuzzer).
      if (p < 0 || static_cast<size_t>(p) >= g.nodes.size()) continue;
      const std::string& op = g.nodes[static_cast<size_t>(p)].op;
      if (op != ir::kOpData && op != ir::kOpConst && op != ir::kOpVariable) {
        v.shape = Shape::unknown_rank();
        v.dtype = DType::kUndefined;
      }
    }
    LW_RETURN_IF_ERROR(ir::infer_graph_types(g));
  }
  // With concrete input dims, shape arithmetic (Shape -> ... -> Reshape) becomes constant.
  LW_RETURN_IF_ERROR(compiler::fold_constants(g).status());
  std::unique_ptr<ExecutionPlan> plan;
  if (device_.cuda) {
    LW_ASSIGN_OR_RETURN(plan, cuda::create_plan(std::move(g), *store_, device_));
  } else {
    LW_ASSIGN_OR_RETURN(plan, Plan::create(std::move(g), *store_, device_.num_threads, mapped_));
  }
  std::shared_ptr<const ExecutionPlan> shared(std::move(plan));
  std::lock_guard<std::mutex> lock(plans_mu_);
  auto [it, inserted] = plans_.emplace(dims, shared);
  if (inserted) {
    plan_order_.push_back(dims);
    if (plans_.size() > kMaxCachedPlans) {
      plans_.erase(plan_order_.front());
      plan_order_.pop_front();
    }
  }
  return it->second;
}

Result<std::vector<Dims>> Model::output_dims(const std::vector<IoTensor>& inputs) {
  if (inputs.size() != graph_.inputs.size())
    return make_error(StatusCode::kInputMismatch, "model ", id_, " ('", graph_.name, "') has ", graph_.inputs.size(),
                      " inputs, got ", inputs.size());
  std::vector<Dims> dims;
  LW_RETURN_IF_ERROR(input_dims(inputs, &dims));
  LW_ASSIGN_OR_RETURN(std::shared_ptr<const ExecutionPlan> plan, plan_for(dims));
  return plan->output_dims();
}

namespace {
struct ExecuteScratch {
  std::vector<Dims> dims;
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;
};
}  // namespace

Status Model::execute(const std::vector<IoTensor>& inputs, const std::vector<IoTensor>& outputs,
                      std::vector<Dims>* out_dims, uint64_t* weight_version) {
  if (inputs.size() != graph_.inputs.size())
    return make_error(StatusCode::kInputMismatch, "model ", id_, " ('", graph_.name, "') has ", graph_.inputs.size(),
                      " inputs but the input dataset holds ", inputs.size(), " buffers");
  if (outputs.size() != graph_.outputs.size())
    return make_error(StatusCode::kOutputMismatch, "model ", id_, " ('", graph_.name, "') has ", graph_.outputs.size(),
                      " outputs but the output dataset holds ", outputs.size(), " buffers");
  // The dims and pointer lists live in per-thread scratch: with static shapes a call then
  // allocates nothing here (the plan itself allocates nothing per run).
  auto scratch = ThreadScratch<ExecuteScratch>::borrow();
  std::vector<Dims>& dims = scratch->dims;
  LW_RETURN_IF_ERROR(input_dims(inputs, &dims));
  LW_ASSIGN_OR_RETURN(std::shared_ptr<const ExecutionPlan> plan, plan_for(dims));
  for (size_t k = 0; k < outputs.size(); ++k) {
    uint64_t need = plan->output_bytes()[k];
    if (outputs[k].size < need || (need > 0 && !outputs[k].data))
      return make_error(StatusCode::kOutputMismatch, "output ", k, " '", graph_.value(graph_.outputs[k]).name, "' needs ",
                        need, " bytes for dims ", dims_to_string(plan->output_dims()[k]), " but its buffer ",
                        outputs[k].data ? str_cat("holds ", outputs[k].size) : std::string("is NULL"));
  }
  std::vector<const void*>& in_ptrs = scratch->in_ptrs;
  in_ptrs.clear();
  for (const IoTensor& io : inputs) in_ptrs.push_back(io.data);
  std::vector<void*>& out_ptrs = scratch->out_ptrs;
  out_ptrs.clear();
  for (const IoTensor& io : outputs) out_ptrs.push_back(io.data);

  const bool in_place = store_->options().in_place;
  if (plan->writes_variables()) {
    // The update holds the writer lock; its base is the snapshot current now. Nothing is
    // published unless the whole graph ran. In-place, it also waits for running executions and
    // holds new ones back while it writes the live buffers (every input was validated above).
    std::unique_ptr<VariableStore::Update> update = store_->begin_update();
    std::unique_lock<UpdateGate> gate(store_->gate(), std::defer_lock);
    if (in_place) gate.lock();
    LW_RETURN_IF_ERROR(plan->run(update->base(), in_ptrs, out_ptrs, update.get()));
    // Read before commit releases the writer lock: a later update may publish right after.
    const uint64_t published = update->empty() ? update->base().version : update->base().version + 1;
    store_->commit(std::move(update));
    if (weight_version) *weight_version = published;
  } else {
    std::shared_lock<UpdateGate> gate(store_->gate(), std::defer_lock);
    if (in_place) gate.lock();
    std::shared_ptr<const WeightSnapshot> pinned = store_->current();
    LW_RETURN_IF_ERROR(plan->run(*pinned, in_ptrs, out_ptrs, nullptr));
    if (weight_version) *weight_version = pinned->version;
  }
  if (out_dims) *out_dims = plan->output_dims();
  return Status::ok();
}

}  // namespace lw::rt
