// Kernels that index, repeat or generate tensors: Slice and Expand (strided copies), Split,
// Tile, Pad (constant, edge, reflect), ConstantOfShape and Range. All but Range move bytes
// and work on any fixed-size element type. Sizes come from constant shape inputs, which the
// plan guarantees (spec.const_inputs).
#include <cmath>
#include <cstring>

#include "backends/cpu/kernels/kernels.h"
#include "backends/cpu/kernels/strided.h"
#include "graph/ops/tensor_geometry.h"

namespace lw::cpu {

namespace {

Dims row_major_strides(const Dims& dims) {
  Dims s(dims.size(), 1);
  for (size_t k = dims.size(); k-- > 1;) s[k - 1] = s[k] * dims[k];
  return s;
}

Result<Dims> const_input_ints(const KernelSpec& spec, size_t i, const char* what) {
  if (i >= spec.const_inputs.size() || !spec.const_inputs[i])
    return kernel_error(spec, StatusCode::kFeatureUnsupported, "input '", what, "' must be a constant");
  return ir::tensor_to_ints(*spec.const_inputs[i]);
}

bool present(const KernelSpec& spec, size_t i) {
  return i < spec.inputs.size() && spec.inputs[i].dtype != DType::kUndefined;
}

// out[j] = in[base + sum(idx_d * stride_d)] for every output multi-index.
template <typename T>
class StridedCopyKernel final : public Kernel {
 public:
  StridedCopyKernel(StridedPlan plan, int64_t base, int threads) : plan_(std::move(plan)), base_(base), threads_(threads) {}
  Status run(const KernelRun& r) const override {
    const T* x = static_cast<const T*>(r.inputs[0]) + base_;
    T* y = static_cast<T*>(r.outputs[0]);
    const int64_t s = plan_.inner_stride(0);
    run_strided<1>(plan_, threads_, [&](const std::array<int64_t, 1>& off, int64_t out_off, int64_t n) {
      const T* px = x + off[0];
      T* py = y + out_off;
      if (s == 1) std::memcpy(py, px, static_cast<size_t>(n) * sizeof(T));
      else if (s == 0) std::fill(py, py + n, *px);
      else for (int64_t i = 0; i < n; ++i) py[i] = px[i * s];
    });
    return Status::ok();
  }

 private:
  StridedPlan plan_;
  int64_t base_;
  int threads_;
};

Result<std::unique_ptr<Kernel>> strided_copy(const KernelSpec& spec, const Dims& out, const Dims& strides, int64_t base) {
  StridedPlan plan = make_strided_plan(out, {strides});
  switch (dtype_size(spec.inputs[0].dtype)) {
    case 1: return make_kernel<StridedCopyKernel<uint8_t>>(std::move(plan), base, spec.num_threads);
    case 2: return make_kernel<StridedCopyKernel<uint16_t>>(std::move(plan), base, spec.num_threads);
    case 4: return make_kernel<StridedCopyKernel<uint32_t>>(std::move(plan), base, spec.num_threads);
    case 8: return make_kernel<StridedCopyKernel<uint64_t>>(std::move(plan), base, spec.num_threads);
    default:
      return kernel_error(spec, StatusCode::kUnsupportedDtype, "unsupported type ", dtype_name(spec.inputs[0].dtype));
  }
}

// Writes nothing: for outputs with no elements.
class EmptyKernel final : public Kernel {
 public:
  Status run(const KernelRun&) const override { return Status::ok(); }
};

Result<std::unique_ptr<Kernel>> make_slice(const KernelSpec& spec) {
  const Dims& x = spec.inputs[0].shape.dims();
  LW_ASSIGN_OR_RETURN(Dims starts, const_input_ints(spec, 1, "starts"));
  LW_ASSIGN_OR_RETURN(Dims ends, const_input_ints(spec, 2, "ends"));
  Dims axes, steps;
  if (present(spec, 3)) {
    LW_ASSIGN_OR_RETURN(axes, const_input_ints(spec, 3, "axes"));
  }
  if (present(spec, 4)) {
    LW_ASSIGN_OR_RETURN(steps, const_input_ints(spec, 4, "steps"));
  }
  LW_ASSIGN_OR_RETURN(auto geo, ir::slice_geometry(spec.node, x, starts, ends, axes, steps));
  Dims out(x.size()), strides(x.size());
  Dims in_strides = row_major_strides(x);
  int64_t base = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    out[i] = geo[i].out;
    strides[i] = in_strides[i] * geo[i].step;
    base += geo[i].start * in_strides[i];
  }
  if (out != spec.outputs[0].shape.dims())
    return kernel_error(spec, StatusCode::kInternal, "output dims ", out, " disagree with inference");
  if (numel(out) == 0) return make_kernel<EmptyKernel>();
  return strided_copy(spec, out, strides, base);
}

Result<std::unique_ptr<Kernel>> make_expand(const KernelSpec& spec) {
  const Dims& out = spec.outputs[0].shape.dims();
  if (!broadcasts_to(spec.inputs[0].shape.dims(), out))
    return kernel_error(spec, StatusCode::kInvalidArgument, "input does not broadcast to ", out);
  if (numel(out) == 0) return make_kernel<EmptyKernel>();
  return strided_copy(spec, out, broadcast_strides(spec.inputs[0].shape.dims(), out), 0);
}

class SplitKernel final : public Kernel {
 public:
  SplitKernel(int64_t outer, size_t in_row, std::vector<size_t> out_rows, int threads)
      : outer_(outer), in_row_(in_row), out_rows_(std::move(out_rows)), threads_(threads) {}
  Status run(const KernelRun& r) const override {
    const uint8_t* x = static_cast<const uint8_t*>(r.inputs[0]);
    parallel_ranges(outer_, threads_for(outer_ * static_cast<int64_t>(in_row_), 1 << 20, threads_),
                    [&](int64_t b, int64_t e) {
                      for (int64_t o = b; o < e; ++o) {
                        size_t off = 0;
                        for (size_t k = 0; k < out_rows_.size(); ++k) {
                          if (out_rows_[k])
                            std::memcpy(static_cast<uint8_t*>(r.outputs[k]) + static_cast<size_t>(o) * out_rows_[k],
                                        x + static_cast<size_t>(o) * in_row_ + off, out_rows_[k]);
                          off += out_rows_[k];
                        }
                      }
                    });
    return Status::ok();
  }

 private:
  int64_t outer_;
  size_t in_row_;
  std::vector<size_t> out_rows_;
  int threads_;
};

Result<std::unique_ptr<Kernel>> make_split(const KernelSpec& spec) {
  const Dims& x = spec.inputs[0].shape.dims();
  size_t esize = dtype_size(spec.inputs[0].dtype);
  if (esize == 0) return kernel_error(spec, StatusCode::kUnsupportedDtype, "unsupported type");
  int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = spec.node.attr_int("axis", 0);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) return kernel_error(spec, StatusCode::kInvalidArgument, "axis out of range");
  int64_t outer = numel(Dims(x.begin(), x.begin() + axis));
  int64_t inner = numel(Dims(x.begin() + axis + 1, x.end()));
  std::vector<size_t> rows;
  int64_t total = 0;
  for (const auto& o : spec.outputs) {
    const Dims& d = o.shape.dims();
    if (d.size() != x.size()) return kernel_error(spec, StatusCode::kInternal, "output rank disagrees");
    total += d[static_cast<size_t>(axis)];
    rows.push_back(static_cast<size_t>(d[static_cast<size_t>(axis)] * inner) * esize);
  }
  if (total != x[static_cast<size_t>(axis)])
    return kernel_error(spec, StatusCode::kInvalidArgument, "output sizes do not add up to the split axis");
  return make_kernel<SplitKernel>(outer, static_cast<size_t>(x[static_cast<size_t>(axis)] * inner) * esize,
                                  std::move(rows), spec.num_threads);
}

// Tile and Pad: per output row, a source row (or none) and a per-element column map.
// maps[d][j] is the input index along dim d read by output index j, -1 for padding.
class IndexMapKernel final : public Kernel {
 public:
  IndexMapKernel(Dims out, Dims in, std::vector<Dims> maps, size_t esize, int threads)
      : out_(std::move(out)), in_strides_(row_major_strides(in)), maps_(std::move(maps)), esize_(esize),
        threads_(threads) {}
  Status run(const KernelRun& r) const override {
    const uint8_t* x = static_cast<const uint8_t*>(r.inputs[0]);
    uint8_t* y = static_cast<uint8_t*>(r.outputs[0]);
    // Pad's constant value (input 2) or zero.
    uint8_t fill[8] = {};
    if (n_inputs_ > 2 && r.inputs[2]) std::memcpy(fill, r.inputs[2], esize_);
    const size_t rank = out_.size();
    const int64_t row = out_.back();
    const int64_t rows = numel(out_) / std::max<int64_t>(row, 1);
    const Dims& cols = maps_.back();
    const int64_t col_stride = in_strides_.back();
    parallel_ranges(rows, threads_for(numel(out_), 65536, threads_), [&](int64_t b, int64_t e) {
      for (int64_t rr = b; rr < e; ++rr) {
        int64_t rem = rr, src = 0;
        bool pad = false;
        for (size_t d = rank - 1; d-- > 0;) {
          int64_t idx = maps_[d][static_cast<size_t>(rem % out_[d])];
          rem /= out_[d];
          if (idx < 0) pad = true;
          else src += idx * in_strides_[d];
        }
        uint8_t* dst = y + static_cast<size_t>(rr * row) * esize_;
        for (int64_t j = 0; j < row; ++j) {
          int64_t c = cols[static_cast<size_t>(j)];
          if (pad || c < 0) std::memcpy(dst + static_cast<size_t>(j) * esize_, fill, esize_);
          else std::memcpy(dst + static_cast<size_t>(j) * esize_, x + static_cast<size_t>(src + c * col_stride) * esize_, esize_);
        }
      }
    });
    return Status::ok();
  }
  void set_inputs(size_t n) { n_inputs_ = n; }

 private:
  Dims out_, in_strides_;
  std::vector<Dims> maps_;
  size_t esize_;
  int threads_;
  size_t n_inputs_ = 1;
};

Result<std::unique_ptr<Kernel>> index_map_kernel(const KernelSpec& spec, std::vector<Dims> maps) {
  const Dims& out = spec.outputs[0].shape.dims();
  size_t esize = dtype_size(spec.inputs[0].dtype);
  if (esize == 0 || esize > 8) return kernel_error(spec, StatusCode::kUnsupportedDtype, "unsupported type");
  if (numel(out) == 0) return make_kernel<EmptyKernel>();
  Dims o = out, in = spec.inputs[0].shape.dims();
  if (o.empty()) {  // rank 0: one element
    o = {1};
    in = {1};
    maps = {Dims{0}};
  }
  auto k = std::make_unique<IndexMapKernel>(o, in, std::move(maps), esize, spec.num_threads);
  k->set_inputs(present(spec, 2) ? 3 : 1);
  return std::unique_ptr<Kernel>(std::move(k));
}

Result<std::unique_ptr<Kernel>> make_tile(const KernelSpec& spec) {
  const Dims& x = spec.inputs[0].shape.dims();
  const Dims& out = spec.outputs[0].shape.dims();
  if (out.size() != x.size()) return kernel_error(spec, StatusCode::kInternal, "output rank disagrees");
  std::vector<Dims> maps(x.size());
  for (size_t d = 0; d < x.size(); ++d) {
    maps[d].resize(static_cast<size_t>(out[d]));
    for (int64_t j = 0; j < out[d]; ++j) maps[d][static_cast<size_t>(j)] = x[d] ? j % x[d] : -1;
  }
  return index_map_kernel(spec, std::move(maps));
}

// Input index read by padded index `j` (before the shift by pads_begin), -1 for a constant.
int64_t pad_source(int64_t j, int64_t n, const std::string& mode) {
  if (j >= 0 && j < n) return j;
  if (mode == "constant" || n == 0) return -1;
  if (mode == "edge") return j < 0 ? 0 : n - 1;
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  int64_t m = j % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

Result<std::unique_ptr<Kernel>> make_pad(const KernelSpec& spec) {
  const Dims& x = spec.inputs[0].shape.dims();
  LW_ASSIGN_OR_RETURN(Dims pads, const_input_ints(spec, 1, "pads"));
  LW_ASSIGN_OR_RETURN(Dims out, ir::pad_output_dims(spec.node, x, pads));
  if (out != spec.outputs[0].shape.dims())
    return kernel_error(spec, StatusCode::kInternal, "output dims ", out, " disagree with inference");
  if (present(spec, 2) && numel(spec.inputs[2].shape.dims()) != 1)
    return kernel_error(spec, StatusCode::kInvalidArgument, "constant_value must hold one value");
  std::string mode = spec.node.attr_string("mode", "constant");
  std::vector<Dims> maps(x.size());
  for (size_t d = 0; d < x.size(); ++d) {
    maps[d].resize(static_cast<size_t>(out[d]));
    for (int64_t j = 0; j < out[d]; ++j) maps[d][static_cast<size_t>(j)] = pad_source(j - pads[d], x[d], mode);
  }
  return index_map_kernel(spec, std::move(maps));
}

class FillKernel final : public Kernel {
 public:
  FillKernel(std::vector<uint8_t> value, int64_t n) : value_(std::move(value)), n_(n) {}
  Status run(const KernelRun& r) const override {
    uint8_t* y = static_cast<uint8_t*>(r.outputs[0]);
    const size_t es = value_.size();
    bool zero = std::all_of(value_.begin(), value_.end(), [](uint8_t b) { return b == 0; });
    if (zero) std::memset(y, 0, static_cast<size_t>(n_) * es);
    else for (int64_t i = 0; i < n_; ++i) std::memcpy(y + static_cast<size_t>(i) * es, value_.data(), es);
    return Status::ok();
  }

 private:
  std::vector<uint8_t> value_;
  int64_t n_;
};

Result<std::unique_ptr<Kernel>> make_constant_of_shape(const KernelSpec& spec) {
  DType t = spec.outputs[0].dtype;
  size_t es = dtype_size(t);
  if (es == 0) return kernel_error(spec, StatusCode::kUnsupportedDtype, "unsupported type ", dtype_name(t));
  std::vector<uint8_t> value(es, 0);
  if (const ir::TensorData* v = spec.node.attr_tensor("value")) {
    if (v->numel() != 1 || v->bytes.size != es || v->dtype != t)
      return kernel_error(spec, StatusCode::kInvalidArgument, "attribute 'value' must hold one ", dtype_name(t));
    std::memcpy(value.data(), v->bytes.data, es);
  }
  return make_kernel<FillKernel>(std::move(value), numel(spec.outputs[0].shape.dims()));
}

template <typename T>
class RangeKernel final : public Kernel {
 public:
  explicit RangeKernel(int64_t n) : n_(n) {}
  Status run(const KernelRun& r) const override {
    const T start = *static_cast<const T*>(r.inputs[0]);
    const T delta = *static_cast<const T*>(r.inputs[2]);
    T* y = static_cast<T*>(r.outputs[0]);
    for (int64_t i = 0; i < n_; ++i) y[i] = static_cast<T>(start + static_cast<T>(i) * delta);
    return Status::ok();
  }

 private:
  int64_t n_;
};

Result<std::unique_ptr<Kernel>> make_range(const KernelSpec& spec) {
  int64_t n = numel(spec.outputs[0].shape.dims());
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return make_kernel<RangeKernel<float>>(n);
    case DType::kFloat64: return make_kernel<RangeKernel<double>>(n);
    case DType::kInt64: return make_kernel<RangeKernel<int64_t>>(n);
    case DType::kInt32: return make_kernel<RangeKernel<int32_t>>(n);
    case DType::kInt16: return make_kernel<RangeKernel<int16_t>>(n);
    default:
      return require_dtype(spec, 0, {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32, DType::kInt16});
  }
}

class SizeKernel final : public Kernel {
 public:
  explicit SizeKernel(int64_t n) : n_(n) {}
  Status run(const KernelRun& r) const override {
    std::memcpy(r.outputs[0], &n_, sizeof(n_));
    return Status::ok();
  }

 private:
  int64_t n_;
};

Result<std::unique_ptr<Kernel>> make_size(const KernelSpec& spec) {
  return make_kernel<SizeKernel>(numel(spec.inputs[0].shape.dims()));
}

// Trilu keeps element (i, j) of each matrix when j - i >= k (upper) or j - i <= k (lower).
class TriluKernel final : public Kernel {
 public:
  TriluKernel(int64_t batch, int64_t rows, int64_t cols, size_t esize, bool upper, bool has_k)
      : batch_(batch), rows_(rows), cols_(cols), esize_(esize), upper_(upper), has_k_(has_k) {}
  Status run(const KernelRun& r) const override {
    int64_t k = 0;
    if (has_k_ && r.inputs[1]) std::memcpy(&k, r.inputs[1], sizeof(k));
    // Diagonal offsets beyond the matrix keep or clear everything; clamping keeps j - i exact.
    k = std::clamp<int64_t>(k, -rows_ - 1, cols_ + 1);
    const uint8_t* x = static_cast<const uint8_t*>(r.inputs[0]);
    uint8_t* y = static_cast<uint8_t*>(r.outputs[0]);
    for (int64_t b = 0; b < batch_; ++b)
      for (int64_t i = 0; i < rows_; ++i)
        for (int64_t j = 0; j < cols_; ++j) {
          size_t off = static_cast<size_t>((b * rows_ + i) * cols_ + j) * esize_;
          bool keep = upper_ ? j - i >= k : j - i <= k;
          if (keep) std::memcpy(y + off, x + off, esize_);
          else std::memset(y + off, 0, esize_);
        }
    return Status::ok();
  }

 private:
  int64_t batch_, rows_, cols_;
  size_t esize_;
  bool upper_, has_k_;
};

Result<std::unique_ptr<Kernel>> make_trilu(const KernelSpec& spec) {
  const Dims& x = spec.inputs[0].shape.dims();
  size_t esize = dtype_size(spec.inputs[0].dtype);
  if (esize == 0) return kernel_error(spec, StatusCode::kUnsupportedDtype, "unsupported type");
  if (x.size() < 2) return kernel_error(spec, StatusCode::kInvalidArgument, "input must have rank >= 2");
  if (present(spec, 1) && numel(spec.inputs[1].shape.dims()) != 1)
    return kernel_error(spec, StatusCode::kInvalidArgument, "k must be a scalar");
  int64_t rows = x[x.size() - 2], cols = x.back();
  return make_kernel<TriluKernel>(numel(Dims(x.begin(), x.end() - 2)), rows, cols, esize,
                                  spec.node.attr_int("upper", 1) != 0, present(spec, 1));
}

}  // namespace

void register_tensor_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"Slice", guarded<make_slice>});
  registry.push_back({"Expand", guarded<make_expand>});
  registry.push_back({"Split", guarded<make_split>});
  registry.push_back({"Tile", guarded<make_tile>});
  registry.push_back({"Pad", guarded<make_pad>});
  registry.push_back({"ConstantOfShape", guarded<make_constant_of_shape>});
  registry.push_back({"Range", guarded<make_range>});
  registry.push_back({"Size", make_size});
  registry.push_back({"Trilu", guarded<make_trilu>});
}

}  // namespace lw::cpu
