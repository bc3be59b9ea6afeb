// BatchNormalization (inference: y = (x - mean) / sqrt(var + eps) * scale + B per channel),
// LayerNormalization, and Softmax/LogSoftmax along one axis (max-subtracted for stability;
// oneDNN's vectorised primitive when it accepts the shape, the loop kernel otherwise).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/dnnl_util.h"
#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/kernels.h"
#include "backends/cpu/kernels/strided.h"
#include "compiler/passes/epilogue_fusion.h"
#include "compiler/passes/layernorm_fusion.h"

namespace lw::cpu {

namespace {

// In plain NCHW, channels-last or blocks of channels (the convolution layout: DenseNet's
// BatchNorm -> Relu -> Conv chains keep it), with an activation fused after it (Relu or Clip,
// passes/epilogue_fusion.h). Parameters are run-time inputs (they may be refreshed), so the
// per-channel multiply and add are derived on every run into scratch: C square roots.
class BatchNormKernel final : public Kernel {
 public:
  BatchNormKernel(int64_t n, int64_t c, int64_t spatial, float eps, Layout layout, float lo, float hi, int threads)
      : n_(n), c_(c), spatial_(spatial), eps_(eps), layout_(layout), lo_(lo), hi_(hi), threads_(threads) {}
  size_t scratch_bytes() const override { return static_cast<size_t>(2 * c_) * sizeof(float); }
  Status run(const KernelRun& r) const override {
    const float* x = static_cast<const float*>(r.inputs[0]);
    const float* scale = static_cast<const float*>(r.inputs[1]);
    const float* bias = static_cast<const float*>(r.inputs[2]);
    const float* mean = static_cast<const float*>(r.inputs[3]);
    const float* var = static_cast<const float*>(r.inputs[4]);
    float* y = static_cast<float*>(r.outputs[0]);
    float* mul = static_cast<float*>(r.scratch);
    float* add = mul + c_;
    for (int64_t ch = 0; ch < c_; ++ch) {
      mul[ch] = scale[ch] / std::sqrt(var[ch] + eps_);
      add[ch] = bias[ch] - mean[ch] * mul[ch];
    }
    const float lo = lo_, hi = hi_;
    // y[i] = clamp(x[i] * m[i] + a[i]): a run of n channels at one position.
    auto apply = [&](const float* xp, float* yp, int64_t n, const float* m, const float* a) {
      for (int64_t i = 0; i < n; ++i) yp[i] = std::min(std::max(xp[i] * m[i] + a[i], lo), hi);
    };
    const int threads = threads_for(n_ * c_ * spatial_, 32768, threads_);
    const int64_t block = channel_block(layout_);
    if (layout_ == Layout::kChannelsLast) {  // rows of C channels, one per position
      parallel_ranges(n_ * spatial_, threads, [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) apply(x + p * c_, y + p * c_, c_, mul, add);
      });
    } else if (block != 0) {  // [n][c / block][spatial][block]: each block of channels over the positions
      parallel_ranges(n_ * (c_ / block), threads, [&](int64_t b, int64_t e) {
        for (int64_t q = b; q < e; ++q) {
          const int64_t c0 = q % (c_ / block) * block;
          for (int64_t s = 0; s < spatial_; ++s) {
            const int64_t at = (q * spatial_ + s) * block;
            apply(x + at, y + at, block, mul + c0, add + c0);
          }
        }
      });
    } else {
      parallel_ranges(n_ * c_, threads, [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) {  // a plane of one channel
          const float m = mul[p % c_], a = add[p % c_];
          const float* xp = x + p * spatial_;
          float* yp = y + p * spatial_;
          for (int64_t i = 0; i < spatial_; ++i) yp[i] = std::min(std::max(xp[i] * m + a, lo), hi);
        }
      });
    }
    return Status::ok();
  }

 private:
  int64_t n_, c_, spatial_;
  float eps_;
  Layout layout_;
  float lo_, hi_;
  int threads_;
};

Result<std::unique_ptr<Kernel>> make_batch_norm(const KernelSpec& spec) {
  for (size_t i = 0; i < spec.inputs.size(); ++i) LW_RETURN_IF_ERROR(require_dtype(spec, i, {DType::kFloat32}));
  if (spec.node.attr_int("training_mode", 0) != 0)
    return kernel_error(spec, StatusCode::kFeatureUnsupported, "training_mode=1 is not supported");
  const Dims& x = spec.inputs[0].shape.dims();
  if (x.size() < 2) return kernel_error(spec, StatusCode::kInvalidArgument, "X must have rank >= 2");
  if (spec.inputs.size() != 5) return kernel_error(spec, StatusCode::kInvalidArgument, "expected 5 inputs");
  for (size_t i = 1; i < 5; ++i)
    if (numel(spec.inputs[i].shape.dims()) != x[1])
      return kernel_error(spec, StatusCode::kInvalidArgument, "input ", i, " must hold ", x[1], " values");
  const Layout layout = spec.output_layout(0);
  if (layout != spec.input_layout(0) ||
      (layout != Layout::kPlain && (x.size() != 4 || (channel_block(layout) != 0 && x[1] % channel_block(layout) != 0))))
    return kernel_error(spec, StatusCode::kInternal, "BatchNormalization in the convolution layout needs a 4-D input and output in it");
  float lo = -INFINITY, hi = INFINITY;
  const std::string activation = spec.node.attr_string(passes::kAttrActivation, "");
  if (activation == "Relu") {
    lo = 0.0f;
  } else if (activation == "Clip") {
    lo = spec.node.attr_float(passes::kAttrClipMin, lo);
    hi = spec.node.attr_float(passes::kAttrClipMax, hi);
  } else if (!activation.empty()) {
    return kernel_error(spec, StatusCode::kInternal, "unknown fused activation '", activation, "'");
  }
  return make_kernel<BatchNormKernel>(x[0], x[1], numel(Dims(x.begin() + 2, x.end())),
                                      spec.node.attr_float("epsilon", 1e-5f), layout, lo, hi, spec.num_threads);
}

class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(int64_t outer, int64_t axis, int64_t inner, bool log, int threads)
      : outer_(outer), axis_(axis), inner_(inner), log_(log), threads_(threads) {}
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
        if (log_) {
          double sum = 0.0;
          for (int64_t k = 0; k < axis_; ++k) sum += std::exp(static_cast<double>(xp[k * s] - mx));
          // (x - max) first: with large inputs x - (max + log sum) would lose the low bits.
          const float log_sum = static_cast<float>(std::log(sum));
          for (int64_t k = 0; k < axis_; ++k) yp[k * s] = (xp[k * s] - mx) - log_sum;
          continue;
        }
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
  bool log_;
  int threads_;
};

// The oneDNN kernel for a softmax over `axis` of x (its exp is vectorised; the loop kernel's
// std::exp per element made Softmax 8% of a transformer encoder's time), or null where oneDNN
// declines (rank above its limit, an empty tensor).
std::unique_ptr<Kernel> try_dnnl_softmax(const KernelSpec& spec, const Dims& x, int64_t axis, bool log) {
  if (x.empty() || x.size() > 12 || numel(x) == 0) return nullptr;
  try {
    dnnl::memory::desc data = plain_desc(x);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const int a = static_cast<int>(axis);
    if (log) {
      dnnl::logsoftmax_forward::primitive_desc pd(
          dnnl::logsoftmax_forward::desc(dnnl::prop_kind::forward_inference, data, a), attr, dnnl_cpu_engine());
      return std::make_unique<DnnlSrcDstKernel>(dnnl::logsoftmax_forward(pd), data, data, pd.scratchpad_desc(), spec.node,
                                                "logsoftmax");
    }
    dnnl::softmax_forward::primitive_desc pd(dnnl::softmax_forward::desc(dnnl::prop_kind::forward_inference, data, a),
                                             attr, dnnl_cpu_engine());
    return std::make_unique<DnnlSrcDstKernel>(dnnl::softmax_forward(pd), data, data, pd.scratchpad_desc(), spec.node,
                                              "softmax");
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

Result<std::unique_ptr<Kernel>> make_softmax(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  const Dims& x = spec.inputs[0].shape.dims();
  int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = spec.node.attr_int("axis", -1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) return kernel_error(spec, StatusCode::kInvalidArgument, "axis out of range");
  if (auto fast = try_dnnl_softmax(spec, x, axis, spec.node.op == "LogSoftmax")) return std::unique_ptr<Kernel>(std::move(fast));
  return make_kernel<SoftmaxKernel>(numel(Dims(x.begin(), x.begin() + axis)), x[static_cast<size_t>(axis)],
                                    numel(Dims(x.begin() + axis + 1, x.end())), spec.node.op == "LogSoftmax",
                                    spec.num_threads);
}

// LayerNormalization (opset 17): normalizes each row of the dims from `axis` on, then applies
// Scale and B broadcast over that row; optional outputs Mean and InvStdDev per row. With `skip`
// (compiler/passes/layernorm_fusion.h, kAttrSkip) input 3 is added to x first: each row's sum
// is written to the output row and normalized there, so the Add it replaces costs no pass of
// its own.
class LayerNormKernel final : public Kernel {
 public:
  LayerNormKernel(int64_t rows, int64_t cols, Dims scale_strides, Dims bias_strides, Dims tail, float eps, int threads,
                  bool skip)
      : rows_(rows), cols_(cols), scale_idx_(expand(scale_strides, tail)), bias_idx_(expand(bias_strides, tail)),
        eps_(eps), threads_(threads), skip_(skip),
        dense_params_(static_cast<int64_t>(scale_idx_.size()) == cols_ && identity(scale_idx_) &&
                      (bias_idx_.empty() || identity(bias_idx_))) {}
  Status run(const KernelRun& r) const override {
    const float* x = static_cast<const float*>(r.inputs[0]);
    const float* scale = static_cast<const float*>(r.inputs[1]);
    const float* bias = bias_idx_.empty() ? nullptr : static_cast<const float*>(r.inputs[2]);
    float* y = static_cast<float*>(r.outputs[0]);
    float* mean_out = n_outputs_ > 1 ? static_cast<float*>(r.outputs[1]) : nullptr;
    float* inv_out = n_outputs_ > 2 ? static_cast<float*>(r.outputs[2]) : nullptr;
    const float* skip = skip_ ? static_cast<const float*>(r.inputs[3]) : nullptr;
    if (dense_params_ && !mean_out && !inv_out) {
      run_dense(x, skip, scale, bias, y);
      return Status::ok();
    }
    parallel_ranges(rows_, threads_for(rows_ * cols_, 16384, threads_), [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        float* yp = y + row * cols_;
        const float* xp = skip ? add_skip(x + row * cols_, skip + row * cols_, yp) : x + row * cols_;
        double sum = 0.0;
        for (int64_t k = 0; k < cols_; ++k) sum += xp[k];
        const double mean = sum / static_cast<double>(cols_);
        double var = 0.0;
        for (int64_t k = 0; k < cols_; ++k) var += (xp[k] - mean) * (xp[k] - mean);
        var /= static_cast<double>(cols_);
        const double inv = 1.0 / std::sqrt(var + eps_);
        for (int64_t k = 0; k < cols_; ++k) {
          double v = (xp[k] - mean) * inv * scale[scale_idx_[static_cast<size_t>(k)]];
          if (bias) v += bias[bias_idx_[static_cast<size_t>(k)]];
          yp[k] = static_cast<float>(v);
        }
        if (mean_out) mean_out[row] = static_cast<float>(mean);
        if (inv_out) inv_out[row] = static_cast<float>(inv);
      }
    });
    return Status::ok();
  }
  void set_outputs(size_t n) { n_outputs_ = n; }

 private:
  // Scale and B read element k at k (one value per column, the common case): float loops the
  // compiler vectorises, with kLanes partial sums per pass so a row's sum does not lose
  // precision through one long serial accumulation (the double loop above cost 0.5 us per
  // row of 512).
  void run_dense(const float* x, const float* skip, const float* scale, const float* bias, float* y) const {
    constexpr int64_t kLanes = 16;
    parallel_ranges(rows_, threads_for(rows_ * cols_, 16384, threads_), [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        float* yp = y + row * cols_;
        const float* xp = skip ? add_skip(x + row * cols_, skip + row * cols_, yp) : x + row * cols_;
        float part[kLanes] = {};
        int64_t k = 0;
        for (; k + kLanes <= cols_; k += kLanes)
          for (int64_t l = 0; l < kLanes; ++l) part[l] += xp[k + l];
        double sum = 0.0;
        for (int64_t l = 0; l < kLanes; ++l) sum += part[l];
        for (; k < cols_; ++k) sum += xp[k];
        const float mean = static_cast<float>(sum / static_cast<double>(cols_));
        float sq[kLanes] = {};
        k = 0;
        for (; k + kLanes <= cols_; k += kLanes)
          for (int64_t l = 0; l < kLanes; ++l) {
            const float d = xp[k + l] - mean;
            sq[l] += d * d;
          }
        double var = 0.0;
        for (int64_t l = 0; l < kLanes; ++l) var += sq[l];
        for (; k < cols_; ++k) var += static_cast<double>(xp[k] - mean) * (xp[k] - mean);
        const float inv = static_cast<float>(1.0 / std::sqrt(var / static_cast<double>(cols_) + eps_));
        if (bias) {
          for (k = 0; k < cols_; ++k) yp[k] = (xp[k] - mean) * inv * scale[k] + bias[k];
        } else {
          for (k = 0; k < cols_; ++k) yp[k] = (xp[k] - mean) * inv * scale[k];
        }
      }
    });
  }

  // x + skip over one row into `sum` (the output row, normalized in place afterwards).
  const float* add_skip(const float* x, const float* skip, float* sum) const {
    for (int64_t k = 0; k < cols_; ++k) sum[k] = x[k] + skip[k];
    return sum;
  }

  static bool identity(const Dims& idx) {
    for (size_t k = 0; k < idx.size(); ++k)
      if (idx[k] != static_cast<int64_t>(k)) return false;
    return true;
  }

  // Per column of the normalized row, the element of a broadcast parameter it reads.
  static Dims expand(const Dims& strides, const Dims& tail) {
    if (strides.empty()) return {};
    Dims idx(static_cast<size_t>(numel(tail)));
    for (size_t k = 0; k < idx.size(); ++k) {
      int64_t rem = static_cast<int64_t>(k), off = 0;
      for (size_t d = tail.size(); d-- > 0;) {
        off += (rem % tail[d]) * strides[d];
        rem /= tail[d];
      }
      idx[k] = off;
    }
    return idx;
  }

  int64_t rows_, cols_;
  Dims scale_idx_, bias_idx_;
  float eps_;
  int threads_;
  bool skip_;
  bool dense_params_;
  size_t n_outputs_ = 1;
};

Result<std::unique_ptr<Kernel>> make_layer_norm(const KernelSpec& spec) {
  for (size_t i = 0; i < spec.inputs.size(); ++i) LW_RETURN_IF_ERROR(require_dtype(spec, i, {DType::kFloat32}));
  const Dims& x = spec.inputs[0].shape.dims();
  int64_t r = static_cast<int64_t>(x.size());
  int64_t axis = spec.node.attr_int("axis", -1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r) return kernel_error(spec, StatusCode::kInvalidArgument, "axis out of range");
  Dims tail(x.begin() + axis, x.end());
  auto param_strides = [&](size_t i) -> Result<Dims> {
    if (i >= spec.inputs.size() || spec.inputs[i].dtype == DType::kUndefined) return Dims{};
    const Dims& p = spec.inputs[i].shape.dims();
    if (!broadcasts_to(p, tail))
      return kernel_error(spec, StatusCode::kInvalidArgument, "input ", i, " ", p, " does not broadcast to ", tail);
    return broadcast_strides(p, tail);
  };
  LW_ASSIGN_OR_RETURN(Dims scale, param_strides(1));
  LW_ASSIGN_OR_RETURN(Dims bias, param_strides(2));
  if (numel(tail) == 0) return kernel_error(spec, StatusCode::kInvalidArgument, "the normalized dims are empty");
  if (scale.empty() && tail.empty()) scale = Dims{};
  const bool skip = spec.node.attr_int(passes::kAttrSkip, 0) != 0;
  if (skip && (spec.inputs.size() != 4 || spec.inputs[3].dtype != DType::kFloat32 || spec.inputs[3].shape.dims() != x))
    return kernel_error(spec, StatusCode::kInvalidArgument, "the skip input (input 3) must be float32 of X's dims ", x);
  if (!skip && spec.inputs.size() > 3)
    return kernel_error(spec, StatusCode::kInvalidArgument, spec.inputs.size(), " inputs, at most 3 expected");
  auto k = std::make_unique<LayerNormKernel>(numel(Dims(x.begin(), x.begin() + axis)), numel(tail), scale, bias, tail,
                                             spec.node.attr_float("epsilon", 1e-5f), spec.num_threads, skip);
  k->set_outputs(spec.outputs.size());
  return std::unique_ptr<Kernel>(std::move(k));
}

}  // namespace

void register_norm_kernels(std::vector<KernelEntry>& registry) {
  registry.push_back({"BatchNormalization", make_batch_norm});
  registry.push_back({"Softmax", make_softmax});
  registry.push_back({"LogSoftmax", make_softmax});
  registry.push_back({"LayerNormalization", guarded<make_layer_norm>});
}

}  // namespace lw::cpu
