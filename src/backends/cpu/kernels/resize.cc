// Resize (opset 11-17) for float32: nearest, linear (n-linear) and cubic, every coordinate
// transformation mode. The interpolation is separable, so each resized axis is one pass that
// combines, for every output index, a few taps of the previous pass (ping-pong in scratch).
#include <cmath>
#include <cstring>

#include "backends/cpu/kernels/kernel_util.h"
#include "backends/cpu/kernels/kernels.h"
#include "graph/ops/tensor_geometry.h"

namespace lw::cpu {

namespace {

struct Taps {
  int64_t count = 1;               // taps per output index
  std::vector<int64_t> index;      // out * count source indices
  std::vector<float> weight;       // out * count weights
  std::vector<uint8_t> outside;    // per output index: extrapolated (tf_crop_and_resize)
};

struct AxisPass {
  int64_t outer = 1, in = 1, out = 1, inner = 1;
  Taps taps;
};

float cubic_weight(float t, float a) {
  t = std::fabs(t);
  if (t <= 1.0f) return ((a + 2.0f) * t - (a + 3.0f)) * t * t + 1.0f;
  if (t < 2.0f) return ((a * t - 5.0f * a) * t + 8.0f * a) * t - 4.0f * a;
  return 0.0f;
}

int64_t nearest_index(float x, const std::string& mode) {
  if (mode == "floor") return static_cast<int64_t>(std::floor(x));
  if (mode == "ceil") return static_cast<int64_t>(std::ceil(x));
  float f = std::floor(x);
  float frac = x - f;
  if (frac == 0.5f) return static_cast<int64_t>(mode == "round_prefer_ceil" ? f + 1.0f : f);
  return static_cast<int64_t>(std::round(x));
}

class ResizeKernel final : public Kernel {
 public:
  ResizeKernel(std::vector<AxisPass> passes, int64_t in_count, size_t scratch, float extrapolation, int threads)
      : passes_(std::move(passes)), in_count_(in_count), scratch_(scratch),
        extrapolation_(extrapolation), threads_(threads) {}
  size_t scratch_bytes() const override { return scratch_; }

  Status run(const KernelRun& r) const override {
    const float* src = static_cast<const float*>(r.inputs[0]);
    float* dst_final = static_cast<float*>(r.outputs[0]);
    if (passes_.empty()) {
      std::memcpy(dst_final, src, static_cast<size_t>(in_count_) * sizeof(float));
      return Status::ok();
    }
    float* buf[2] = {static_cast<float*>(r.scratch), static_cast<float*>(r.scratch) + scratch_ / sizeof(float) / 2};
    for (size_t p = 0; p < passes_.size(); ++p) {
      const AxisPass& a = passes_[p];
      float* dst = p + 1 == passes_.size() ? dst_final : buf[p % 2];
      const int64_t cnt = a.taps.count;
      parallel_ranges(a.outer * a.out, threads_for(a.outer * a.out * a.inner, 32768, threads_), [&](int64_t b, int64_t e) {
        for (int64_t w = b; w < e; ++w) {
          int64_t o = w / a.out, j = w % a.out;
          float* y = dst + (o * a.out + j) * a.inner;
          if (!a.taps.outside.empty() && a.taps.outside[static_cast<size_t>(j)]) {
            std::fill(y, y + a.inner, extrapolation_);
            continue;
          }
          std::fill(y, y + a.inner, 0.0f);
          for (int64_t t = 0; t < cnt; ++t) {
            size_t k = static_cast<size_t>(j * cnt + t);
            float wt = a.taps.weight[k];
            if (wt == 0.0f) continue;
            const float* x = src + (o * a.in + a.taps.index[k]) * a.inner;
            for (int64_t i = 0; i < a.inner; ++i) y[i] += wt * x[i];
          }
        }
      });
      src = dst;
    }
    return Status::ok();
  }

 private:
  std::vector<AxisPass> passes_;
  int64_t in_count_;
  size_t scratch_;
  float extrapolation_;
  int threads_;
};

Result<std::unique_ptr<Kernel>> make_resize(const KernelSpec& spec) {
  LW_RETURN_IF_ERROR(require_dtype(spec, 0, {DType::kFloat32}));
  const Dims& x = spec.inputs[0].shape.dims();
  const Dims& out = spec.outputs[0].shape.dims();
  const size_t rank = x.size();
  if (out.size() != rank) return kernel_error(spec, StatusCode::kInternal, "output rank disagrees");
  auto const_floats = [&](size_t i) -> std::vector<float> {
    std::vector<float> v;
    if (i < spec.const_inputs.size() && spec.const_inputs[i] && spec.const_inputs[i]->dtype == DType::kFloat32)
      for (uint64_t k = 0; k < spec.const_inputs[i]->numel(); ++k) v.push_back(spec.const_inputs[i]->as<float>()[k]);
    return v;
  };
  std::vector<float> scales = const_floats(2);
  std::vector<float> roi = const_floats(1);
  const std::string mode = spec.node.attr_string("mode", "nearest");
  const std::string ctm = spec.node.attr_string("coordinate_transformation_mode", "half_pixel");
  const std::string nearest_mode = spec.node.attr_string("nearest_mode", "round_prefer_floor");
  const float cubic_a = spec.node.attr_float("cubic_coeff_a", -0.75f);
  const bool exclude_outside = spec.node.attr_int("exclude_outside", 0) != 0;
  const float extrapolation = spec.node.attr_float("extrapolation_value", 0.0f);
  if (ctm == "tf_crop_and_resize" && roi.size() != 2 * rank)
    return kernel_error(spec, StatusCode::kInvalidArgument, "tf_crop_and_resize needs a constant roi of ", 2 * rank,
                        " values");
  if (!scales.empty() && scales.size() != rank)
    return kernel_error(spec, StatusCode::kInvalidArgument, "scales has ", scales.size(), " values, expected ", rank);

  std::vector<AxisPass> passes;
  Dims cur = x;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t in_d = x[d], out_d = out[d];
    float scale = scales.empty() ? (in_d > 0 ? static_cast<float>(out_d) / static_cast<float>(in_d) : 1.0f) : scales[d];
    bool identity = in_d == out_d && scale == 1.0f && ctm != "tf_crop_and_resize";
    if (identity) continue;
    if (in_d == 0 && out_d > 0) return kernel_error(spec, StatusCode::kInvalidArgument, "cannot resize an empty dim");
    AxisPass a;
    a.outer = numel(Dims(cur.begin(), cur.begin() + static_cast<int64_t>(d)));
    a.in = in_d;
    a.out = out_d;
    a.inner = numel(Dims(cur.begin() + static_cast<int64_t>(d) + 1, cur.end()));
    a.taps.count = mode == "nearest" ? 1 : mode == "linear" ? 2 : 4;
    const size_t cnt = static_cast<size_t>(a.taps.count);
    a.taps.index.assign(static_cast<size_t>(out_d) * cnt, 0);
    a.taps.weight.assign(static_cast<size_t>(out_d) * cnt, 0.0f);
    if (ctm == "tf_crop_and_resize") a.taps.outside.assign(static_cast<size_t>(out_d), 0);
    // ONNX measures the resized length as in * scale when scales are given (not the floored
    // output size); align_corners, pytorch_half_pixel and tf_crop_and_resize depend on it.
    const float out_len = scales.empty() ? static_cast<float>(out_d) : static_cast<float>(in_d) * scale;
    for (int64_t j = 0; j < out_d; ++j) {
      float xo = static_cast<float>(j), xi = 0.0f;
      if (ctm == "half_pixel") xi = (xo + 0.5f) / scale - 0.5f;
      else if (ctm == "pytorch_half_pixel") xi = out_len > 1.0f ? (xo + 0.5f) / scale - 0.5f : 0.0f;
      else if (ctm == "align_corners") xi = out_len == 1.0f ? 0.0f : xo * static_cast<float>(in_d - 1) / (out_len - 1.0f);
      else if (ctm == "asymmetric") xi = xo / scale;
      else if (ctm == "tf_half_pixel_for_nn") xi = (xo + 0.5f) / scale;
      else {  // tf_crop_and_resize
        float s0 = roi[d], e0 = roi[d + rank];
        xi = out_len > 1.0f ? s0 * static_cast<float>(in_d - 1) + xo * (e0 - s0) * static_cast<float>(in_d - 1) / (out_len - 1.0f)
                       : 0.5f * (s0 + e0) * static_cast<float>(in_d - 1);
        if (xi < 0.0f || xi > static_cast<float>(in_d - 1)) {
          a.taps.outside[static_cast<size_t>(j)] = 1;
          continue;
        }
      }
      size_t base = static_cast<size_t>(j) * cnt;
      auto clamp = [&](int64_t i) { return std::clamp<int64_t>(i, 0, in_d - 1); };
      if (mode == "nearest") {
        a.taps.index[base] = clamp(nearest_index(xi, nearest_mode));
        a.taps.weight[base] = 1.0f;
      } else if (mode == "linear") {
        float xc = std::clamp(xi, 0.0f, static_cast<float>(in_d - 1));
        int64_t i0 = static_cast<int64_t>(std::floor(xc));
        float f = xc - static_cast<float>(i0);
        a.taps.index[base] = clamp(i0);
        a.taps.index[base + 1] = clamp(i0 + 1);
        a.taps.weight[base] = 1.0f - f;
        a.taps.weight[base + 1] = f;
      } else {
        int64_t i0 = static_cast<int64_t>(std::floor(xi));
        float f = xi - static_cast<float>(i0);
        float sum = 0.0f;
        for (int64_t t = 0; t < 4; ++t) {
          int64_t idx = i0 - 1 + t;
          float w = cubic_weight(f - static_cast<float>(t - 1), cubic_a);
          if (exclude_outside && (idx < 0 || idx >= in_d)) w = 0.0f;
          a.taps.index[base + static_cast<size_t>(t)] = clamp(idx);
          a.taps.weight[base + static_cast<size_t>(t)] = w;
          sum += w;
        }
        if (exclude_outside && sum != 0.0f)
          for (size_t t = 0; t < 4; ++t) a.taps.weight[base + t] /= sum;
      }
    }
    cur[d] = out_d;
    passes.push_back(std::move(a));
  }
  if (cur != out) return kernel_error(spec, StatusCode::kInternal, "output dims disagree with inference");
  // Intermediate results of every pass but the last, two buffers of the largest one.
  int64_t biggest = 0;
  for (size_t p = 0; p + 1 < passes.size(); ++p) {
    biggest = std::max(biggest, passes[p].outer * passes[p].out * passes[p].inner);
  }
  size_t scratch = static_cast<size_t>(biggest) * sizeof(float) * 2;
  return make_kernel<ResizeKernel>(std::move(passes), numel(x), scratch, extrapolation, spec.num_threads);
}

}  // namespace

void register_resize_kernels(std::vector<KernelEntry>& registry) { registry.push_back({"Resize", guarded<make_resize>}); }

}  // namespace lw::cpu
