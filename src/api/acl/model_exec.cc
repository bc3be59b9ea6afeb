// Plain models: load, execute, unload.
#include <string>
#include <vector>

#include "acl/acl_mdl.h"
#include "api/acl/error_map.h"
#include "api/acl/handles.h"
#include "api/acl/output_dims_store.h"
#include "api/acl/stream.h"
#include "core/thread_scratch.h"
#include "liveweight/str_cat.h"
#include "runtime/runtime.h"

using lw::acl::fail;
using lw::acl::fail_status;
using lw::acl::guard;

namespace {

// Turns a dataset into the runtime's IoTensors. `use_dims`: pass the dims of descriptions the
// caller set (descriptions aclmdlExecute itself wrote on an output dataset are results, not
// requests, and are left out). Returns ACL_SUCCESS or the failure (text set).
aclError to_io_tensors(const char* fn, const char* which, const aclmdlDataset& dataset,
                       std::vector<lw::rt::IoTensor>* out) {
  // Overwritten in place: `out` may be a reused list whose dims vectors keep their capacity.
  out->resize(dataset.slots.size());
  for (size_t i = 0; i < dataset.slots.size(); ++i) {
    const auto& slot = dataset.slots[i];
    auto buffer = lw::acl::data_buffers().find(slot.buffer);
    if (!buffer)
      return fail(ACL_ERROR_INVALID_PARAM, fn,
                  lw::str_cat(which, " buffer ", i, " was destroyed after it was added to the dataset"));
    lw::rt::IoTensor& io = (*out)[i];
    io.data = buffer->data;
    io.size = buffer->size;
    io.has_dims = false;
    io.dims.clear();
    if (slot.desc != nullptr && !slot.desc_from_execute) {
      auto desc = lw::acl::tensor_descs().find(slot.desc);
      if (desc) {
        io.has_dims = true;
        io.dims = desc->dims;
      }
    }
  }
  return ACL_SUCCESS;
}

// Writes each output's real dims into its slot's description (in place when aclmdlExecute wrote
// one before, so a pointer the caller holds keeps working).
void store_output_descs(const lw::rt::ModelInfo& info, const std::vector<lw::Dims>& out_dims, aclmdlDataset* output) {
  size_t n = std::min(out_dims.size(), output->slots.size());
  for (size_t i = 0; i < n; ++i) {
    auto& slot = output->slots[i];
    const aclDataType dtype = i < info.outputs.size() ? static_cast<aclDataType>(info.outputs[i].dtype) : ACL_DT_UNDEFINED;
    const std::string* name = i < info.outputs.size() ? &info.outputs[i].name : nullptr;
    auto existing = lw::acl::tensor_descs().find(slot.desc);
    if (existing && slot.desc_from_execute) {
      // Field by field, so the dims and name keep their storage (no allocation on a repeat run,
      // and a name pointer the caller read stays valid while the name is the same).
      existing->dtype = dtype;
      existing->format = ACL_FORMAT_ND;
      existing->dims = out_dims[i];
      if (name) {
        existing->name = *name;
      } else {
        existing->name.clear();
      }
      existing->owned_by_dataset = true;
      continue;
    }
    aclTensorDesc fresh;
    fresh.dtype = dtype;
    fresh.format = ACL_FORMAT_ND;
    fresh.dims = out_dims[i];
    if (name) fresh.name = *name;
    aclTensorDesc* copy = lw::acl::new_owned_desc_copy(fresh);
    lw::acl::release_owned_desc(slot.desc);
    slot.desc = copy;
    slot.desc_from_execute = true;
  }
}

// One execution, checked and captured at submission: the datasets stay referenced (they must
// stay live until the run finishes anyway), the buffers and dims are taken now.
struct Execution {
  uint32_t model_id = 0;
  std::shared_ptr<const lw::rt::ModelInfo> info;
  std::shared_ptr<aclmdlDataset> output;
  std::vector<lw::rt::IoTensor> inputs;
  std::vector<lw::rt::IoTensor> outputs;
};

aclError prepare_execution(const char* kFn, uint32_t modelId, const aclmdlDataset* input, aclmdlDataset* output,
                           Execution* exec) {
  if (input == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "input dataset is NULL (use an empty dataset for no inputs)");
  if (output == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "output dataset is NULL (use an empty dataset for no outputs)");
  auto in = lw::acl::datasets().find(input);
  if (!in) return fail(ACL_ERROR_INVALID_PARAM, kFn, "input is not a live dataset");
  auto out = lw::acl::datasets().find(output);
  if (!out) return fail(ACL_ERROR_INVALID_PARAM, kFn, "output is not a live dataset");
  auto info = lw::rt::Runtime::instance().model_info(modelId);
  if (!info) return fail_status(kFn, info.status());
  if (!*info) return fail(ACL_ERROR_INTERNAL_ERROR, kFn, lw::str_cat("the runtime returned no info for model ", modelId));
  exec->model_id = modelId;
  exec->info = *info;
  exec->output = out;
  aclError err = to_io_tensors(kFn, "input", *in, &exec->inputs);
  if (err != ACL_SUCCESS) return err;
  return to_io_tensors(kFn, "output", *out, &exec->outputs);
}

lw::Status finish_execution(const Execution& exec) {
  auto scratch = lw::ThreadScratch<std::vector<lw::Dims>>::borrow();
  // Not cleared: execute copy-assigns over it, which reuses the inner vectors of the last call.
  std::vector<lw::Dims>& out_dims = *scratch;
  LW_RETURN_IF_ERROR(lw::rt::Runtime::instance().execute(exec.model_id, exec.inputs, exec.outputs, &out_dims));
  // Init and update graphs have no outputs: nothing to record, so nothing can fail after their
  // weights were published.
  if (out_dims.empty()) return lw::Status::ok();
  store_output_descs(*exec.info, out_dims, exec.output.get());
  lw::acl::record_output_dims(exec.model_id, out_dims);
  return lw::Status::ok();
}

}  // namespace

extern "C" {

ACL_FUNC_VISIBILITY aclError aclmdlLoadFromFile(const char* modelPath, uint32_t* modelId) {
  static constexpr const char* kFn = "aclmdlLoadFromFile";
  return guard(kFn, [&]() -> aclError {
    if (modelPath == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "modelPath is NULL");
    if (modelId == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "modelId is NULL");
    auto id = lw::rt::Runtime::instance().load_model_from_file(modelPath);
    if (!id) return fail_status(kFn, id.status());
    *modelId = *id;
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclmdlLoadFromMem(const void* model, size_t modelSize, uint32_t* modelId) {
  static constexpr const char* kFn = "aclmdlLoadFromMem";
  return guard(kFn, [&]() -> aclError {
    if (model == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "model is NULL");
    if (modelSize == 0) return fail(ACL_ERROR_INVALID_PARAM, kFn, "modelSize is 0");
    if (modelId == nullptr) return fail(ACL_ERROR_INVALID_PARAM, kFn, "modelId is NULL");
    auto id = lw::rt::Runtime::instance().load_model_from_memory(model, modelSize);
    if (!id) return fail_status(kFn, id.status());
    *modelId = *id;
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclmdlExecute(uint32_t modelId, const aclmdlDataset* input, aclmdlDataset* output) {
  static constexpr const char* kFn = "aclmdlExecute";
  return guard(kFn, [&]() -> aclError {
    // A per-thread Execution whose IoTensor lists keep their capacity: with static shapes a
    // repeated call allocates nothing in the C API. Its references are dropped on return, so it
    // keeps no dataset or model description alive between calls.
    auto exec = lw::ThreadScratch<Execution>::borrow();
    struct DropReferences {
      Execution& e;
      ~DropReferences() {
        e.info.reset();
        e.output.reset();
      }
    } drop{*exec};
    aclError err = prepare_execution(kFn, modelId, input, output, &*exec);
    if (err != ACL_SUCCESS) return err;
    lw::Status st = finish_execution(*exec);
    return st.is_ok() ? ACL_SUCCESS : fail_status(kFn, st);
  });
}

ACL_FUNC_VISIBILITY aclError aclmdlExecuteAsync(uint32_t modelId, const aclmdlDataset* input, aclmdlDataset* output,
                                                aclrtStream stream) {
  static constexpr const char* kFn = "aclmdlExecuteAsync";
  return guard(kFn, [&]() -> aclError {
    std::shared_ptr<lw::rt::Stream> queue;
    if (stream != nullptr) {
      queue = lw::acl::find_stream(stream);
      if (!queue) return fail(ACL_ERROR_INVALID_PARAM, kFn, "stream is not a live stream (destroyed, or never created)");
    }
    auto exec = std::make_shared<Execution>();
    aclError err = prepare_execution(kFn, modelId, input, output, exec.get());
    if (err != ACL_SUCCESS) return err;
    if (!queue) {
      lw::Status st = finish_execution(*exec);
      return st.is_ok() ? ACL_SUCCESS : fail_status(kFn, st);
    }
    queue->submit([exec]() { return finish_execution(*exec); });
    return ACL_SUCCESS;
  });
}

ACL_FUNC_VISIBILITY aclError aclmdlUnload(uint32_t modelId) {
  static constexpr const char* kFn = "aclmdlUnload";
  return guard(kFn, [&]() -> aclError {
    lw::rt::Runtime& runtime = lw::rt::Runtime::instance();
    // A bundle id unloads the bundle: note its models first so their recorded dims go too.
    std::vector<uint32_t> ids{modelId};
    if (auto count = runtime.bundle_model_count(modelId)) {
      for (size_t i = 0; i < *count; ++i)
        if (auto id = runtime.bundle_model_id(modelId, i)) ids.push_back(*id);
    }
    lw::Status st = runtime.unload_model(modelId);
    if (!st.is_ok()) return fail_status(kFn, st);
    for (uint32_t id : ids) lw::acl::forget_output_dims(id);
    return ACL_SUCCESS;
  });
}

}  // extern "C"
