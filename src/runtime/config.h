// Runtime configuration: the aclInit JSON file's "liveweight" section, then the environment
// (LW_BACKEND, LW_NUM_THREADS) for what the file leaves unset.
#pragma once

#include "runtime/runtime.h"

namespace lw::rt {

// path may be null or "" (no file). Unknown keys are ignored (CANN configs carry others).
Result<Config> load_config(const char* path);

}  // namespace lw::rt
