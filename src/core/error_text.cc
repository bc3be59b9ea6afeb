#include "core/error_text.h"

namespace lw {

namespace {
thread_local std::string t_recent_error;
}

void set_recent_error(std::string text) { t_recent_error = std::move(text); }

std::string take_recent_error() {
  std::string out;
  out.swap(t_recent_error);
  return out;
}

}  // namespace lw
