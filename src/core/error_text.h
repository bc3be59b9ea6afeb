// The thread-local text of the most recent failure, which aclGetRecentErrMsg returns.
#pragma once

#include <string>

namespace lw {

// Replaces this thread's recent error text.
void set_recent_error(std::string text);
// Returns the text and clears it; "" when there is none.
std::string take_recent_error();

}  // namespace lw
