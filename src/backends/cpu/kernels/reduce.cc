// The reductions (Mean, Sum, Max, Min, Prod, SumSquare, L1, L2, LogSum, LogSumExp) over any
// set of axes. Reduced dims are walked with an odometer over their
// strides; the innermost reduced run is contiguous when the trailing axes are reduced.
// Sums accumulate in double so long reductions keep float32 accuracy.
#include <algorithm>
#include <limits>
#include <array>
#include <cmath>
#include <set>

#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/kernels.h"

namespace lw::cpu {

namespace {

enum class Reduce { kMean, kSum, kMax, kMin, kProd, kSumSquare, kL1, kL2, kLogSum, kLogSumExp };

// The identity of each reduction (what an empty reduction returns).
double reduce_init(Reduce mode) {
  switch (mode) {
    case Reduce::kMax: return -std::numeric_limits<double>::infinity();
    case Reduce::kMin: return std::numeric_limits<double>::infinity();
    case Reduce::kProd: return 1.0;
    default: return 0.0;
  }
}

template <typename T>
class ReduceKernel final : public Kernel {
 public:
  ReduceKernel(Reduce mode, Dims kept_dims, Dims kept_strides, Dims red_dims, Dims red_strides, int threads)
      : mode_(mode), kept_dims_(std::move(kept_dims)), kept_strides_(std::move(kept_strides)), red_dims_(std::move(red_dims)),
        red_strides_(std::move(red_strides)), threads_(threads) {
    outputs_ = numel(kept_dims_);
    count_ = numel(red_dims_);
  }

  Status run(const KernelRun& r) const override {
    const T* x = static_cast<const T*>(r.inputs[0]);
    T* y = static_cast<T*>(r.outputs[0]);
    const size_t nr = red_dims_.size();
    const int64_t inner = red_dims_.back(), inner_stride = red_strides_.back();
    const int64_t outer_count = count_ / std::max<int64_t>(inner, 1);
    parallel_ranges(outputs_, threads_for(outputs_ * count_, 32768, threads_), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        int64_t base = 0, rem = o;
        for (size_t d = kept_dims_.size(); d-- > 0;) {
          base += (rem % kept_dims_[d]) * kept_strides_[d];
          rem /= kept_dims_[d];
        }
        auto visit = [&](auto&& f) {
          for (int64_t q = 0; q < outer_count; ++q) {
            int64_t off = base, qr = q;
            for (size_t d = nr - 1; d-- > 0;) {
              off += (qr % red_dims_[d]) * red_strides_[d];
              qr /= red_dims_[d];
            }
            const T* p = x + off;
            if (inner_stride == 1) {
              for (int64_t i = 0; i < inner; ++i) f(static_cast<double>(p[i]));
            } else {
              for (int64_t i = 0; i < inner; ++i) f(static_cast<double>(p[i * inner_stride]));
            }
          }
        };
        y[o] = static_cast<T>(reduce_one(visit));
      }
    });
    return Status::ok();
  }

 private:
  template <typename Visit>
  double reduce_one(Visit&& visit) const {
    // Accumulates in double; Max/Min keep NaN (numpy semantics), LogSumExp subtracts the max.
    double acc = reduce_init(mode_);
    switch (mode_) {
      case Reduce::kMean:
        visit([&](double v) { acc += v; });
        return count_ > 0 ? acc / static_cast<double>(count_) : NAN;
      case Reduce::kSum: visit([&](double v) { acc += v; }); return acc;
      case Reduce::kSumSquare: visit([&](double v) { acc += v * v; }); return acc;
      case Reduce::kL1: visit([&](double v) { acc += std::fabs(v); }); return acc;
      case Reduce::kL2: visit([&](double v) { acc += v * v; }); return std::sqrt(acc);
      case Reduce::kLogSum: visit([&](double v) { acc += v; }); return std::log(acc);
      case Reduce::kProd: visit([&](double v) { acc *= v; }); return acc;
      case Reduce::kMax:
        visit([&](double v) {
          if (!std::isnan(acc) && (std::isnan(v) || v > acc)) acc = v;
        });
        return acc;
      case Reduce::kMin:
        visit([&](double v) {
          if (!std::isnan(acc) && (std::isnan(v) || v < acc)) acc = v;
        });
        return acc;
      case Reduce::kLogSumExp: {
        double mx = -std::numeric_limits<double>::infinity();
        visit([&](double v) { mx = std::max(mx, v); });
        if (!std::isfinite(mx)) {
          visit([&](double v) { acc += std::exp(v); });
          return std::log(acc);
        }
        visit([&](double v) { acc += std::exp(v - mx); });
        return mx + std::log(acc);
      }
    }
    return acc;
  }

  Reduce mode_;
  Dims kept_dims_, kept_strides_, red_dims_, red_strides_;
  int64_t outputs_ = 0, count_ = 0;
  int threads_;
};

template <Reduce kMode>
Result<std::unique_ptr<Kernel>> make_reduce(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32, DType::kFloat64}));
  const Dims& x = spec.inputs[0].shape.dims();
  int64_t r = static_cast<int64_t>(x.size());
  Dims axes_list = spec.node.attr_ints("axes");
  if (spec.inputs.size() > 1 && spec.inputs[1].dtype != DType::kUndefined) {
    if (!spec.const_inputs[1])
      return kernel_error(spec, StatusCode::kFeatureUnsupported, "input 'axes' must be a constant");
    LW_ASSIGN_OR_RETURN(axes_list, ir::tensor_to_ints(*spec.const_inputs[1]));
  }
  std::set<int64_t> axes;
  for (int64_t a : axes_list) {
    if (a < -r || a >= r) return kernel_error(spec, StatusCode::kInvalidArgument, "axis ", a, " is out of range");
    axes.insert(a < 0 ? a + r : a);
  }
  // noop_with_empty_axes=1 with no axes: every dim is kept (the identity).
  if (axes_list.empty() && spec.node.attr_int("noop_with_empty_axes", 0) == 0)
    for (int64_t k = 0; k < r; ++k) axes.insert(k);
  Dims strides(x.size(), 1);
  for (size_t k = x.size(); k-- > 1;) strides[k - 1] = strides[k] * x[k];
  Dims kept_dims, kept_strides, red_dims, red_strides;
  for (int64_t k = 0; k < r; ++k) {
    size_t i = static_cast<size_t>(k);
    if (axes.count(k)) {
      // Adjacent reduced dims that are contiguous merge into one longer run.
      if (!red_dims.empty() && red_strides.back() == x[i] * strides[i] && axes.count(k - 1)) {
        red_dims.back() *= x[i];
        red_strides.back() = strides[i];
      } else {
        red_dims.push_back(x[i]);
        red_strides.push_back(strides[i]);
      }
    } else {
      kept_dims.push_back(x[i]);
      kept_strides.push_back(strides[i]);
    }
  }
  if (red_dims.empty()) {
    red_dims.push_back(1);
    red_strides.push_back(1);
  }
  if (spec.inputs[0].dtype == DType::kFloat64)
    return make_kernel<ReduceKernel<double>>(kMode, std::move(kept_dims), std::move(kept_strides), std::move(red_dims),
                                             std::move(red_strides), spec.num_threads);
  return make_kernel<ReduceKernel<float>>(kMode, std::move(kept_dims), std::move(kept_strides), std::move(red_dims),
                                          std::move(red_strides), spec.num_threads);
}

// ArgMax/ArgMin along one axis; ties pick the first index, or the last with select_last_index.
template <typename T>
class ArgKernel final : public Kernel {
 public:
  ArgKernel(int64_t outer, int64_t axis, int64_t inner, bool max, bool last)
      : outer_(outer), axis_(axis), inner_(inner), max_(max), last_(last) {}
  Status run(const KernelRun& r) const override {
    const T* x = static_cast<const T*>(r.inputs[0]);
    int64_t* y = static_cast<int64_t*>(r.outputs[0]);
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t i = 0; i < inner_; ++i) {
        const T* p = x + o * axis_ * inner_ + i;
        int64_t best = 0;
        for (int64_t k = 1; k < axis_; ++k) {
          T v = p[k * inner_], b = p[best * inner_];
          bool better = max_ ? (v > b || (last_ && v == b)) : (v < b || (last_ && v == b));
          if (better) best = k;
        }
        y[o * inner_ + i] = best;
      }
    return Status::ok();
  }

 private:
  int64_t outer_, axis_, inner_;
  bool max_, last_;
};

Result<std::unique_ptr<Kernel>> make_arg(const KernelSpec& spec) {
  const Dims& x = spec.inputs[0].shape.dims();
  int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = spec.node.attr_int("axis", 0);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) return kernel_error(spec, StatusCode::kInvalidArgument, "axis out of range");
  if (x[static_cast<size_t>(axis)] == 0) return kernel_error(spec, StatusCode::kInvalidArgument, "the axis is empty");
  int64_t outer = numel(Dims(x.begin(), x.begin() + axis)), inner = numel(Dims(x.begin() + axis + 1, x.end()));
  bool max = spec.node.op == "ArgMax", last = spec.node.attr_int("select_last_index", 0) != 0;
  int64_t n = x[static_cast<size_t>(axis)];
  switch (spec.inputs[0].dtype) {
    case DType::kFloat32: return make_kernel<ArgKernel<float>>(outer, n, inner, max, last);
    case DType::kFloat64: return make_kernel<ArgKernel<double>>(outer, n, inner, max, last);
    case DType::kInt64: return make_kernel<ArgKernel<int64_t>>(outer, n, inner, max, last);
    case DType::kInt32: return make_kernel<ArgKernel<int32_t>>(outer, n, inner, max, last);
    case DType::kUint8: return make_kernel<ArgKernel<uint8_t>>(outer, n, inner, max, last);
    default: return require_dtype(spec, 0, {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32});
  }
}

}  // namespace

void register_reduce_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"ReduceMean", make_reduce<Reduce::kMean>});
  registry.push_back({"ArgMax", make_arg});
  registry.push_back({"ArgMin", make_arg});
  registry.push_back({"ReduceSum", make_reduce<Reduce::kSum>});
  registry.push_back({"ReduceMax", make_reduce<Reduce::kMax>});
  registry.push_back({"ReduceMin", make_reduce<Reduce::kMin>});
  registry.push_back({"ReduceProd", make_reduce<Reduce::kProd>});
  registry.push_back({"ReduceSumSquare", make_reduce<Reduce::kSumSquare>});
  registry.push_back({"ReduceL1", make_reduce<Reduce::kL1>});
  registry.push_back({"ReduceL2", make_reduce<Reduce::kL2>});
  registry.push_back({"ReduceLogSum", make_reduce<Reduce::kLogSum>});
  registry.push_back({"ReduceLogSumExp", make_reduce<Reduce::kLogSumExp>});
}

}  // namespace lw::cpu
