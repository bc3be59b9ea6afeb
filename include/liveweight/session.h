// lw::Session: the native C++ way to run a bundle — load, init, infer, update by weight name —
// without datasets and descs. It drives the same runtime as the C API (and initializes it on
// first use if aclInit was not called), so a bundle opened here is also visible to C API calls
// by bundle_id().
//
// Thread-safety: infer(), update() and save() may be called from several threads at once; each
// inference uses the weights current when it starts (an update publishes all its weights at
// once or none). close() must not race with other calls on the same Session.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "liveweight/dtype.h"
#include "liveweight/export.h"
#include "liveweight/status.h"

namespace lw {

// A caller's tensor: not owned; must stay valid for the call. Dense, row-major.
struct ArrayView {
  const void* data = nullptr;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> dims;
  size_t bytes = 0;  // bytes available at data
};

// A tensor the Session allocated (inference outputs); shares ownership of its bytes.
struct Array {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> dims;
  std::shared_ptr<uint8_t> data;
  size_t bytes = 0;
};

struct WeightInfo {
  std::string name;    // the Variable, "<initializer>_var"
  std::string source;  // the initializer, or "" when built by hand
  DType dtype = DType::kFloat32;
  std::vector<int64_t> dims;
  uint64_t bytes = 0;
  int32_t update_input = -1;
};

struct TensorSpec {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> dims;  // -1 dynamic; {-2} unknown rank
};

// How a Session's bundle applies updates. Defaults come from the aclInit config
// ({"liveweight": {"in_place_updates": b, "keep_versions": n}}) when open() gets no options.
struct SessionOptions {
  // Updates overwrite the live weights: no extra memory, but an update waits for running
  // inferences and new inferences wait for the update. Keeps no earlier versions.
  bool in_place_updates = false;
  // Earlier weight versions kept for rollback() (copy-on-write mode only).
  uint32_t keep_versions = 0;
};

class NameIndex;  // internal (src/core/name_index.h)

class LW_API Session {
 public:
  // Loads a bundle file (mapped) or a copy of bundle bytes.
  static Result<std::unique_ptr<Session>> open(const std::string& path);
  static Result<std::unique_ptr<Session>> open_bytes(const void* data, size_t size);
  static Result<std::unique_ptr<Session>> open(const std::string& path, const SessionOptions& options);
  static Result<std::unique_ptr<Session>> open_bytes(const void* data, size_t size, const SessionOptions& options);
  ~Session();  // unloads the bundle if still open
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs the weight-init graph (kFeatureUnsupported when the bundle has none).
  Status init();
  // Runs the inference graph. Inputs in graph order, with their real dims.
  // `weight_version` (optional) receives the weight version this inference used.
  Result<std::vector<Array>> infer(const std::vector<ArrayView>& inputs, uint64_t* weight_version = nullptr);
  // Refreshes the named weights (initializer or Variable names); the others keep their values.
  // Every entry is checked first: an unknown name or wrong dtype/dims/size rejects the whole
  // update and changes nothing.
  Status update(const std::map<std::string, ArrayView>& weights);

  // Number of applied weight updates (init counts as one, and so does each rollback).
  uint64_t version() const;
  // The earlier versions rollback() accepts, newest first (at most keep_versions).
  std::vector<uint64_t> kept_versions() const;
  // Makes kept version `version` current again without re-sending weights. The rollback is
  // itself a new version (version() + 1) whose weights are exactly those of `version`; it
  // returns that new number. rollback() without an argument restores the newest kept version.
  Result<uint64_t> rollback(uint64_t version);
  Result<uint64_t> rollback();
  // Saves the current weights as a checkpoint: writes to `path` a copy of the bundle file whose
  // weight-init graph holds every weight's current value, so init() on a session opened from
  // the file restores these weights exactly. A bundle built without an init graph gains one
  // right after the inference graph ([inference, init, update], as `lw build` writes).
  // The file records the version it holds (`lw inspect` shows it as weights_version); a session
  // opened from it counts its own updates from 0 again. May run concurrently with infer() and
  // update(): it reads one weight version, so the file holds exactly that version, never a mix
  // (in in-place mode an update waits for the copy). kInvalidArgument naming the Variables when
  // a weight was never written (no init or update yet); kWriteFile naming `path` when it cannot
  // be written (written through `path`.tmp and a rename, so a reader never sees a half-written
  // file; two saves to one path at once race on that .tmp file: give them different paths).
  Status save(const std::string& path) const;
  const std::vector<WeightInfo>& weights() const { return weights_; }
  const std::vector<TensorSpec>& inputs() const { return inputs_; }
  const std::vector<TensorSpec>& outputs() const { return outputs_; }
  uint32_t bundle_id() const { return bundle_id_; }
  bool is_open() const { return open_; }
  // Unloads the bundle; later calls fail with kInvalidBundleId. Idempotent.
  Status close();

 private:
  Session() = default;
  static Result<std::unique_ptr<Session>> attach(Result<uint32_t> bundle_id);
  Status check_open() const;

  uint32_t bundle_id_ = 0;
  bool open_ = false;
  uint32_t infer_id_ = 0, init_id_ = 0, update_id_ = 0;
  bool has_init_ = false;
  std::vector<WeightInfo> weights_;
  // weights_ by name, and by source name for those that have one (a Variable's own name wins
  // over another's source name). Built once at open: update() looks every entry up here
  // instead of scanning weights_ (a full refresh of MobileNet v2 compared 11,000 names).
  std::unique_ptr<NameIndex> weight_index_;
  std::vector<TensorSpec> inputs_, outputs_;
  std::vector<std::string> update_inputs_;  // Variable name per update input
};

}  // namespace lw
