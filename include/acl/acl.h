/*
 * liveweight's AscendCL-compatible C API: the one header to include. It pulls in acl_base.h,
 * acl_rt.h and acl_mdl.h and declares process initialization. Plain C and C++.
 */
#ifndef LIVEWEIGHT_ACL_ACL_H_
#define LIVEWEIGHT_ACL_ACL_H_

#include "acl_base.h"
#include "acl_mdl.h"
#include "acl_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Initializes the process-wide runtime. configPath may be NULL or "" (defaults, then the
 * LW_BACKEND / LW_NUM_THREADS environment variables) or name a JSON file such as
 * {"liveweight": {"backend": "cpu", "threads": 2}}. A second call without aclFinalize returns
 * ACL_ERROR_REPEAT_INITIALIZE and changes nothing (callers may ignore it). Thread-safe. */
ACL_FUNC_VISIBILITY aclError aclInit(const char* configPath);

/* Unloads every model and bundle still loaded, destroys the devices' default contexts and shuts
 * the runtime down; every model id, bundle id and context handle is invalid afterwards except
 * contexts the caller created (destroy them as usual). Handles that are not tied to the runtime
 * (data buffers, tensor descriptions, datasets, model descriptions, aclrtMalloc memory) stay
 * valid. Without a prior aclInit: ACL_ERROR_REPEAT_FINALIZE. aclInit may be called again later. */
ACL_FUNC_VISIBILITY aclError aclFinalize(void);

#ifdef __cplusplus
}
#endif

#endif /* LIVEWEIGHT_ACL_ACL_H_ */
