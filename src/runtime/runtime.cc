#include "runtime/runtime.h"

#include "backends/cuda/device.h"

#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>

#include "format/bundle_io.h"
#include "runtime/bundle.h"
#include "runtime/config.h"

namespace lw::rt {

namespace {
std::atomic<uint32_t> g_next_id{1};
uint32_t next_id() { return g_next_id.fetch_add(1); }

// The current device is per thread. Each aclInit..aclFinalize cycle is a generation: a device
// set in an earlier generation is not current any more.
std::atomic<uint64_t> g_generation{1};
struct CurrentDevice {
  int32_t device = -1;
  uint64_t generation = 0;
};
thread_local CurrentDevice t_current;

void set_current_device(int32_t device) { t_current = {device, g_generation.load()}; }
int32_t current_device_id() { return t_current.generation == g_generation.load() ? t_current.device : -1; }
}  // namespace

struct Runtime::State {
  mutable std::shared_mutex mu;
  bool initialized = false;
  Config config;
  std::map<uint32_t, std::shared_ptr<Bundle>> bundles;
  std::map<uint32_t, std::shared_ptr<Model>> models;  // plain models and bundle members
  std::map<uint32_t, int> devices_in_use;               // device id -> set count
};

Runtime::Runtime() : state_(std::make_unique<State>()) {}

Runtime& Runtime::instance() {
  static Runtime* runtime = new Runtime();  // never destroyed: usable during static destruction
  return *runtime;
}

Status Runtime::init(const char* config_path) {
  std::unique_lock lock(state_->mu);
  if (state_->initialized) return make_error(StatusCode::kAlreadyInitialized, "aclInit was already called");
  LW_ASSIGN_OR_RETURN(Config config, load_config(config_path));
  state_->config = config;
  state_->initialized = true;
  return Status::ok();
}

Status Runtime::finalize() {
  std::unique_lock lock(state_->mu);
  if (!state_->initialized) return make_error(StatusCode::kAlreadyFinalized, "aclFinalize without aclInit");
  state_->bundles.clear();
  state_->models.clear();
  state_->devices_in_use.clear();
  state_->initialized = false;
  g_generation.fetch_add(1);
  // What the unloaded bundles' weights left for reuse goes back to the system (a session the
  // caller still holds frees its weights when it goes, and they may be kept again).
  release_cached_weight_blocks();
  return Status::ok();
}

bool Runtime::initialized() const {
  std::shared_lock lock(state_->mu);
  return state_->initialized;
}

Config Runtime::config() const {
  std::shared_lock lock(state_->mu);
  return state_->config;
}

#define LW_REQUIRE_INIT()                                                                            \
  if (!state_->initialized)                                                                          \
  return make_error(StatusCode::kNotInitialized, "liveweight is not initialized: call aclInit first")

// Device ids: the CPU backend has device 0 only; on CUDA, device n is CUDA ordinal n.
Status Runtime::check_device_locked(int32_t device_id) const {
  if (state_->config.backend == "cuda") {
    LW_ASSIGN_OR_RETURN(int count, cuda::device_count());
    if (device_id < 0 || device_id >= count)
      return make_error(StatusCode::kInvalidDevice, "device ", device_id, " does not exist (", count, " CUDA device",
                        count == 1 ? "" : "s", ")");
    return cuda::set_device(device_id);
  }
  if (device_id != 0)
    return make_error(StatusCode::kInvalidDevice, "device ", device_id, " does not exist (the CPU backend has device 0 only)");
  return Status::ok();
}

Status Runtime::set_device(int32_t device_id) {
  std::unique_lock lock(state_->mu);
  LW_REQUIRE_INIT();
  LW_RETURN_IF_ERROR(check_device_locked(device_id));
  ++state_->devices_in_use[device_id];
  set_current_device(device_id);
  return Status::ok();
}

Status Runtime::use_device(int32_t device_id) {
  std::shared_lock lock(state_->mu);
  LW_REQUIRE_INIT();
  LW_RETURN_IF_ERROR(check_device_locked(device_id));
  set_current_device(device_id);
  return Status::ok();
}

Status Runtime::reset_device(int32_t device_id) {
  std::unique_lock lock(state_->mu);
  LW_REQUIRE_INIT();
  auto it = state_->devices_in_use.find(device_id);
  if (it == state_->devices_in_use.end())
    return make_error(StatusCode::kInvalidDevice, "device ", device_id, " was not set (call aclrtSetDevice first)");
  if (--it->second == 0) state_->devices_in_use.erase(it);
  if (current_device_id() == device_id) set_current_device(-1);
  return Status::ok();
}

Result<int32_t> Runtime::current_device() const {
  std::shared_lock lock(state_->mu);
  LW_REQUIRE_INIT();
  int32_t device = current_device_id();
  if (device < 0) return make_error(StatusCode::kInvalidDevice, "no device is set on this thread (call aclrtSetDevice first)");
  return device;
}

namespace {
Result<Blob> copy_to_blob(const void* data, size_t size) {
  if (!data) return make_error(StatusCode::kInvalidArgument, "model data is NULL");
  if (size == 0) return make_error(StatusCode::kInvalidArgument, "model size is 0");
  Blob b = Blob::copy_of(data, size);
  if (!b.data) return make_error(StatusCode::kOutOfMemory, "cannot allocate ", size, " bytes for the model");
  return b;
}

Result<ir::BundleModel> parse(const Blob& file, bool want_bundle, int threads) {
  if (!format::has_bundle_magic(file.data, file.size))
    return make_error(StatusCode::kInvalidFile, "not a liveweight model file (bad magic)");
  format::ReadOptions read_options;
  read_options.threads = threads;  // the configured intra-op threads (0: every core)
  LW_ASSIGN_OR_RETURN(ir::BundleModel model, format::read_bundle(file, read_options));
  if (want_bundle && !model.is_bundle)
    return make_error(StatusCode::kInvalidArgument, "this is a plain model, not a bundle: load it with aclmdlLoadFromFile/FromMem");
  if (!want_bundle && model.is_bundle)
    return make_error(StatusCode::kInvalidArgument, "this is a bundle: load it with aclmdlBundleLoadFromFile/FromMem");
  return model;
}
}  // namespace

Status check_bundle_options(const BundleOptions& options) {
  if (options.in_place_updates && options.keep_versions > 0)
    return make_error(StatusCode::kInvalidArgument, "in_place_updates overwrites the weights, so it cannot keep earlier ",
                      "versions: keep_versions must be 0 with it (got ", options.keep_versions, ")");
  return Status::ok();
}

Result<uint32_t> Runtime::load_blob(Blob file, bool want_bundle, bool file_mapped, const BundleOptions* options) {
  State& state = *state_;
  DeviceOptions device;
  BundleOptions bundle_options;
  bool huge_pages = true;
  {
    std::shared_lock lock(state.mu);
    device.num_threads = state.config.threads;
    device.cuda = state.config.backend == "cuda";
    device.allow_tf32 = state.config.allow_tf32;
    huge_pages = state.config.huge_pages;
    bundle_options = {state.config.in_place_updates, state.config.keep_versions, true};
  }
  if (device.cuda) {
    // The bundle lives on this thread's current device (aclrtSetDevice), else device 0.
    int32_t current = current_device_id();
    device.cuda_device = current >= 0 ? current : 0;
    LW_RETURN_IF_ERROR(cuda::set_device(device.cuda_device));
  }
  if (options) bundle_options = *options;
  LW_RETURN_IF_ERROR(check_bundle_options(bundle_options));
  LW_ASSIGN_OR_RETURN(ir::BundleModel model, parse(file, want_bundle, device.num_threads));
  const WeightMemory weight_memory = device.cuda               ? WeightMemory::kCudaDevice
                                     : huge_pages              ? WeightMemory::kHostHugePages
                                                               : WeightMemory::kHost;
  uint32_t id = want_bundle ? next_id() : 0;
  // Prepare outside the lock: it may take a while, and other models keep running meanwhile.
  LW_ASSIGN_OR_RETURN(std::shared_ptr<Bundle> bundle, Bundle::create(id, std::move(model), std::move(file), device, &next_id, file_mapped,
                                                                      StoreOptions{bundle_options.in_place_updates,
                                                                                   bundle_options.keep_versions,
                                                                                   bundle_options.bound_update_memory,
                                                                                   weight_memory}));
  std::unique_lock lock(state.mu);
  if (!state.initialized) return make_error(StatusCode::kNotInitialized, "aclFinalize ran while the model was loading");
  for (const auto& m : bundle->models()) state.models[m->id()] = m;
  if (want_bundle) {
    state.bundles[id] = bundle;
    return id;
  }
  return bundle->models()[0]->id();
}

Result<uint32_t> Runtime::load_bundle_from_file(const std::string& path, const BundleOptions* options) {
  {
    std::shared_lock lock(state_->mu);
    LW_REQUIRE_INIT();
  }
  LW_ASSIGN_OR_RETURN(Blob file, format::map_file(path));
  auto r = load_blob(std::move(file), true, /*file_mapped=*/true, options);
  if (!r.is_ok()) return r.status().with_context("'" + path + "': ");
  return r;
}

Result<uint32_t> Runtime::load_bundle_from_memory(const void* data, size_t size, const BundleOptions* options) {
  {
    std::shared_lock lock(state_->mu);
    LW_REQUIRE_INIT();
  }
  LW_ASSIGN_OR_RETURN(Blob file, copy_to_blob(data, size));
  return load_blob(std::move(file), true, false, options);
}

Result<uint32_t> Runtime::load_model_from_file(const std::string& path) {
  {
    std::shared_lock lock(state_->mu);
    LW_REQUIRE_INIT();
  }
  LW_ASSIGN_OR_RETURN(Blob file, format::map_file(path));
  auto r = load_blob(std::move(file), false);
  if (!r.is_ok()) return r.status().with_context("'" + path + "': ");
  return r;
}

Result<uint32_t> Runtime::load_model_from_memory(const void* data, size_t size) {
  {
    std::shared_lock lock(state_->mu);
    LW_REQUIRE_INIT();
  }
  LW_ASSIGN_OR_RETURN(Blob file, copy_to_blob(data, size));
  return load_blob(std::move(file), false);
}

Status Runtime::unload_bundle(uint32_t bundle_id) {
  std::shared_ptr<Bundle> doomed;  // released after the lock
  std::unique_lock lock(state_->mu);
  LW_REQUIRE_INIT();
  auto it = state_->bundles.find(bundle_id);
  if (it == state_->bundles.end())
    return make_error(StatusCode::kInvalidBundleId, "bundle id ", bundle_id, " is not loaded");
  doomed = it->second;
  for (const auto& m : doomed->models()) state_->models.erase(m->id());
  state_->bundles.erase(it);
  return Status::ok();
}

Status Runtime::unload_model(uint32_t model_id) {
  std::shared_ptr<Model> doomed;
  {
    std::unique_lock lock(state_->mu);
    LW_REQUIRE_INIT();
    if (state_->bundles.count(model_id)) {
      lock.unlock();
      return unload_bundle(model_id);
    }
    auto it = state_->models.find(model_id);
    if (it == state_->models.end()) return make_error(StatusCode::kInvalidModelId, "model id ", model_id, " is not loaded");
    if (it->second->bundle_id() != 0)
      return make_error(StatusCode::kInvalidArgument, "model id ", model_id, " belongs to bundle ", it->second->bundle_id(),
                        ": unload the bundle with aclmdlBundleUnload");
    doomed = it->second;
    state_->models.erase(it);
  }
  return Status::ok();
}

Result<size_t> Runtime::bundle_model_count(uint32_t bundle_id) const {
  LW_ASSIGN_OR_RETURN(std::shared_ptr<Bundle> b, bundle(bundle_id));
  return b->models().size();
}

Result<uint32_t> Runtime::bundle_model_id(uint32_t bundle_id, size_t index) const {
  LW_ASSIGN_OR_RETURN(std::shared_ptr<Bundle> b, bundle(bundle_id));
  if (index >= b->models().size())
    return make_error(StatusCode::kInvalidArgument, "index ", index, " is out of range: bundle ", bundle_id, " has ",
                      b->models().size(), " models");
  return b->models()[index]->id();
}

Result<std::shared_ptr<Bundle>> Runtime::bundle(uint32_t bundle_id) const {
  std::shared_lock lock(state_->mu);
  LW_REQUIRE_INIT();
  auto it = state_->bundles.find(bundle_id);
  if (it == state_->bundles.end()) {
    if (state_->models.count(bundle_id))
      return make_error(StatusCode::kInvalidBundleId, "id ", bundle_id, " is a model id, not a bundle id");
    return make_error(StatusCode::kInvalidBundleId, "bundle id ", bundle_id, " is not loaded");
  }
  return it->second;
}

Result<std::shared_ptr<const ModelInfo>> Runtime::model_info(uint32_t model_id) const {
  std::shared_lock lock(state_->mu);
  LW_REQUIRE_INIT();
  auto it = state_->models.find(model_id);
  if (it == state_->models.end()) {
    if (state_->bundles.count(model_id))
      return make_error(StatusCode::kInvalidModelId, "id ", model_id, " is a bundle id; get its models with aclmdlBundleGetModelId");
    return make_error(StatusCode::kInvalidModelId, "model id ", model_id, " is not loaded");
  }
  return it->second->info();
}

Result<std::vector<Dims>> Runtime::output_dims(uint32_t model_id, const std::vector<IoTensor>& inputs) {
  std::shared_ptr<Model> model;
  {
    std::shared_lock lock(state_->mu);
    LW_REQUIRE_INIT();
    auto it = state_->models.find(model_id);
    if (it == state_->models.end()) return make_error(StatusCode::kInvalidModelId, "model id ", model_id, " is not loaded");
    model = it->second;
  }
  return model->output_dims(inputs);
}

Status Runtime::execute(uint32_t model_id, const std::vector<IoTensor>& inputs, const std::vector<IoTensor>& outputs,
                        std::vector<Dims>* out_dims, uint64_t* weight_version) {
  std::shared_ptr<Model> model;
  {
    std::shared_lock lock(state_->mu);
    LW_REQUIRE_INIT();
    auto it = state_->models.find(model_id);
    if (it == state_->models.end()) {
      if (state_->bundles.count(model_id))
        return make_error(StatusCode::kInvalidModelId, "id ", model_id, " is a bundle id; execute one of its models");
      return make_error(StatusCode::kInvalidModelId, "model id ", model_id, " is not loaded");
    }
    model = it->second;
  }
  // The shared_ptr keeps the model (and its bundle's weights) alive even if another thread
  // unloads it now; that thread's unload succeeds and later calls see an unknown id.
  return model->execute(inputs, outputs, out_dims, weight_version);
}

}  // namespace lw::rt
