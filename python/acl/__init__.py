"""pyACL-compatible bindings of liveweight's AscendCL C API.

Pointers and handles are ints (NULL is 0), ids are ints, dims are lists, and a function with
out-parameters returns a tuple with ``ret`` last, as in CANN's pyACL::

    import acl
    ret = acl.init()
    ret = acl.rt.set_device(0)
    bundle_id, ret = acl.mdl.bundle_load_from_file("bundle.om")

A wrong Python type raises TypeError; a bad value (a destroyed handle, NULL, an index out of range,
an int that does not fit) returns a non-zero ``ret`` (or the C function's fallback) and leaves a
text for ``acl.get_recent_err_msg()``. The functions call the shared library's C API, so they
share one runtime with C code and with the ``liveweight`` package in the same process.
"""
from liveweight import _native

from . import mdl, rt, util  # noqa: F401  (acl.rt, acl.mdl, acl.util as in pyACL)

_base = _native.acl
init = _base.init
finalize = _base.finalize
get_recent_err_msg = _base.get_recent_err_msg
create_data_buffer = _base.create_data_buffer
destroy_data_buffer = _base.destroy_data_buffer
update_data_buffer = _base.update_data_buffer
get_data_buffer_addr = _base.get_data_buffer_addr
get_data_buffer_size = _base.get_data_buffer_size
get_data_buffer_size_v2 = _base.get_data_buffer_size_v2
data_type_size = _base.data_type_size
create_tensor_desc = _base.create_tensor_desc
destroy_tensor_desc = _base.destroy_tensor_desc
get_tensor_desc_type = _base.get_tensor_desc_type
get_tensor_desc_format = _base.get_tensor_desc_format
get_tensor_desc_size = _base.get_tensor_desc_size
get_tensor_desc_element_count = _base.get_tensor_desc_element_count
get_tensor_desc_num_dims = _base.get_tensor_desc_num_dims
get_tensor_desc_dim = _base.get_tensor_desc_dim
get_tensor_desc_dim_v2 = _base.get_tensor_desc_dim_v2
set_tensor_desc_name = _base.set_tensor_desc_name
get_tensor_desc_name = _base.get_tensor_desc_name

# Constants of acl_base.h (pyACL programs usually define their own; these match them).
ACL_SUCCESS = 0
ACL_ERROR_INVALID_PARAM = 100000
ACL_ERROR_UNINITIALIZE = 100001
ACL_ERROR_REPEAT_INITIALIZE = 100002
ACL_ERROR_INVALID_MODEL_ID = 100011
ACL_ERROR_INVALID_BUNDLE_MODEL_ID = 148053
ACL_DT_UNDEFINED = -1
ACL_FLOAT = 0
ACL_FLOAT16 = 1
ACL_INT8 = 2
ACL_INT32 = 3
ACL_UINT8 = 4
ACL_INT16 = 6
ACL_UINT16 = 7
ACL_UINT32 = 8
ACL_INT64 = 9
ACL_UINT64 = 10
ACL_DOUBLE = 11
ACL_BOOL = 12
ACL_FORMAT_UNDEFINED = -1
ACL_FORMAT_NCHW = 0
ACL_FORMAT_NHWC = 1
ACL_FORMAT_ND = 2
ACL_MEM_MALLOC_HUGE_FIRST = 0
ACL_MEM_MALLOC_HUGE_ONLY = 1
ACL_MEM_MALLOC_NORMAL_ONLY = 2
ACL_MEMCPY_HOST_TO_HOST = 0
ACL_MEMCPY_HOST_TO_DEVICE = 1
ACL_MEMCPY_DEVICE_TO_HOST = 2
ACL_MEMCPY_DEVICE_TO_DEVICE = 3
ACL_MEMCPY_DEFAULT = 4
ACL_DEVICE = 0
ACL_HOST = 1
