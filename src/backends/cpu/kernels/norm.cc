// BatchNormalization (inference: y = (x - mean) / sqrt(var + eps) * scale + B per channel)
// and Softmax along one axis (max-subtracted for stability).
#include <cmath>
#include <vector>

#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/kernels.h"

namespace lw::cpu {

namespace {

class BatchNormKernel final : public Kernel {
 public:
  BatchNormKernel(int64_t n, int64_t c, int64_t spatial, float eps, int threads)
      : n_(n), c_(c), spatial_(spatial), eps_(eps), threads_(threads) {}
  Status run(const KernelRun& r) const override {
    const float* x = static_cast<const float*>(r.inputs[0]);
    const float* scale = static_cast<const float*>(r.inputs[1]);
    const float* bias = static_cast<const float*>(r.inputs[2]);
    const float* mean = static_cast<const float*>(r.inputs[3]);
    const float* var = static_cast<const float*>(r.inputs[4]);
    float* y = static_cast<float*>(r.outputs[0]);
    // Parameters are run-time inputs (they may be refreshed), so the per-channel affine
    // form is recomputed per plane; that costs C square roots per image.
    parallel_ranges(n_ * c_, threads_for(n_ * c_ * spatial_, 32768, threads_), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        int64_t ch = p % c_;
        float a = scale[ch] / std::sqrt(var[ch] + eps_);
        float shift = bias[ch] - mean[ch] * a;
        const float* xp = x + p * spatial_;
        float* yp = y + p * spatial_;
        for (int64_t i = 0; i < spatial_; ++i) yp[i] = xp[i] * a + shift;
      }
    });
    return Status::ok();
  }

 private:
  int64_t n_, c_, spatial_;
  float eps_;
  int threads_;
};

Result<std::unique_ptr<Kernel>> make_batch_norm(const KernelSpec& spec) {
  for (size_t i = 0; i < spec.inputs.size(); ++i) LW_RETURN_IF_ERROR(require_dtype(spec, i, {DType::kFloat32}));
  if (spec.node.attr_int("training_mode", 0) != 0)
    return kernel_error(spec, StatusCode::kFeatureUnsupported, "training_mode=1 is not supported");
  const Dims& x = spec.inputs[0].shape.dims();
  if (x.size() < 2) return kernel_error(spec, StatusCode::kInvalidArgument, "X must have rank >= 2");
  for (size_t i = 1; i < 5; ++i)
    if (numel(spec.inputs[i].shape.dims()) != x[1])
      return kernel_error(spec, StatusCode::kInvalidArgument, "input ", i, " must hold ", x[1], " values");
  return make_kernel<BatchNormKernel>(x[0], x[1], numel(Dims(x.begin() + 2, x.end())),
                                      spec.node.attr_float("epsilon", 1e-5f), spec.num_threads);
}

class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(int64_t outer, int64_t axis, int64_t inner, int threads)
      : outer_(outer), axis_(axis), inner_(inner), threads_(threads) {}
  Status run(const KernelRun& r) const override {
    const float* x = static_cast<const float*>(r.inputs[0]);
    float* y = static_cast<float*>(r.outputs[0]);
    const int64_t rows = outer_ * inner_;
    parallel_ranges(rows, threads_for(rows * axis_, 16384, threads_), [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        int64_t o = row / inner_, i = row % inner_;
        const float* xp = x + o * axis_ * inner_ + i;
        float* yp = y + o * axis_ * inner_ + i;
        const int64_t s = inner_;
        float mx = -INFINITY;
        for (int64_t k = 0; k < axis_; ++k) mx = std::max(mx, xp[k * s]);
        float sum = 0.0f;
        for (int64_t k = 0; k < axis_; ++k) {
          float v = std::exp(xp[k * s] - mx);
          yp[k * s] = v;
          sum += v;
        }
        float inv = 1.0f / sum;
        for (int64_t k = 0; k < axis_; ++k) yp[k * s] *= inv;
      }
    });
    return Status::ok();
  }

 private:
  int64_t outer_, axis_, inner_;
  int threads_;
};

Result<std::unique_ptr<Kernel>> make_softmax(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  const Dims& x = spec.inputs[0].shape.dims();
  int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = spec.node.attr_int("axis", -1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) return kernel_error(spec, StatusCode::kInvalidArgument, "axis out of range");
  return make_kernel<SoftmaxKernel>(numel(Dims(x.begin(), x.begin() + axis)), x[static_cast<size_t>(axis)],
                                    numel(Dims(x.begin() + axis + 1, x.end())), spec.num_threads);
}

}  // namespace

void register_norm_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"BatchNormalization", make_batch_norm});
  registry.push_back({"Softmax", make_softmax});
}

}  // namespace lw::cpu
