// Leveled logging to stderr. The level comes from LW_LOG_LEVEL (debug|info|warning|error) or
// CANN's ASCEND_GLOBAL_LOG_LEVEL (0-3); the default is warning. Thread-safe.
#pragma once

#include "liveweight/str_cat.h"

namespace lw {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

LogLevel log_level();
void set_log_level(LogLevel level);
void log_line(LogLevel level, const std::string& text);

template <typename... Parts>
void log(LogLevel level, const Parts&... parts) {
  if (static_cast<int>(level) < static_cast<int>(log_level())) return;
  log_line(level, str_cat(parts...));
}

}  // namespace lw
