#include "runtime/config.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "backends/cuda/device.h"

namespace lw::rt {

namespace {
Status apply_env(Config& config, bool backend_set, bool threads_set, bool huge_pages_set) {
  if (!backend_set) {
    if (const char* b = std::getenv("LW_BACKEND"); b && *b) config.backend = b;
  }
  if (!threads_set) {
    if (const char* t = std::getenv("LW_NUM_THREADS"); t && *t) {
      char* end = nullptr;
      long n = std::strtol(t, &end, 10);
      if (*end != '\0' || n < 1 || n > 1024)
        return make_error(StatusCode::kInvalidArgument, "LW_NUM_THREADS='", t, "' is not a thread count (1-1024)");
      config.threads = static_cast<int>(n);
    }
  }
  if (config.threads == 0) config.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (config.backend != "cpu" && config.backend != "cuda")
    return make_error(StatusCode::kInvalidDevice, "unknown backend '", config.backend, "' (expected \"cpu\" or \"cuda\")");
  if (const char* t = std::getenv("LW_ALLOW_TF32"); t && *t) config.allow_tf32 = std::string(t) == "1";
  if (!huge_pages_set) {
    if (const char* h = std::getenv("LW_HUGE_PAGES"); h && *h) {
      if (std::strcmp(h, "0") != 0 && std::strcmp(h, "1") != 0)
        return make_error(StatusCode::kInvalidArgument, "LW_HUGE_PAGES='", h, "' must be 0 or 1");
      config.huge_pages = h[0] == '1';
    }
  }
  if (config.backend == "cuda") {
    Status available = cuda::check_available();
    if (!available.is_ok()) return available.with_context("backend \"cuda\": ");
  }
  return Status::ok();
}
}  // namespace

Result<Config> load_config(const char* path) {
  Config config;
  bool backend_set = false, threads_set = false, huge_pages_set = false;
  if (path && *path) {
    std::ifstream f(path);
    if (!f) return make_error(StatusCode::kInvalidFile, "cannot open config file '", path, "': ", std::strerror(errno));
    std::stringstream text;
    text << f.rdbuf();
    nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return make_error(StatusCode::kParseFile, "config file '", path, "' is not valid JSON");
    if (!j.is_object()) return make_error(StatusCode::kParseFile, "config file '", path, "' must hold a JSON object");
    auto lw_it = j.find("liveweight");
    if (lw_it != j.end()) {
      const nlohmann::json& s = *lw_it;
      if (!s.is_object()) return make_error(StatusCode::kParseFile, "config '", path, "': \"liveweight\" must be an object");
      if (auto it = s.find("backend"); it != s.end()) {
        if (!it->is_string()) return make_error(StatusCode::kParseFile, "config '", path, "': \"backend\" must be a string");
        config.backend = it->get<std::string>();
        backend_set = true;
      }
      if (auto it = s.find("threads"); it != s.end()) {
        if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 1024)
          return make_error(StatusCode::kParseFile, "config '", path, "': \"threads\" must be an integer from 1 to 1024");
        config.threads = static_cast<int>(it->get<int64_t>());
        threads_set = true;
      }
      if (auto it = s.find("in_place_updates"); it != s.end()) {
        if (!it->is_boolean()) return make_error(StatusCode::kParseFile, "config '", path, "': \"in_place_updates\" must be true or false");
        config.in_place_updates = it->get<bool>();
      }
      if (auto it = s.find("allow_tf32"); it != s.end()) {
        if (!it->is_boolean()) return make_error(StatusCode::kParseFile, "config '", path, "': \"allow_tf32\" must be true or false");
        config.allow_tf32 = it->get<bool>();
      }
      if (auto it = s.find("huge_pages"); it != s.end()) {
        if (!it->is_boolean()) return make_error(StatusCode::kParseFile, "config '", path, "': \"huge_pages\" must be true or false");
        config.huge_pages = it->get<bool>();
        huge_pages_set = true;
      }
      if (auto it = s.find("keep_versions"); it != s.end()) {
        if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > 1024)
          return make_error(StatusCode::kParseFile, "config '", path, "': \"keep_versions\" must be an integer from 0 to 1024");
        config.keep_versions = static_cast<uint32_t>(it->get<int64_t>());
      }
      Status combo = check_bundle_options({config.in_place_updates, config.keep_versions});
      if (!combo.is_ok()) return make_error(StatusCode::kParseFile, "config '", path, "': ", combo.message());
    }
  }
  LW_RETURN_IF_ERROR(apply_env(config, backend_set, threads_set, huge_pages_set));
  return config;
}

}  // namespace lw::rt
