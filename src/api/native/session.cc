#include "liveweight/session.h"

#include <cstring>

#include "core/blob.h"
#include "core/name_index.h"
#include "core/thread_scratch.h"
#include "runtime/bundle.h"
#include "runtime/runtime.h"

namespace lw {

namespace {
Status ensure_runtime() {
  rt::Runtime& runtime = rt::Runtime::instance();
  if (runtime.initialized()) return Status::ok();
  Status st = runtime.init(nullptr);
  // Another thread may have initialized it meanwhile; that is fine.
  if (!st.is_ok() && st.code() != StatusCode::kAlreadyInitialized) return st;
  return Status::ok();
}

TensorSpec spec_of(const rt::TensorInfo& t) { return {t.name, t.dtype, t.dims}; }
}  // namespace

Result<std::unique_ptr<Session>> Session::open(const std::string& path) {
  LW_RETURN_IF_ERROR(ensure_runtime());
  return attach(rt::Runtime::instance().load_bundle_from_file(path));
}

Result<std::unique_ptr<Session>> Session::open_bytes(const void* data, size_t size) {
  LW_RETURN_IF_ERROR(ensure_runtime());
  return attach(rt::Runtime::instance().load_bundle_from_memory(data, size));
}

Result<std::unique_ptr<Session>> Session::open(const std::string& path, const SessionOptions& options) {
  LW_RETURN_IF_ERROR(ensure_runtime());
  rt::BundleOptions o{options.in_place_updates, options.keep_versions};
  return attach(rt::Runtime::instance().load_bundle_from_file(path, &o));
}

Result<std::unique_ptr<Session>> Session::open_bytes(const void* data, size_t size, const SessionOptions& options) {
  LW_RETURN_IF_ERROR(ensure_runtime());
  rt::BundleOptions o{options.in_place_updates, options.keep_versions};
  return attach(rt::Runtime::instance().load_bundle_from_memory(data, size, &o));
}

Result<std::unique_ptr<Session>> Session::attach(Result<uint32_t> bundle_id) {
  if (!bundle_id.is_ok()) return bundle_id.status();
  std::unique_ptr<Session> s(new Session());
  s->bundle_id_ = *bundle_id;
  s->open_ = true;
  rt::Runtime& runtime = rt::Runtime::instance();
  LW_ASSIGN_OR_RETURN(std::shared_ptr<rt::Bundle> bundle, runtime.bundle(s->bundle_id_));
  bool has_infer = false, has_update = false;
  for (const auto& m : bundle->models()) {
    std::shared_ptr<const rt::ModelInfo> info = m->info();
    if (info->role == rt::GraphRole::kInference && !has_infer) {
      has_infer = true;
      s->infer_id_ = m->id();
      for (const auto& t : info->inputs) s->inputs_.push_back(spec_of(t));
      for (const auto& t : info->outputs) s->outputs_.push_back(spec_of(t));
    } else if (info->role == rt::GraphRole::kWeightInit && !s->has_init_) {
      s->has_init_ = true;
      s->init_id_ = m->id();
    } else if (info->role == rt::GraphRole::kWeightUpdate && !has_update) {
      has_update = true;
      s->update_id_ = m->id();
      s->update_inputs_.assign(info->inputs.size(), "");
    }
  }
  if (!has_infer || !has_update) {
    (void)s->close();
    return make_error(StatusCode::kInvalidArgument, "the bundle has no ", has_infer ? "weight-update" : "inference",
                      " graph, so it cannot be used as a session");
  }
  for (const auto& v : bundle->variables()) {
    auto bytes = byte_size(v.dtype, v.dims);
    s->weights_.push_back({v.name, v.source, v.dtype, v.dims, bytes.is_ok() ? *bytes : 0, v.update_input});
    if (v.update_input >= 0 && static_cast<size_t>(v.update_input) < s->update_inputs_.size())
      s->update_inputs_[static_cast<size_t>(v.update_input)] = v.name;
  }
  // Indexed once weights_ is complete: the index holds views of its strings.
  s->weight_index_ = std::make_unique<NameIndex>(2 * s->weights_.size());
  for (size_t i = 0; i < s->weights_.size(); ++i) s->weight_index_->insert(s->weights_[i].name, static_cast<int32_t>(i));
  for (size_t i = 0; i < s->weights_.size(); ++i)
    if (!s->weights_[i].source.empty()) s->weight_index_->insert(s->weights_[i].source, static_cast<int32_t>(i));
  return s;
}

Session::~Session() { (void)close(); }

Status Session::check_open() const {
  if (!open_) return make_error(StatusCode::kInvalidBundleId, "the session is closed");
  return Status::ok();
}

Status Session::close() {
  if (!open_) return Status::ok();
  open_ = false;
  Status st = rt::Runtime::instance().unload_bundle(bundle_id_);
  // Finalize may have unloaded it already; the session is closed either way.
  if (!st.is_ok() && st.code() != StatusCode::kInvalidBundleId && st.code() != StatusCode::kNotInitialized) return st;
  return Status::ok();
}

Status Session::init() {
  LW_RETURN_IF_ERROR(check_open());
  if (!has_init_) return make_error(StatusCode::kFeatureUnsupported, "the bundle was built without a weight-init graph");
  return rt::Runtime::instance().execute(init_id_, {}, {}, nullptr);
}

uint64_t Session::version() const {
  if (!open_) return 0;
  auto bundle = rt::Runtime::instance().bundle(bundle_id_);
  return bundle.is_ok() ? (*bundle)->store()->version() : 0;
}

std::vector<uint64_t> Session::kept_versions() const {
  if (!open_) return {};
  auto bundle = rt::Runtime::instance().bundle(bundle_id_);
  return bundle.is_ok() ? (*bundle)->store()->kept_versions() : std::vector<uint64_t>{};
}

Status Session::save(const std::string& path) const {
  LW_RETURN_IF_ERROR(check_open());
  LW_ASSIGN_OR_RETURN(std::shared_ptr<rt::Bundle> bundle, rt::Runtime::instance().bundle(bundle_id_));
  return bundle->save(path);
}

Result<uint64_t> Session::rollback(uint64_t version) {
  LW_RETURN_IF_ERROR(check_open());
  LW_ASSIGN_OR_RETURN(std::shared_ptr<rt::Bundle> bundle, rt::Runtime::instance().bundle(bundle_id_));
  return bundle->store()->rollback(version);
}

Result<uint64_t> Session::rollback() {
  LW_RETURN_IF_ERROR(check_open());
  std::vector<uint64_t> kept = kept_versions();
  if (kept.empty())
    return make_error(StatusCode::kInvalidArgument, "nothing to roll back to: no earlier version is kept (version ",
                      version(), ", keep_versions option ", "unset or nothing updated yet)");
  return rollback(kept.front());
}

Result<std::vector<Array>> Session::infer(const std::vector<ArrayView>& inputs, uint64_t* weight_version) {
  LW_RETURN_IF_ERROR(check_open());
  if (inputs.size() != inputs_.size())
    return make_error(StatusCode::kInputMismatch, "the model has ", inputs_.size(), " inputs, got ", inputs.size());
  std::vector<rt::IoTensor> io_in;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].dtype != inputs_[i].dtype)
      return make_error(StatusCode::kInputMismatch, "input ", i, " '", inputs_[i].name, "' must be ",
                        dtype_name(inputs_[i].dtype), ", got ", dtype_name(inputs[i].dtype));
    rt::IoTensor t;
    t.data = const_cast<void*>(inputs[i].data);
    t.size = inputs[i].bytes;
    t.has_dims = true;
    t.dims = inputs[i].dims;
    io_in.push_back(std::move(t));
  }
  // Output dims follow the input dims: ask the runtime for them (it prepares the plan for these
  // dims, which the execution below then reuses).
  LW_ASSIGN_OR_RETURN(std::vector<Dims> dims, rt::Runtime::instance().output_dims(infer_id_, io_in));
  std::vector<Array> outputs(outputs_.size());
  std::vector<rt::IoTensor> io_out(outputs_.size());
  for (size_t k = 0; k < outputs_.size(); ++k) {
    LW_ASSIGN_OR_RETURN(uint64_t bytes, byte_size(outputs_[k].dtype, dims[k]));
    std::shared_ptr<uint8_t> block(static_cast<uint8_t*>(alloc_aligned(bytes)), AlignedDeleter{});
    if (!block) return make_error(StatusCode::kOutOfMemory, "cannot allocate ", bytes, " bytes for output ", k);
    outputs[k] = {outputs_[k].dtype, dims[k], block, bytes};
    io_out[k].data = block.get();
    io_out[k].size = bytes;
  }
  std::vector<Dims> out_dims;
  LW_RETURN_IF_ERROR(rt::Runtime::instance().execute(infer_id_, io_in, io_out, &out_dims, weight_version));
  for (size_t k = 0; k < outputs.size(); ++k) outputs[k].dims = out_dims[k];
  return outputs;
}

Status Session::update(const std::map<std::string, ArrayView>& weights) {
  LW_RETURN_IF_ERROR(check_open());
  // This thread's list from its last call: its dims keep their capacity, so a refresh of a
  // hundred weights does not allocate two hundred small vectors.
  auto scratch = ThreadScratch<std::vector<rt::IoTensor>>::borrow();
  std::vector<rt::IoTensor>& io = *scratch;
  io.resize(update_inputs_.size());
  static const uint8_t kSkipByte = 0;
  for (auto& t : io) {  // skipped by default: dims [0] over a valid 1-byte buffer
    t.data = const_cast<uint8_t*>(&kSkipByte);
    t.size = 1;
    t.has_dims = true;
    t.dims.assign(1, 0);
  }
  for (const auto& [name, view] : weights) {
    const int32_t found = weight_index_->find(name);
    if (found < 0) return make_error(StatusCode::kInvalidArgument, "unknown weight '", name, "'");
    const WeightInfo* w = &weights_[static_cast<size_t>(found)];
    if (w->update_input < 0)
      return make_error(StatusCode::kInvalidArgument, "weight '", name, "' has no input in the update graph");
    if (view.dtype != w->dtype)
      return make_error(StatusCode::kInvalidArgument, "weight '", name, "' is ", dtype_name(w->dtype), ", got ",
                        dtype_name(view.dtype));
    if ((view.dims.size() == 1 && view.dims[0] == 0) || view.bytes == 0 || !view.data)
      return make_error(StatusCode::kInvalidArgument, "weight '", name, "' was given no data");
    rt::IoTensor& t = io[static_cast<size_t>(w->update_input)];
    if (t.data != &kSkipByte) return make_error(StatusCode::kInvalidArgument, "weight '", name, "' is given twice");
    t.data = const_cast<void*>(view.data);
    t.size = view.bytes;
    t.dims.assign(view.dims.begin(), view.dims.end());
  }
  return rt::Runtime::instance().execute(update_id_, io, {}, nullptr);
}

}  // namespace lw
