// ReduceMean over any set of axes. Reduced dims are walked with an odometer over their
// strides; the innermost reduced run is contiguous when the trailing axes are reduced.
// Sums accumulate in double so long reductions keep float32 accuracy.
#include <array>
#include <cmath>
#include <set>

#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/kernels.h"

namespace lw::cpu {

namespace {

class ReduceMeanKernel final : public Kernel {
 public:
  ReduceMeanKernel(Dims kept_dims, Dims kept_strides, Dims red_dims, Dims red_strides, int threads)
      : kept_dims_(std::move(kept_dims)), kept_strides_(std::move(kept_strides)), red_dims_(std::move(red_dims)),
        red_strides_(std::move(red_strides)), threads_(threads) {
    outputs_ = numel(kept_dims_);
    count_ = numel(red_dims_);
  }

  Status run(const KernelRun& r) const override {
    const float* x = static_cast<const float*>(r.inputs[0]);
    float* y = static_cast<float*>(r.outputs[0]);
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
        double sum = 0.0;
        for (int64_t q = 0; q < outer_count; ++q) {
          int64_t off = base, qr = q;
          for (size_t d = nr - 1; d-- > 0;) {
            off += (qr % red_dims_[d]) * red_strides_[d];
            qr /= red_dims_[d];
          }
          const float* p = x + off;
          if (inner_stride == 1) {
            for (int64_t i = 0; i < inner; ++i) sum += p[i];
          } else {
            for (int64_t i = 0; i < inner; ++i) sum += p[i * inner_stride];
          }
        }
        y[o] = count_ > 0 ? static_cast<float>(sum / static_cast<double>(count_)) : NAN;
      }
    });
    return Status::ok();
  }

 private:
  Dims kept_dims_, kept_strides_, red_dims_, red_strides_;
  int64_t outputs_ = 0, count_ = 0;
  int threads_;
};

Result<std::unique_ptr<Kernel>> make_reduce_mean(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  const Dims& x = spec.inputs[0].shape.dims();
  int64_t r = static_cast<int64_t>(x.size());
  std::set<int64_t> axes;
  for (int64_t a : spec.node.attr_ints("axes")) axes.insert(a < 0 ? a + r : a);
  if (!spec.node.has_attr("axes") || spec.node.attr_ints("axes").empty())
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
  return make_kernel<ReduceMeanKernel>(std::move(kept_dims), std::move(kept_strides), std::move(red_dims),
                                       std::move(red_strides), spec.num_threads);
}

}  // namespace

void register_reduce_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"ReduceMean", make_reduce_mean});
}

}  // namespace lw::cpu
