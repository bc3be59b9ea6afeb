// cuBLAS and cuDNN opened with dlopen (see libraries.h for the search order). Each library is
// tried at each candidate location in turn; the first that loads and exports every entry
// point we use wins. A library that is not found leaves its members null and says why in
// *_error, so the kernels take their own paths.
#include "backends/cuda/libraries.h"

#include <dlfcn.h>
#include <glob.h>
#include <link.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace lw::cuda {

namespace {

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0' && std::string(v) != "0";
}

std::string env_string(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// Python site-packages folders where pip puts the nvidia-* wheels. Globbed, not walked:
// a recursive walk of /usr would take seconds.
std::vector<std::string> site_packages_dirs() {
  std::vector<std::string> patterns = {
      "/usr/lib/python3*/site-packages",        "/usr/lib/python3*/dist-packages",
      "/usr/local/lib/python3*/site-packages",  "/usr/local/lib/python3*/dist-packages",
      "/usr/lib64/python3*/site-packages",      "/usr/local/lib64/python3*/site-packages",
      "/opt/*/lib/python3*/site-packages",      "/opt/*/envs/*/lib/python3*/site-packages",
      "/opt/*/*/lib/python3*/site-packages",    "/opt/*/.venv/lib/python3*/site-packages",
  };
  for (const char* var : {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
    std::string prefix = env_string(var);
    if (!prefix.empty()) patterns.push_back(prefix + "/lib/python3*/site-packages");
  }
  std::string home = env_string("HOME");
  if (!home.empty()) {
    for (const char* sub : {"/.local", "/.venv", "/venv", "/*", "/*/envs/*", "/.pyenv/versions/*", "/.conda/envs/*"})
      patterns.push_back(home + sub + "/lib/python3*/site-packages");
  }
  std::vector<std::string> dirs;
  for (const std::string& pattern : patterns) {
    glob_t g{};
    if (glob(pattern.c_str(), GLOB_ONLYDIR | GLOB_NOSORT, nullptr, &g) == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i) dirs.emplace_back(g.gl_pathv[i]);
    globfree(&g);
  }
  return dirs;
}

// Candidate files (or bare sonames for the loader's own search), in search order.
std::vector<std::string> candidates(const char* env_var, const std::string& soname,
                                    const std::vector<std::string>& wheel_dirs) {
  std::vector<std::string> c;
  std::string from_env = env_string(env_var);
  if (!from_env.empty()) c.push_back(from_env);
  c.push_back(soname);
  c.push_back("/usr/local/cuda/lib64/" + soname);
  for (const std::string& site : site_packages_dirs())
    for (const std::string& wheel : wheel_dirs) c.push_back(site + "/nvidia/" + wheel + "/lib/" + soname);
  return c;
}

// Resolves `name` into `*fn`; false (with the name added to `missing`) when absent.
template <typename Fn>
bool resolve(void* lib, const char* name, Fn* fn, std::string* missing) {
  *fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (*fn != nullptr) return true;
  if (!missing->empty()) *missing += ", ";
  *missing += name;
  return false;
}

void clear_cublas(Libraries& l) {
  l.cublasCreate_fn = nullptr;
  l.cublasDestroy_fn = nullptr;
  l.cublasSetStream_fn = nullptr;
  l.cublasSetMathMode_fn = nullptr;
  l.cublasSetWorkspace_fn = nullptr;
  l.cublasGemmEx_fn = nullptr;
  l.cublasGemmStridedBatchedEx_fn = nullptr;
  l.cublasGemmBatchedEx_fn = nullptr;
}

// Tries to bind every cuBLAS entry point from `lib`; on a miss leaves all of them null.
bool bind_cublas(void* lib, Libraries& l, std::string* missing) {
  bool ok = true;
  ok &= resolve(lib, "cublasCreate_v2", &l.cublasCreate_fn, missing);
  ok &= resolve(lib, "cublasDestroy_v2", &l.cublasDestroy_fn, missing);
  ok &= resolve(lib, "cublasSetStream_v2", &l.cublasSetStream_fn, missing);
  ok &= resolve(lib, "cublasSetMathMode", &l.cublasSetMathMode_fn, missing);
  ok &= resolve(lib, "cublasSetWorkspace_v2", &l.cublasSetWorkspace_fn, missing);
  ok &= resolve(lib, "cublasGemmEx", &l.cublasGemmEx_fn, missing);
  ok &= resolve(lib, "cublasGemmStridedBatchedEx", &l.cublasGemmStridedBatchedEx_fn, missing);
  ok &= resolve(lib, "cublasGemmBatchedEx", &l.cublasGemmBatchedEx_fn, missing);
  if (!ok) clear_cublas(l);
  return ok;
}

#if defined(LW_HAVE_CUDNN_HEADERS)
void clear_cudnn(Libraries& l) {
  l.cudnn_version = 0;
  l.cudnnGetVersion_fn = nullptr;
  l.cudnnGetErrorString_fn = nullptr;
  l.cudnnCreate_fn = nullptr;
  l.cudnnDestroy_fn = nullptr;
  l.cudnnSetStream_fn = nullptr;
  l.cudnnCreateTensorDescriptor_fn = nullptr;
  l.cudnnDestroyTensorDescriptor_fn = nullptr;
  l.cudnnSetTensorNdDescriptor_fn = nullptr;
  l.cudnnCreateFilterDescriptor_fn = nullptr;
  l.cudnnDestroyFilterDescriptor_fn = nullptr;
  l.cudnnSetFilterNdDescriptor_fn = nullptr;
  l.cudnnCreateConvolutionDescriptor_fn = nullptr;
  l.cudnnDestroyConvolutionDescriptor_fn = nullptr;
  l.cudnnSetConvolutionNdDescriptor_fn = nullptr;
  l.cudnnSetConvolutionGroupCount_fn = nullptr;
  l.cudnnSetConvolutionMathType_fn = nullptr;
  l.cudnnGetConvolutionForwardAlgorithm_v7_fn = nullptr;
  l.cudnnGetConvolutionForwardWorkspaceSize_fn = nullptr;
  l.cudnnConvolutionForward_fn = nullptr;
  l.cudnnFindConvolutionForwardAlgorithmEx_fn = nullptr;
}

bool bind_cudnn(void* lib, Libraries& l, std::string* missing) {
  bool ok = true;
  ok &= resolve(lib, "cudnnGetVersion", &l.cudnnGetVersion_fn, missing);
  ok &= resolve(lib, "cudnnGetErrorString", &l.cudnnGetErrorString_fn, missing);
  ok &= resolve(lib, "cudnnCreate", &l.cudnnCreate_fn, missing);
  ok &= resolve(lib, "cudnnDestroy", &l.cudnnDestroy_fn, missing);
  ok &= resolve(lib, "cudnnSetStream", &l.cudnnSetStream_fn, missing);
  ok &= resolve(lib, "cudnnCreateTensorDescriptor", &l.cudnnCreateTensorDescriptor_fn, missing);
  ok &= resolve(lib, "cudnnDestroyTensorDescriptor", &l.cudnnDestroyTensorDescriptor_fn, missing);
  ok &= resolve(lib, "cudnnSetTensorNdDescriptor", &l.cudnnSetTensorNdDescriptor_fn, missing);
  ok &= resolve(lib, "cudnnCreateFilterDescriptor", &l.cudnnCreateFilterDescriptor_fn, missing);
  ok &= resolve(lib, "cudnnDestroyFilterDescriptor", &l.cudnnDestroyFilterDescriptor_fn, missing);
  ok &= resolve(lib, "cudnnSetFilterNdDescriptor", &l.cudnnSetFilterNdDescriptor_fn, missing);
  ok &= resolve(lib, "cudnnCreateConvolutionDescriptor", &l.cudnnCreateConvolutionDescriptor_fn, missing);
  ok &= resolve(lib, "cudnnDestroyConvolutionDescriptor", &l.cudnnDestroyConvolutionDescriptor_fn, missing);
  ok &= resolve(lib, "cudnnSetConvolutionNdDescriptor", &l.cudnnSetConvolutionNdDescriptor_fn, missing);
  ok &= resolve(lib, "cudnnSetConvolutionGroupCount", &l.cudnnSetConvolutionGroupCount_fn, missing);
  ok &= resolve(lib, "cudnnSetConvolutionMathType", &l.cudnnSetConvolutionMathType_fn, missing);
  ok &= resolve(lib, "cudnnGetConvolutionForwardAlgorithm_v7", &l.cudnnGetConvolutionForwardAlgorithm_v7_fn, missing);
  ok &= resolve(lib, "cudnnGetConvolutionForwardWorkspaceSize", &l.cudnnGetConvolutionForwardWorkspaceSize_fn,
                missing);
  ok &= resolve(lib, "cudnnConvolutionForward", &l.cudnnConvolutionForward_fn, missing);
  if (ok) {
    std::string optional;
    (void)resolve(lib, "cudnnFindConvolutionForwardAlgorithmEx", &l.cudnnFindConvolutionForwardAlgorithmEx_fn,
                  &optional);
  }
  if (!ok) clear_cudnn(l);
  return ok;
}
#endif

// Walks `paths`; for the first library that opens and binds, records its path and returns
// true. Otherwise fills `*error` with what each candidate said (loader messages of bare
// sonames and existing files; absent wheel paths are not worth listing one by one).
template <typename Bind>
bool open_first(const std::vector<std::string>& paths, Bind bind, std::string* path, std::string* error) {
  std::string why;
  for (const std::string& p : paths) {
    void* lib = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* msg = dlerror();
      bool is_file = p.find('/') != std::string::npos;
      std::string text = msg ? msg : "dlopen failed";
      if (!is_file || text.find("No such file") == std::string::npos) why += (why.empty() ? "" : "; ") + text;
      continue;
    }
    std::string missing;
    if (bind(lib, &missing)) {
      // Report the file the loader picked, not just the soname it was asked for.
      struct link_map* map = nullptr;
      *path = dlinfo(lib, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr && map->l_name && map->l_name[0] ? map->l_name : p;
      error->clear();
      return true;
    }
    why += (why.empty() ? "" : "; ") + p + " lacks " + missing;
    dlclose(lib);
  }
  *error = "not found (tried $LW_*_PATH, the loader's search, /usr/local/cuda/lib64 and Python nvidia wheels)";
  if (!why.empty()) *error += ": " + why;
  return false;
}

Libraries open_libraries() {
  Libraries l;
  if (env_flag("LW_DISABLE_CUBLAS")) {
    l.cublas_error = "disabled by LW_DISABLE_CUBLAS";
  } else {
    open_first(candidates("LW_CUBLAS_PATH", "libcublas.so.13", {"cublas", "cu13"}),
               [&](void* lib, std::string* missing) { return bind_cublas(lib, l, missing); }, &l.cublas_path,
               &l.cublas_error);
  }
#if defined(LW_HAVE_CUDNN_HEADERS)
  if (env_flag("LW_DISABLE_CUDNN")) {
    l.cudnn_error = "disabled by LW_DISABLE_CUDNN";
  } else {
    auto bind = [&](void* lib, std::string* missing) {
      if (!bind_cudnn(lib, l, missing)) return false;
      // The legacy descriptor API keeps its ABI within a major version only.
      size_t v = l.cudnnGetVersion_fn();
      if (v / 10000 != CUDNN_MAJOR) {
        *missing = "a matching major version (library " + std::to_string(v) + ", headers " +
                   std::to_string(CUDNN_VERSION) + ")";
        clear_cudnn(l);
        return false;
      }
      l.cudnn_version = v;
      return true;
    };
    open_first(candidates("LW_CUDNN_PATH", "libcudnn.so.9", {"cudnn"}), bind, &l.cudnn_path, &l.cudnn_error);
  }
#else
  l.cudnn_error = "built without cudnn.h";
#endif
  return l;
}

}  // namespace

const Libraries& libraries() {
  static const Libraries libs = open_libraries();
  return libs;
}

Status create_handles(const Libraries& libs, cudaStream_t stream, ExecHandles* handles) {
  handles->stream = stream;
  handles->cublas = nullptr;
  handles->cudnn = nullptr;
  int tried = 0, made = 0;
  std::string why;
  if (libs.has_cublas()) {
    ++tried;
    cublasHandle_t h = nullptr;
    cublasStatus_t st = libs.cublasCreate_fn(&h);
    if (st == CUBLAS_STATUS_SUCCESS) st = libs.cublasSetStream_fn(h, stream);
    // TF32 is chosen per call through the compute type; the handle itself stays exact.
    if (st == CUBLAS_STATUS_SUCCESS) st = libs.cublasSetMathMode_fn(h, CUBLAS_DEFAULT_MATH);
    if (st == CUBLAS_STATUS_SUCCESS) {
      handles->cublas = h;
      ++made;
    } else {
      if (h != nullptr) libs.cublasDestroy_fn(h);
      why += "cuBLAS handle: status " + std::to_string(static_cast<int>(st));
    }
  }
#if defined(LW_HAVE_CUDNN_HEADERS)
  if (libs.has_cudnn()) {
    ++tried;
    cudnnHandle_t h = nullptr;
    cudnnStatus_t st = libs.cudnnCreate_fn(&h);
    if (st == CUDNN_STATUS_SUCCESS) st = libs.cudnnSetStream_fn(h, stream);
    if (st == CUDNN_STATUS_SUCCESS) {
      handles->cudnn = h;
      ++made;
    } else {
      if (h != nullptr) libs.cudnnDestroy_fn(h);
      if (!why.empty()) why += "; ";
      why += std::string("cuDNN handle: ") + libs.cudnnGetErrorString_fn(st);
    }
  }
#endif
  // One library failing leaves its kernels on their own paths; all failing means the
  // device itself is unusable, which the caller should hear about.
  if (tried > 0 && made == 0) return make_error(StatusCode::kInternal, "cannot create library handles: ", why);
  return Status::ok();
}

void destroy_handles(const Libraries& libs, ExecHandles* handles) {
  if (handles->cublas != nullptr && libs.cublasDestroy_fn != nullptr)
    libs.cublasDestroy_fn(static_cast<cublasHandle_t>(handles->cublas));
  handles->cublas = nullptr;
#if defined(LW_HAVE_CUDNN_HEADERS)
  if (handles->cudnn != nullptr && libs.cudnnDestroy_fn != nullptr)
    libs.cudnnDestroy_fn(static_cast<cudnnHandle_t>(handles->cudnn));
#endif
  handles->cudnn = nullptr;
}

}  // namespace lw::cuda
