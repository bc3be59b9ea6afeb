#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace lw {

namespace {
LogLevel level_from_env() {
  if (const char* v = std::getenv("LW_LOG_LEVEL")) {
    if (!std::strcmp(v, "debug")) return LogLevel::kDebug;
    if (!std::strcmp(v, "info")) return LogLevel::kInfo;
    if (!std::strcmp(v, "warning")) return LogLevel::kWarning;
    if (!std::strcmp(v, "error")) return LogLevel::kError;
  }
  if (const char* v = std::getenv("ASCEND_GLOBAL_LOG_LEVEL")) {
    if (v[0] >= '0' && v[0] <= '3' && v[1] == '\0') return static_cast<LogLevel>(v[0] - '0');
  }
  return LogLevel::kWarning;
}
std::atomic<int>& level_storage() {
  static std::atomic<int> level{static_cast<int>(level_from_env())};
  return level;
}
}  // namespace

LogLevel log_level() { return static_cast<LogLevel>(level_storage().load(std::memory_order_relaxed)); }
void set_log_level(LogLevel level) { level_storage().store(static_cast<int>(level)); }

void log_line(LogLevel level, const std::string& text) {
  static const char* const kNames[] = {"debug", "info", "warning", "error"};
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fprintf(stderr, "[liveweight %s] %s\n", kNames[static_cast<int>(level)], text.c_str());
}

}  // namespace lw
