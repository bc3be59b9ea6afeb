// Kernels that move bytes without arithmetic: the copies (Identity, Dropout in inference,
// Reshape, Flatten, Squeeze, Unsqueeze), Transpose, Concat, Gather, Shape and Cast. All but
// Cast work on any fixed-size element type.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "backends/cpu/kernels/half.h"
#include "backends/cpu/kernels/kernels.h"
#include "backends/cpu/kernels/strided.h"
#include "graph/ops/ops.h"

namespace lw::cpu {

namespace {

void parallel_copy(void* dst, const void* src, size_t bytes, int max_threads) {
  constexpr int64_t kGrain = 1 << 20;
  int threads = threads_for(static_cast<int64_t>(bytes), kGrain, max_threads);
  parallel_ranges(static_cast<int64_t>(bytes), threads, [&](int64_t b, int64_t e) {
    std::memcpy(static_cast<uint8_t*>(dst) + b, static_cast<const uint8_t*>(src) + b, static_cast<size_t>(e - b));
  });
}

size_t tensor_bytes(const ir::TensorType& t) {
  return static_cast<size_t>(numel(t.shape.dims())) * dtype_size(t.dtype);
}

// Output 0 is a byte copy of input 0 (Reshape and friends only change the shape). A Dropout
// mask output, when asked for, is all true: inference keeps every element.
class CopyKernel final : public Kernel {
 public:
  CopyKernel(size_t bytes, size_t mask_bytes, int threads, bool check_training)
      : bytes_(bytes), mask_bytes_(mask_bytes), threads_(threads), check_training_(check_training) {}
  Status run(const KernelRun& r) const override {
    if (check_training_ && r.inputs[2] && *static_cast<const uint8_t*>(r.inputs[2]) != 0)
      return make_error(StatusCode::kFeatureUnsupported, "Dropout: training_mode=true is not supported");
    parallel_copy(r.outputs[0], r.inputs[0], bytes_, threads_);
    if (mask_bytes_) std::memset(r.outputs[1], 1, mask_bytes_);
    return Status::ok();
  }

 private:
  size_t bytes_, mask_bytes_;
  int threads_;
  bool check_training_;
};

Result<std::unique_ptr<Kernel>> make_copy(const KernelSpec& spec) {
  if (dtype_size(spec.inputs[0].dtype) == 0)
    return kernel_error(spec, StatusCode::kUnsupportedDtype, "unsupported type ", dtype_name(spec.inputs[0].dtype));
  size_t in = tensor_bytes(spec.inputs[0]), out = tensor_bytes(spec.outputs[0]);
  if (in != out) return kernel_error(spec, StatusCode::kInternal, "input has ", in, " bytes, output ", out);
  bool is_dropout = spec.node.op == "Dropout";
  size_t mask = is_dropout && spec.outputs.size() > 1 ? tensor_bytes(spec.outputs[1]) : 0;
  bool check_training = is_dropout && spec.inputs.size() > 2 && spec.inputs[2].dtype != DType::kUndefined;
  return make_kernel<CopyKernel>(in, mask, spec.num_threads, check_training);
}

template <typename T>
class TransposeKernel final : public Kernel {
 public:
  TransposeKernel(StridedPlan plan, int threads) : plan_(std::move(plan)), threads_(threads) {}
  Status run(const KernelRun& r) const override {
    const T* x = static_cast<const T*>(r.inputs[0]);
    T* y = static_cast<T*>(r.outputs[0]);
    const int64_t s = plan_.inner_stride(0);
    run_strided<1>(plan_, threads_, [&](const std::array<int64_t, 1>& off, int64_t out_off, int64_t n) {
      const T* px = x + off[0];
      T* py = y + out_off;
      if (s == 1) std::memcpy(py, px, static_cast<size_t>(n) * sizeof(T));
      else for (int64_t i = 0; i < n; ++i) py[i] = px[i * s];
    });
    return Status::ok();
  }

 private:
  StridedPlan plan_;
  int threads_;
};

Result<std::unique_ptr<Kernel>> make_transpose(const KernelSpec& spec) {
  const Dims& in = spec.inputs[0].shape.dims();
  Dims perm = spec.node.attr_ints("perm");
  if (!spec.node.has_attr("perm"))
    for (size_t i = 0; i < in.size(); ++i) perm.push_back(static_cast<int64_t>(in.size() - 1 - i));
  std::vector<bool> seen(in.size(), false);
  if (perm.size() != in.size())
    return kernel_error(spec, StatusCode::kInvalidArgument, "perm ", perm, " does not match rank ", in.size());
  for (int64_t& p : perm) {
    if (p < 0) p += static_cast<int64_t>(in.size());
    if (p < 0 || p >= static_cast<int64_t>(in.size()) || seen[static_cast<size_t>(p)])
      return kernel_error(spec, StatusCode::kInvalidArgument, "perm is not a permutation");
    seen[static_cast<size_t>(p)] = true;
  }
  StridedPlan plan = make_strided_plan(spec.outputs[0].shape.dims(), {permuted_strides(in, perm)});
  switch (dtype_size(spec.inputs[0].dtype)) {
    case 1: return make_kernel<TransposeKernel<uint8_t>>(std::move(plan), spec.num_threads);
    case 2: return make_kernel<TransposeKernel<uint16_t>>(std::move(plan), spec.num_threads);
    case 4: return make_kernel<TransposeKernel<uint32_t>>(std::move(plan), spec.num_threads);
    case 8: return make_kernel<TransposeKernel<uint64_t>>(std::move(plan), spec.num_threads);
    default:
      return kernel_error(spec, StatusCode::kUnsupportedDtype, "unsupported type ", dtype_name(spec.inputs[0].dtype));
  }
}

// Concat: for each of `outer` rows, each input contributes a run of row_bytes_[i].
class ConcatKernel final : public Kernel {
 public:
  ConcatKernel(int64_t outer, std::vector<size_t> row_bytes, int threads)
      : outer_(outer), row_bytes_(std::move(row_bytes)), threads_(threads) {
    for (size_t b : row_bytes_) out_row_ += b;
  }
  Status run(const KernelRun& r) const override {
    int threads = threads_for(outer_ * static_cast<int64_t>(out_row_), 1 << 20, threads_);
    parallel_ranges(outer_, threads, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        uint8_t* dst = static_cast<uint8_t*>(r.outputs[0]) + static_cast<size_t>(o) * out_row_;
        for (size_t i = 0; i < row_bytes_.size(); ++i) {
          std::memcpy(dst, static_cast<const uint8_t*>(r.inputs[i]) + static_cast<size_t>(o) * row_bytes_[i],
                      row_bytes_[i]);
          dst += row_bytes_[i];
        }
      }
    });
    return Status::ok();
  }

 private:
  int64_t outer_;
  std::vector<size_t> row_bytes_;
  size_t out_row_ = 0;
  int threads_;
};

Result<std::unique_ptr<Kernel>> make_concat(const KernelSpec& spec) {
  const Dims& out = spec.outputs[0].shape.dims();
  size_t esize = dtype_size(spec.outputs[0].dtype);
  if (esize == 0)
    return kernel_error(spec, StatusCode::kUnsupportedDtype, "unsupported type ", dtype_name(spec.outputs[0].dtype));
  int64_t axis = spec.node.attr_int("axis", 0);
  if (axis < 0) axis += static_cast<int64_t>(out.size());
  if (axis < 0 || axis >= static_cast<int64_t>(out.size()))
    return kernel_error(spec, StatusCode::kInvalidArgument, "axis out of range");
  int64_t outer = numel(Dims(out.begin(), out.begin() + axis));
  // In the convolution layout (compiler/passes/conv_layout.h: the channels of 4-D values, every
  // input in the output's layout): channels-last holds each position's channels together, so
  // each input adds a run of its channels to every position; in blocks of channels, each input
  // adds its whole blocks to every image, as in the plain layout.
  const Layout layout = spec.output_layout(0);
  const bool channels_last = layout == Layout::kChannelsLast;
  if (layout != Layout::kPlain) {
    if (out.size() != 4 || axis != 1)
      return kernel_error(spec, StatusCode::kInternal, "a Concat in the convolution layout must join the channels of 4-D values");
    for (size_t i = 0; i < spec.inputs.size(); ++i)
      if (spec.input_layout(i) != layout)
        return kernel_error(spec, StatusCode::kInternal, "Concat input ", i, " is not in its output's layout");
    if (channels_last) outer = out[0] * out[2] * out[3];
  }
  std::vector<size_t> rows;
  for (const auto& in : spec.inputs) {
    const Dims& d = in.shape.dims();
    if (d.size() != out.size() || dtype_size(in.dtype) != esize)
      return kernel_error(spec, StatusCode::kInvalidArgument, "inputs disagree with the output in rank or type");
    rows.push_back(static_cast<size_t>(channels_last ? d[1] : numel(Dims(d.begin() + axis, d.end()))) * esize);
  }
  return make_kernel<ConcatKernel>(outer, std::move(rows), spec.num_threads);
}

template <typename Index>
class GatherKernel final : public Kernel {
 public:
  GatherKernel(int64_t outer, int64_t axis_size, int64_t n_idx, size_t inner_bytes, int threads, std::string name)
      : outer_(outer), axis_size_(axis_size), n_idx_(n_idx), inner_bytes_(inner_bytes), threads_(threads),
        name_(std::move(name)) {}
  Status run(const KernelRun& r) const override {
    const Index* idx = static_cast<const Index*>(r.inputs[1]);
    for (int64_t j = 0; j < n_idx_; ++j) {
      int64_t v = static_cast<int64_t>(idx[j]);
      if (v < -axis_size_ || v >= axis_size_)
        return make_error(StatusCode::kInvalidArgument, "node '", name_, "' (Gather): index ", v,
                          " is out of range for an axis of size ", axis_size_);
    }
    const uint8_t* x = static_cast<const uint8_t*>(r.inputs[0]);
    uint8_t* y = static_cast<uint8_t*>(r.outputs[0]);
    int64_t work = outer_ * n_idx_;
    int threads = threads_for(work * static_cast<int64_t>(inner_bytes_), 1 << 20, threads_);
    parallel_ranges(work, threads, [&](int64_t b, int64_t e) {
      for (int64_t w = b; w < e; ++w) {
        int64_t o = w / n_idx_, j = w % n_idx_;
        int64_t v = static_cast<int64_t>(idx[j]);
        if (v < 0) v += axis_size_;
        std::memcpy(y + static_cast<size_t>(w) * inner_bytes_,
                    x + static_cast<size_t>(o * axis_size_ + v) * inner_bytes_, inner_bytes_);
      }
    });
    return Status::ok();
  }

 private:
  int64_t outer_, axis_size_, n_idx_;
  size_t inner_bytes_;
  int threads_;
  std::string name_;
};

Result<std::unique_ptr<Kernel>> make_gather(const KernelSpec& spec) {
  const Dims& x = spec.inputs[0].shape.dims();
  size_t esize = dtype_size(spec.inputs[0].dtype);
  if (esize == 0)
    return kernel_error(spec, StatusCode::kUnsupportedDtype, "unsupported type ", dtype_name(spec.inputs[0].dtype));
  int64_t axis = spec.node.attr_int("axis", 0);
  if (axis < 0) axis += static_cast<int64_t>(x.size());
  if (axis < 0 || axis >= static_cast<int64_t>(x.size()))
    return kernel_error(spec, StatusCode::kInvalidArgument, "axis out of range");
  int64_t outer = numel(Dims(x.begin(), x.begin() + axis));
  int64_t inner = numel(Dims(x.begin() + axis + 1, x.end()));
  int64_t n_idx = numel(spec.inputs[1].shape.dims());
  int64_t axis_size = x[static_cast<size_t>(axis)];
  size_t inner_bytes = static_cast<size_t>(inner) * esize;
  if (spec.inputs[1].dtype == DType::kInt64)
    return make_kernel<GatherKernel<int64_t>>(outer, axis_size, n_idx, inner_bytes, spec.num_threads, spec.node.name);
  if (spec.inputs[1].dtype == DType::kInt32)
    return make_kernel<GatherKernel<int32_t>>(outer, axis_size, n_idx, inner_bytes, spec.num_threads, spec.node.name);
  return require_dtype(spec, 1, {DType::kInt64, DType::kInt32});
}

class ShapeKernel final : public Kernel {
 public:
  explicit ShapeKernel(Dims values) : values_(std::move(values)) {}
  Status run(const KernelRun& r) const override {
    if (!values_.empty()) std::memcpy(r.outputs[0], values_.data(), values_.size() * sizeof(int64_t));
    return Status::ok();
  }

 private:
  Dims values_;
};

Result<std::unique_ptr<Kernel>> make_shape(const KernelSpec& spec) {
  const Dims& x = spec.inputs[0].shape.dims();
  int64_t r = static_cast<int64_t>(x.size());
  int64_t start = spec.node.attr_int("start", 0), end = spec.node.attr_int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  Dims values;
  for (int64_t k = start; k < end; ++k) values.push_back(x[static_cast<size_t>(k)]);
  return make_kernel<ShapeKernel>(std::move(values));
}

// ---- Cast ----

template <typename From, typename To>
To convert(From v) {
  if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>) {
    return convert<float, To>(to_float(v));
  } else if constexpr (std::is_same_v<To, Half>) {
    return to_half(convert<From, float>(v));
  } else if constexpr (std::is_same_v<To, BFloat16>) {
    return to_bfloat16(convert<From, float>(v));
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    // Float to integer is undefined in C++ outside the target range: saturate, NaN -> 0.
    if (std::isnan(v)) return To(0);
    if (v <= static_cast<From>(std::numeric_limits<To>::lowest())) return std::numeric_limits<To>::lowest();
    if (v >= static_cast<From>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

using CastFn = void (*)(const void*, void*, int64_t, int);

template <typename From, typename To>
void cast_loop(const void* src, void* dst, int64_t n, int max_threads) {
  // bool is stored as one byte 0/1.
  using F = std::conditional_t<std::is_same_v<From, bool>, uint8_t, From>;
  using T = std::conditional_t<std::is_same_v<To, bool>, uint8_t, To>;
  const F* x = static_cast<const F*>(src);
  T* y = static_cast<T*>(dst);
  parallel_ranges(n, threads_for(n, 65536, max_threads), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      if constexpr (std::is_same_v<From, bool>) y[i] = static_cast<T>(convert<uint8_t, To>(x[i] != 0));
      else y[i] = static_cast<T>(convert<From, To>(x[i]));
    }
  });
}

template <typename From>
CastFn cast_from(DType to) {
  switch (to) {
    case DType::kFloat32: return cast_loop<From, float>;
    case DType::kFloat64: return cast_loop<From, double>;
    case DType::kInt64: return cast_loop<From, int64_t>;
    case DType::kInt32: return cast_loop<From, int32_t>;
    case DType::kInt16: return cast_loop<From, int16_t>;
    case DType::kInt8: return cast_loop<From, int8_t>;
    case DType::kUint8: return cast_loop<From, uint8_t>;
    case DType::kBool: return cast_loop<From, bool>;
    case DType::kUint16: return cast_loop<From, uint16_t>;
    case DType::kUint32: return cast_loop<From, uint32_t>;
    case DType::kUint64: return cast_loop<From, uint64_t>;
    case DType::kFloat16: return cast_loop<From, Half>;
    case DType::kBFloat16: return cast_loop<From, BFloat16>;
    default: return nullptr;
  }
}

CastFn cast_fn(DType from, DType to) {
  switch (from) {
    case DType::kFloat32: return cast_from<float>(to);
    case DType::kFloat64: return cast_from<double>(to);
    case DType::kInt64: return cast_from<int64_t>(to);
    case DType::kInt32: return cast_from<int32_t>(to);
    case DType::kInt16: return cast_from<int16_t>(to);
    case DType::kInt8: return cast_from<int8_t>(to);
    case DType::kUint8: return cast_from<uint8_t>(to);
    case DType::kBool: return cast_from<bool>(to);
    case DType::kUint16: return cast_from<uint16_t>(to);
    case DType::kUint32: return cast_from<uint32_t>(to);
    case DType::kUint64: return cast_from<uint64_t>(to);
    case DType::kFloat16: return cast_from<Half>(to);
    case DType::kBFloat16: return cast_from<BFloat16>(to);
    default: return nullptr;
  }
}

class CastKernel final : public Kernel {
 public:
  CastKernel(CastFn fn, int64_t n, int threads) : fn_(fn), n_(n), threads_(threads) {}
  Status run(const KernelRun& r) const override {
    fn_(r.inputs[0], r.outputs[0], n_, threads_);
    return Status::ok();
  }

 private:
  CastFn fn_;
  int64_t n_;
  int threads_;
};

Result<std::unique_ptr<Kernel>> make_cast(const KernelSpec& spec) {
  DType from = spec.inputs[0].dtype, to = spec.outputs[0].dtype;
  CastFn fn = cast_fn(from, to);
  if (!fn)
    return kernel_error(spec, StatusCode::kUnsupportedDtype, "the CPU kernel cannot cast ", dtype_name(from), " to ",
                        dtype_name(to));
  return make_kernel<CastKernel>(fn, numel(spec.inputs[0].shape.dims()), spec.num_threads);
}

}  // namespace

void register_data_kernels(std::vector<KernelEntry>& registry) {
  for (const char* op : {"Identity", "Dropout", "Reshape", "Flatten", "Squeeze", "Unsqueeze"})
    registry.push_back({op, make_copy});
  registry.push_back({"Transpose", make_transpose});
  registry.push_back({"Concat", make_concat});
  registry.push_back({"Gather", make_gather});
  registry.push_back({"Shape", make_shape});
  registry.push_back({"Cast", make_cast});
}

}  // namespace lw::cpu
