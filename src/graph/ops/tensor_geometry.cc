#include "graph/ops/tensor_geometry.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace lw::ir {

namespace {
template <typename... Parts>
Status node_error(const Node& node, const Parts&... parts) {
  return make_error(StatusCode::kParseModel, "node '", node.name, "' (", node.op, "): ", parts...);
}

// Index `v` (negative counts from the end) clamped to [lo, hi]; no overflow for any int64.
int64_t clamp_index(int64_t v, int64_t dim, int64_t lo, int64_t hi) {
  if (v < 0) v = v < -dim ? lo - 1 : v + dim;
  return std::clamp(v, lo, hi);
}
}  // namespace

Result<std::vector<SliceAxis>> slice_geometry(const Node& node, const Dims& in, const Dims& starts, const Dims& ends,
                                              const Dims& axes, const Dims& steps) {
  const int64_t r = static_cast<int64_t>(in.size());
  if (starts.size() != ends.size())
    return node_error(node, "starts has ", starts.size(), " values but ends has ", ends.size());
  if (!axes.empty() && axes.size() != starts.size())
    return node_error(node, "axes has ", axes.size(), " values, expected ", starts.size());
  if (!steps.empty() && steps.size() != starts.size())
    return node_error(node, "steps has ", steps.size(), " values, expected ", starts.size());
  std::vector<SliceAxis> out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = SliceAxis{0, 1, in[i]};
  std::set<int64_t> seen;
  for (size_t k = 0; k < starts.size(); ++k) {
    int64_t a = axes.empty() ? static_cast<int64_t>(k) : axes[k];
    if (a < -r || a >= r) return node_error(node, "axis ", a, " is out of range for rank ", r);
    if (a < 0) a += r;
    if (!seen.insert(a).second) return node_error(node, "axis ", a, " is repeated in axes");
    int64_t step = steps.empty() ? 1 : steps[k];
    if (step == 0) return node_error(node, "steps must not be 0");
    if (step == INT64_MIN) return node_error(node, "step ", step, " is out of range");
    const int64_t dim = in[static_cast<size_t>(a)];
    int64_t s, e;
    if (step > 0) {
      s = clamp_index(starts[k], dim, 0, dim);
      e = clamp_index(ends[k], dim, 0, dim);
    } else {
      s = clamp_index(starts[k], dim, 0, dim - 1);
      e = clamp_index(ends[k], dim, -1, dim - 1);
    }
    int64_t n = 0;
    if (step > 0 && e > s) n = (e - s + step - 1) / step;
    if (step < 0 && s > e) n = (s - e + (-step) - 1) / (-step);
    out[static_cast<size_t>(a)] = SliceAxis{n > 0 ? s : 0, step, n};
  }
  return out;
}

Result<Dims> pad_output_dims(const Node& node, const Dims& in, const Dims& pads) {
  const size_t r = in.size();
  if (pads.size() != 2 * r) return node_error(node, "pads has ", pads.size(), " values, expected ", 2 * r);
  constexpr int64_t kMaxPad = int64_t{1} << 40;
  Dims out(r);
  for (size_t i = 0; i < r; ++i) {
    if (std::abs(pads[i]) > kMaxPad || std::abs(pads[i + r]) > kMaxPad)
      return node_error(node, "pads ", pads, " are out of range");
    if (in[i] < 0) {
      out[i] = kDynamicDim;
      continue;
    }
    out[i] = in[i] + pads[i] + pads[i + r];
    if (out[i] < 0) return node_error(node, "pads ", pads, " crop dim ", i, " (", in[i], ") below zero");
  }
  return out;
}

Result<Dims> resize_output_dims(const Node& node, const Dims& in, const std::vector<float>& scales, const Dims& sizes) {
  const size_t r = in.size();
  if (!scales.empty() && !sizes.empty()) return node_error(node, "only one of 'scales' and 'sizes' may be given");
  if (scales.empty() && sizes.empty()) return node_error(node, "one of 'scales' and 'sizes' is required");
  Dims out(r);
  if (!sizes.empty()) {
    if (sizes.size() != r) return node_error(node, "sizes has ", sizes.size(), " values, expected ", r);
    for (size_t i = 0; i < r; ++i) {
      if (sizes[i] < 0 || sizes[i] > (int64_t{1} << 40)) return node_error(node, "sizes ", sizes, " are out of range");
      out[i] = sizes[i];
    }
    return out;
  }
  if (scales.size() != r) return node_error(node, "scales has ", scales.size(), " values, expected ", r);
  for (size_t i = 0; i < r; ++i) {
    if (!(scales[i] > 0.0f) || !std::isfinite(scales[i]))
      return node_error(node, "scales must be positive and finite, got ", scales[i]);
    if (in[i] < 0) {
      out[i] = kDynamicDim;
      continue;
    }
    double v = std::floor(static_cast<double>(in[i]) * static_cast<double>(scales[i]));
    if (v > static_cast<double>(int64_t{1} << 40)) return node_error(node, "scale ", scales[i], " gives a dim too large");
    out[i] = static_cast<int64_t>(v);
  }
  return out;
}

std::vector<int64_t> perm_attribute(const Node& node, const std::string& name, size_t rank, bool reversed_by_default) {
  std::vector<int64_t> perm;
  if (node.has_attr(name)) {
    perm = node.attr_ints(name);
  } else {
    for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(reversed_by_default ? rank - 1 - i : i));
  }
  if (perm.size() != rank) return {};
  std::vector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[static_cast<size_t>(p)]) return {};
    seen[static_cast<size_t>(p)] = true;
  }
  return perm;
}

}  // namespace lw::ir
