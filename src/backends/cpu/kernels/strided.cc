#include "backends/cpu/kernels/strided.h"

namespace lw::cpu {

Dims broadcast_strides(const Dims& in_dims, const Dims& out_dims) {
  Dims strides(out_dims.size(), 0);
  int64_t s = 1;
  size_t shift = out_dims.size() - in_dims.size();
  for (size_t k = in_dims.size(); k-- > 0;) {
    strides[k + shift] = (in_dims[k] == 1 && out_dims[k + shift] != 1) ? 0 : s;
    s *= in_dims[k];
  }
  return strides;
}

bool broadcasts_to(const Dims& in_dims, const Dims& out_dims) {
  if (in_dims.size() > out_dims.size()) return false;
  size_t shift = out_dims.size() - in_dims.size();
  for (size_t k = 0; k < in_dims.size(); ++k)
    if (in_dims[k] != 1 && in_dims[k] != out_dims[k + shift]) return false;
  return true;
}

Dims permuted_strides(const Dims& in_dims, const Dims& perm) {
  Dims in_strides(in_dims.size(), 1);
  for (size_t k = in_dims.size(); k-- > 1;) in_strides[k - 1] = in_strides[k] * in_dims[k];
  Dims out(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) out[i] = in_strides[static_cast<size_t>(perm[i])];
  return out;
}

StridedPlan make_strided_plan(const Dims& out_dims, const std::vector<Dims>& strides) {
  StridedPlan p;
  p.strides.resize(strides.size());
  p.total = numel(out_dims);
  for (size_t k = 0; k < out_dims.size(); ++k) {
    if (out_dims[k] == 1) continue;
    bool merge = !p.dims.empty();
    if (merge) {
      for (size_t i = 0; i < strides.size(); ++i)
        if (p.strides[i].back() != strides[i][k] * out_dims[k]) merge = false;
    }
    if (merge) {
      p.dims.back() *= out_dims[k];
      for (size_t i = 0; i < strides.size(); ++i) p.strides[i].back() = strides[i][k];
    } else {
      p.dims.push_back(out_dims[k]);
      for (size_t i = 0; i < strides.size(); ++i) p.strides[i].push_back(strides[i][k]);
    }
  }
  if (p.dims.empty()) {
    p.dims.push_back(1);
    for (auto& s : p.strides) s.push_back(0);
  }
  return p;
}

}  // namespace lw::cpu
