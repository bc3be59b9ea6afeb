#include "fuzz/fuzz_targets.h"

#include <cstring>
#include <memory>
#include <string>

#include "acl/acl.h"
#include "compiler/bundle_builder.h"
#include "core/blob.h"
#include "format/bundle_io.h"
#include "frontends/onnx/onnx_importer.h"
#include "liveweight/build.h"
#include "liveweight/graph.h"

namespace lw::fuzz {

namespace {

// Brings the C API up once per process; later inputs find it initialized.
void ensure_acl() {
  static const bool ready = [] {
    (void)aclInit(nullptr);
    return true;
  }();
  (void)ready;
}

struct SmallModels {
  std::vector<uint8_t> bundle;
  std::vector<uint8_t> plain;
};

const SmallModels& small_models() {
  static const SmallModels models = [] {
    SmallModels m;
    const float w[12] = {0.5f, -1.f, 2.f, 0.25f, 3.f, -0.5f, 1.f, 1.5f, -2.f, 0.f, 4.f, -3.f};
    const float b[3] = {0.1f, -0.2f, 0.3f};
    Graph g("small");
    Tensor x = g.add_input("x", DType::kFloat32, {-1, 4});
    Tensor wt = g.add_constant("W", DType::kFloat32, {4, 3}, w, sizeof w);
    Tensor bt = g.add_constant("b", DType::kFloat32, {3}, b, sizeof b);
    Tensor mm = g.add_op("MatMul", {x, wt}, {}, 1, "mm")[0];
    Tensor sum = g.add_op("Add", {mm, bt}, {}, 1, "add")[0];
    Tensor y = g.add_op("Relu", {sum}, {}, 1, "relu")[0];
    g.set_outputs({y});
    if (auto plain = build_model(g); plain.is_ok()) m.plain = std::move(plain).value();
    auto conv = convert_to_weight_refreshable(g, {"W", "b"});
    if (conv.is_ok()) {
      if (auto bundle = build_bundle({conv->infer, conv->init, conv->update}); bundle.is_ok()) {
        m.bundle = std::move(bundle).value();
      }
    }
    return m;
  }();
  return models;
}

void load_and_unload(const ir::BundleModel& model, const std::vector<uint8_t>& bytes) {
  if (bytes.empty()) return;
  ensure_acl();
  if (aclrtSetDevice(0) != ACL_SUCCESS) return;
  uint32_t id = 0;
  if (model.is_bundle) {
    if (aclmdlBundleLoadFromMem(bytes.data(), bytes.size(), &id) == ACL_SUCCESS) (void)aclmdlBundleUnload(id);
  } else {
    if (aclmdlLoadFromMem(bytes.data(), bytes.size(), &id) == ACL_SUCCESS) (void)aclmdlUnload(id);
  }
  (void)aclGetRecentErrMsg();
  (void)aclrtResetDevice(0);
}

// Reads the fuzz input as a stream of small integers; past the end everything reads as 0.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(byte() | (byte() << 8)); }
  // An index into a list of n entries, or n itself now and then (one past the end).
  size_t index(size_t n) { return n == 0 ? byte() % 2 : byte() % (n + 1); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Everything one C API sequence made. Handles stay listed after they are destroyed so later
// calls use them stale (the C API must refuse them, not touch freed memory).
struct Session {
  std::vector<aclmdlDataset*> datasets;
  std::vector<bool> dataset_live;
  std::vector<aclDataBuffer*> buffers;
  std::vector<bool> buffer_live;
  std::vector<aclTensorDesc*> descs;
  std::vector<bool> desc_live;
  std::vector<std::unique_ptr<uint8_t[]>> memory;  // outlives every buffer that points into it
  std::vector<uint32_t> bundles;
  std::vector<bool> bundle_live;
  std::vector<uint32_t> models;  // members of bundles and plain models, live or not
  std::vector<uint32_t> plain_models;
  std::vector<bool> plain_live;
  std::vector<void*> device_memory;
  aclrtStream stream = nullptr;

  ~Session() {
    if (stream != nullptr) {
      (void)aclrtSynchronizeStream(stream);
      (void)aclrtDestroyStream(stream);
    }
    for (size_t i = 0; i < bundles.size(); ++i)
      if (bundle_live[i]) (void)aclmdlBundleUnload(bundles[i]);
    for (size_t i = 0; i < plain_models.size(); ++i)
      if (plain_live[i]) (void)aclmdlUnload(plain_models[i]);
    for (size_t i = 0; i < datasets.size(); ++i)
      if (dataset_live[i]) (void)aclmdlDestroyDataset(datasets[i]);
    for (size_t i = 0; i < buffers.size(); ++i)
      if (buffer_live[i]) (void)aclDestroyDataBuffer(buffers[i]);
    for (size_t i = 0; i < descs.size(); ++i)
      if (desc_live[i]) aclDestroyTensorDesc(descs[i]);
    for (void* p : device_memory) (void)aclrtFree(p);
  }
};

template <typename T>
T pick(Cursor& in, const std::vector<T>& list) {
  size_t i = in.index(list.size());
  return i < list.size() ? list[i] : T{};
}

uint32_t pick_model(Cursor& in, const Session& s) {
  size_t i = in.index(s.models.size());
  if (i < s.models.size()) return s.models[i];
  return in.byte() == 0 ? 0u : 0xFFFFFF00u + in.byte();  // ids never handed out
}

aclmdlDataset* pick_dataset(Cursor& in, Session& s) { return pick(in, s.datasets); }

void query_desc(Cursor& in, uint32_t model) {
  aclmdlDesc* d = aclmdlCreateDesc();
  if (d == nullptr) return;
  if (aclmdlGetDesc(d, model) == ACL_SUCCESS) {
    size_t i = in.byte() % 4;
    (void)aclmdlGetNumInputs(d);
    (void)aclmdlGetNumOutputs(d);
    (void)aclmdlGetInputSizeByIndex(d, i);
    (void)aclmdlGetOutputSizeByIndex(d, i);
    aclmdlIODims dims;
    (void)aclmdlGetInputDims(d, i, &dims);
    (void)aclmdlGetOutputDims(d, i, &dims);
    (void)aclmdlGetCurOutputDims(d, i, &dims);
    (void)aclmdlGetInputNameByIndex(d, i);
    (void)aclmdlGetOutputNameByIndex(d, i);
    (void)aclmdlGetInputFormat(d, i);
    (void)aclmdlGetOutputDataType(d, i);
    size_t index = 0;
    (void)aclmdlGetInputIndexByName(d, in.byte() & 1 ? "x" : "W_var_data", &index);
    (void)aclmdlGetOutputIndexByName(d, "nope", &index);
  }
  (void)aclmdlDestroyDesc(d);
}

void step(Cursor& in, Session& s) {
  const auto& models = small_models();
  switch (in.byte() % 20) {
    case 0: {
      aclmdlDataset* d = aclmdlCreateDataset();
      if (d != nullptr) {
        s.datasets.push_back(d);
        s.dataset_live.push_back(true);
      }
      break;
    }
    case 1: {
      size_t i = in.index(s.datasets.size());
      if (i < s.datasets.size()) {
        (void)aclmdlDestroyDataset(s.datasets[i]);
        s.dataset_live[i] = false;
      }
      break;
    }
    case 2: {
      // Host memory of the size the input asks for (capped), filled from the input; the buffer
      // may claim less than the block holds, never more.
      size_t size = in.u16() % 513;
      auto block = std::make_unique<uint8_t[]>(size + 1);
      for (size_t i = 0; i < size; ++i) block[i] = in.byte();
      size_t claimed = in.byte() & 1 ? size : size / 2;
      aclDataBuffer* b = aclCreateDataBuffer(in.byte() == 7 ? nullptr : block.get(), claimed);
      s.memory.push_back(std::move(block));
      if (b != nullptr) {
        s.buffers.push_back(b);
        s.buffer_live.push_back(true);
      }
      break;
    }
    case 3: {
      size_t i = in.index(s.buffers.size());
      if (i < s.buffers.size()) {
        (void)aclDestroyDataBuffer(s.buffers[i]);
        s.buffer_live[i] = false;
      }
      break;
    }
    case 4:
      (void)aclmdlAddDatasetBuffer(pick_dataset(in, s), pick(in, s.buffers));
      break;
    case 5: {
      int num_dims = in.byte() % 6 - 1;  // -1 .. 4
      int64_t dims[4];
      for (int64_t& d : dims) d = static_cast<int8_t>(in.byte());
      if (in.byte() == 0xFF) dims[0] = INT64_MAX / 2;
      aclTensorDesc* d = aclCreateTensorDesc(static_cast<aclDataType>(in.byte() % 16 - 1), num_dims,
                                             num_dims > 0 ? dims : nullptr, static_cast<aclFormat>(in.byte() % 6 - 1));
      if (d != nullptr) {
        s.descs.push_back(d);
        s.desc_live.push_back(true);
        (void)aclGetTensorDescSize(d);
        (void)aclGetTensorDescElementCount(d);
      }
      break;
    }
    case 6: {
      size_t i = in.index(s.descs.size());
      if (i < s.descs.size()) {
        aclDestroyTensorDesc(s.descs[i]);
        s.desc_live[i] = false;
      }
      break;
    }
    case 7: {
      aclmdlDataset* d = pick_dataset(in, s);
      aclTensorDesc* t = pick(in, s.descs);
      (void)aclmdlSetDatasetTensorDesc(d, t, in.byte() % 4);
      break;
    }
    case 8: {
      uint32_t id = 0;
      if (aclmdlBundleLoadFromMem(models.bundle.data(), models.bundle.size(), &id) == ACL_SUCCESS) {
        s.bundles.push_back(id);
        s.bundle_live.push_back(true);
        size_t n = 0;
        (void)aclmdlBundleGetModelNum(id, &n);
        for (size_t i = 0; i <= n; ++i) {
          uint32_t m = 0;
          if (aclmdlBundleGetModelId(id, i, &m) == ACL_SUCCESS) s.models.push_back(m);
        }
      }
      break;
    }
    case 9: {
      size_t i = in.index(s.bundles.size());
      uint32_t id = i < s.bundles.size() ? s.bundles[i] : pick_model(in, s);
      (void)aclmdlBundleUnload(id);
      if (i < s.bundles.size()) s.bundle_live[i] = false;
      break;
    }
    case 10:
    case 11: {
      uint32_t m = pick_model(in, s);
      aclmdlDataset* input = pick_dataset(in, s);
      aclmdlDataset* output = pick_dataset(in, s);
      (void)aclmdlExecute(m, input, output);
      break;
    }
    case 12: {
      uint32_t id = 0;
      if (aclmdlLoadFromMem(models.plain.data(), models.plain.size(), &id) == ACL_SUCCESS) {
        s.plain_models.push_back(id);
        s.plain_live.push_back(true);
        s.models.push_back(id);
      }
      break;
    }
    case 13: {
      size_t i = in.index(s.plain_models.size());
      uint32_t id = i < s.plain_models.size() ? s.plain_models[i] : pick_model(in, s);
      (void)aclmdlUnload(id);
      if (i < s.plain_models.size()) s.plain_live[i] = false;
      break;
    }
    case 14: {
      size_t i = in.index(s.buffers.size());
      size_t m = in.index(s.memory.size());
      if (i < s.buffers.size() && m < s.memory.size()) {
        // The smallest claim that is always inside the block: 0 or 1 byte.
        (void)aclUpdateDataBuffer(s.buffers[i], s.memory[m].get(), in.byte() & 1);
      }
      break;
    }
    case 15: {
      aclmdlDataset* d = pick_dataset(in, s);
      size_t i = in.byte() % 4;
      (void)aclmdlGetDatasetNumBuffers(d);
      aclDataBuffer* b = aclmdlGetDatasetBuffer(d, i);
      (void)aclGetDataBufferAddr(b);
      (void)aclGetDataBufferSizeV2(b);
      aclTensorDesc* t = aclmdlGetDatasetTensorDesc(d, i);
      (void)aclGetTensorDescNumDims(t);
      if (in.byte() == 3) aclDestroyTensorDesc(t);  // owned by the dataset: must be refused
      break;
    }
    case 16: {
      void* p = nullptr;
      size_t size = in.byte() == 0xFF ? SIZE_MAX / 2 : in.u16();
      if (aclrtMalloc(&p, size, ACL_MEM_MALLOC_HUGE_FIRST) == ACL_SUCCESS) {
        if (size) (void)aclrtMemset(p, size, in.byte(), size);
        s.device_memory.push_back(p);
      }
      break;
    }
    case 17:
      query_desc(in, pick_model(in, s));
      break;
    case 18: {
      if (s.stream == nullptr) {
        if (aclrtCreateStream(&s.stream) != ACL_SUCCESS) s.stream = nullptr;
        break;
      }
      uint32_t m = pick_model(in, s);
      aclmdlDataset* input = pick_dataset(in, s);
      aclmdlDataset* output = pick_dataset(in, s);
      // The datasets must stay untouched until the stream is synchronized: do it right away.
      (void)aclmdlExecuteAsync(m, input, output, s.stream);
      (void)aclrtSynchronizeStream(s.stream);
      break;
    }
    case 19: {
      size_t i = in.index(s.device_memory.size());
      if (i < s.device_memory.size()) {
        (void)aclrtFree(s.device_memory[i]);
        s.device_memory.erase(s.device_memory.begin() + static_cast<std::ptrdiff_t>(i));
      }
      break;
    }
  }
  (void)aclGetRecentErrMsg();
}

}  // namespace

const std::vector<uint8_t>& small_bundle() { return small_models().bundle; }
const std::vector<uint8_t>& small_plain_model() { return small_models().plain; }

void run_bundle_reader(const uint8_t* data, size_t size) {
  Blob aligned = Blob::copy_of(data, size);
  Blob view{nullptr, data, size};
  format::ReadOptions no_crc;
  no_crc.verify_segment_crc = false;
  (void)format::read_bundle(view);
  (void)format::read_bundle(aligned, no_crc);
  auto model = format::read_bundle(aligned);
  if (!model.is_ok()) return;
  auto bytes = format::write_bundle(*model);
  if (!bytes.is_ok()) return;
  (void)format::read_bundle(Blob::copy_of(bytes->data(), bytes->size()));
  load_and_unload(*model, std::vector<uint8_t>(data, data + size));
}

void run_onnx_import(const uint8_t* data, size_t size) {
  auto graph = onnx_import::import_onnx_bytes(data, size);
  if (!graph.is_ok()) return;
  auto model = compiler::build_plain_model(std::move(graph).value());
  if (!model.is_ok()) return;
  (void)format::write_bundle(*model);
}

void run_c_api(const uint8_t* data, size_t size) {
  ensure_acl();
  if (small_models().bundle.empty() || small_models().plain.empty()) return;
  if (aclrtSetDevice(0) != ACL_SUCCESS) return;
  {
    Cursor in(data, size);
    Session s;
    for (int steps = 0; steps < 64 && !in.done(); ++steps) step(in, s);
  }
  (void)aclGetRecentErrMsg();
  (void)aclrtResetDevice(0);
}

}  // namespace lw::fuzz
