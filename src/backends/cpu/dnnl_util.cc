#include "backends/cpu/dnnl_util.h"

namespace lw::cpu {

const dnnl::engine& dnnl_cpu_engine() {
  static const dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);  // never destroyed
  return *engine;
}

dnnl::stream& dnnl_thread_stream() {
  thread_local dnnl::stream stream(dnnl_cpu_engine());
  return stream;
}

dnnl::memory::desc plain_desc(const Dims& dims, dnnl::memory::data_type dt) {
  dnnl::memory::dims d(dims.begin(), dims.end());
  dnnl::memory::dims strides(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * std::max<int64_t>(dims[i], 1);
  return dnnl::memory::desc(d, dt, strides);
}

Status dnnl_failure(const ir::Node& node, const char* what, const dnnl::error& e) {
  return make_error(StatusCode::kInternal, "node '", node.name, "' (", node.op, "): oneDNN ", what,
                    " failed: ", e.what(), " (status ", static_cast<int>(e.status), ")");
}

}  // namespace lw::cpu
