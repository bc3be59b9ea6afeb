// Symbol visibility for liveweight's public C++ API. The library builds with hidden visibility
// by default, so only what carries LW_API (or the C API's ACL_FUNC_VISIBILITY) is exported.
#pragma once

#if defined(__GNUC__)
#define LW_API __attribute__((visibility("default")))
#else
#define LW_API
#endif
