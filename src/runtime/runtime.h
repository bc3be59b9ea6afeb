// The process-wide runtime behind the C API: init/finalize, the current device, and the handle
// tables of bundles and models. Every function is thread-safe.
//
// Ids: bundle ids and model ids come from one counter and are never reused within a process,
// so a stale id is always "unknown", never someone else's model.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/blob.h"
#include "core/shape.h"
#include "graph/bundle_model.h"
#include "liveweight/status.h"

namespace lw::rt {

class Bundle;
class Model;

// Values match aclFormat.
enum class Format : int32_t { kUndefined = -1, kNCHW = 0, kNHWC = 1, kND = 2 };

struct TensorInfo {
  std::string name;
  DType dtype = DType::kFloat32;
  Dims dims;           // kDynamicDim (-1) where the size is only known at run time
  Format format = Format::kND;
  uint64_t bytes = 0;  // 0 when any dim is dynamic or the rank is unknown
};

using GraphRole = ir::GraphRole;

struct ModelInfo {
  std::string name;
  GraphRole role = GraphRole::kOther;
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
};

// One input or output of an execution: caller memory (host memory on the CPU backend).
struct IoTensor {
  void* data = nullptr;
  size_t size = 0;      // bytes available at `data`
  bool has_dims = false;  // true when the caller set a tensor desc for this slot
  Dims dims;            // the desc's dims when has_dims
};

struct Config {
  std::string backend = "cpu";  // "cpu" | "cuda"
  int threads = 0;              // 0: the number of cores
  bool in_place_updates = false;  // default for bundles loaded without BundleOptions
  uint32_t keep_versions = 0;     // likewise
  bool allow_tf32 = false;        // CUDA: float32 GEMMs/convolutions may use TF32 ("allow_tf32", LW_ALLOW_TF32)
  // CPU: weight buffers of 2 MiB and more on transparent huge pages ("huge_pages", LW_HUGE_PAGES;
  // see allocate_weight_memory).
  bool huge_pages = true;
};

// Per-bundle weight-update options (see VariableStore). in_place_updates: updates write the
// live weights (no extra memory) and wait for running executions; keep_versions: earlier
// versions kept for rollback (must be 0 with in_place_updates).
struct BundleOptions {
  bool in_place_updates = false;
  uint32_t keep_versions = 0;
  // Copy-on-write: an update waits until no execution pins a replaced version, so its extra
  // memory stays within the bytes it refreshes (StoreOptions::bound_update_memory).
  bool bound_update_memory = true;
};
// kInvalidArgument for a combination the store cannot honour.
Status check_bundle_options(const BundleOptions& options);

class Runtime {
 public:
  static Runtime& instance();

  // configPath may be null or empty (defaults, then LW_BACKEND / LW_NUM_THREADS). A JSON file
  // otherwise: {"liveweight": {"backend": "cpu", "threads": 2}}; a missing or malformed file
  // is kInvalidFile / kParseModel naming the problem.
  Status init(const char* config_path);
  // Unloads everything still loaded. kAlreadyFinalized when not initialized.
  Status finalize();
  bool initialized() const;
  Config config() const;

  // Devices: without GPUs only device 0 (the CPU) exists.
  // aclrtSetDevice: counts the device as in use and makes it current on this thread.
  Status set_device(int32_t device_id);
  // Makes a device current on this thread without counting it (contexts use this).
  Status use_device(int32_t device_id);
  Status reset_device(int32_t device_id);
  Result<int32_t> current_device() const;

  // Loading. A bundle needs >= 2 graphs in the file; a plain model exactly one graph.
  // From memory: the bytes are copied (the caller may free them after the call).
  // `options` null: the config's in_place_updates / keep_versions.
  Result<uint32_t> load_bundle_from_file(const std::string& path, const BundleOptions* options = nullptr);
  Result<uint32_t> load_bundle_from_memory(const void* data, size_t size, const BundleOptions* options = nullptr);
  Result<uint32_t> load_model_from_file(const std::string& path);
  Result<uint32_t> load_model_from_memory(const void* data, size_t size);

  // kInvalidBundleId for an unknown id (or a plain model's id).
  Status unload_bundle(uint32_t bundle_id);
  // Plain models; a bundle's model id is kInvalidArgument (use unload_bundle); a bundle id is
  // accepted and unloads the bundle, as the pyACL guide's step 9 does.
  Status unload_model(uint32_t model_id);
  Result<size_t> bundle_model_count(uint32_t bundle_id) const;
  Result<uint32_t> bundle_model_id(uint32_t bundle_id, size_t index) const;

  // kInvalidModelId for an unknown id. The info stays valid while the caller holds it.
  Result<std::shared_ptr<const ModelInfo>> model_info(uint32_t model_id) const;

  // Runs a model. `inputs` and `outputs` must match the model's counts; each input buffer must
  // hold its bytes and each output buffer must have room for its bytes. On success
  // `out_dims[i]` holds output i's real dims. For an update graph, every input is checked
  // before any weight changes. `weight_version` (optional) receives the weight version the
  // execution used (an inference: the one it pinned; an update: the one it published).
  Status execute(uint32_t model_id, const std::vector<IoTensor>& inputs, const std::vector<IoTensor>& outputs,
                 std::vector<Dims>* out_dims, uint64_t* weight_version = nullptr);

  // The output dims model `model_id` produces for these inputs (only data/size/dims of each
  // input are read; nothing runs). Lets a caller size output buffers of dynamic-shape models.
  Result<std::vector<Dims>> output_dims(uint32_t model_id, const std::vector<IoTensor>& inputs);

  // The bundle behind an id, for the native APIs and tools. kInvalidBundleId when unknown.
  Result<std::shared_ptr<Bundle>> bundle(uint32_t bundle_id) const;

 private:
  Runtime();
  // `file_mapped`: `file` is a read-only mapping of a file (its pages can be dropped and read
  // again), not a copy in memory.
  Result<uint32_t> load_blob(Blob file, bool want_bundle, bool file_mapped = false,
                             const BundleOptions* options = nullptr);
  // kInvalidDevice unless `device_id` exists on the configured backend (CUDA: also makes it
  // current on this thread). state_->mu held.
  Status check_device_locked(int32_t device_id) const;
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace lw::rt
