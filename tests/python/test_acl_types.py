"""Every pyACL call: a Python type mistake in any argument raises TypeError; an int that does not
fit the C parameter (negative, >= 2^64) is a bad value: a non-zero ret (or the C fallback) and a text."""
import pytest

import acl

S = "str"  # a str parameter
I = "int"  # an unsigned int parameter (pointer, handle, size, index, id)
N = "i32"  # a signed 32-bit parameter (device id, enum, memset value)
L = "list"  # a list of ints

# (module, function, argument kinds)
CALLS = [
    (acl, "init", [S]),
    (acl, "create_data_buffer", [I, I]),
    (acl, "destroy_data_buffer", [I]),
    (acl, "update_data_buffer", [I, I, I]),
    (acl, "get_data_buffer_addr", [I]),
    (acl, "get_data_buffer_size", [I]),
    (acl, "get_data_buffer_size_v2", [I]),
    (acl, "data_type_size", [N]),
    (acl, "create_tensor_desc", [N, L, N]),
    (acl, "destroy_tensor_desc", [I]),
    (acl, "get_tensor_desc_type", [I]),
    (acl, "get_tensor_desc_format", [I]),
    (acl, "get_tensor_desc_size", [I]),
    (acl, "get_tensor_desc_element_count", [I]),
    (acl, "get_tensor_desc_num_dims", [I]),
    (acl, "get_tensor_desc_dim", [I, I]),
    (acl, "get_tensor_desc_dim_v2", [I, I]),
    (acl, "set_tensor_desc_name", [I, S]),
    (acl, "get_tensor_desc_name", [I]),
    (acl.rt, "set_device", [N]),
    (acl.rt, "reset_device", [N]),
    (acl.rt, "create_context", [N]),
    (acl.rt, "destroy_context", [I]),
    (acl.rt, "set_current_context", [I]),
    (acl.rt, "destroy_stream", [I]),
    (acl.rt, "synchronize_stream", [I]),
    (acl.rt, "malloc", [I, N]),
    (acl.rt, "free", [I]),
    (acl.rt, "malloc_host", [I]),
    (acl.rt, "free_host", [I]),
    (acl.rt, "memcpy", [I, I, I, I, N]),
    (acl.rt, "memcpy_async", [I, I, I, I, N, I]),
    (acl.rt, "memset", [I, I, N, I]),
    (acl.mdl, "load_from_file", [S]),
    (acl.mdl, "load_from_mem", [I, I]),
    (acl.mdl, "unload", [I]),
    (acl.mdl, "execute", [I, I, I]),
    (acl.mdl, "execute_async", [I, I, I, I]),
    (acl.mdl, "destroy_desc", [I]),
    (acl.mdl, "get_desc", [I, I]),
    (acl.mdl, "get_num_inputs", [I]),
    (acl.mdl, "get_num_outputs", [I]),
    (acl.mdl, "get_input_size_by_index", [I, I]),
    (acl.mdl, "get_output_size_by_index", [I, I]),
    (acl.mdl, "get_input_dims", [I, I]),
    (acl.mdl, "get_output_dims", [I, I]),
    (acl.mdl, "get_cur_output_dims", [I, I]),
    (acl.mdl, "get_input_name_by_index", [I, I]),
    (acl.mdl, "get_output_name_by_index", [I, I]),
    (acl.mdl, "get_input_format", [I, I]),
    (acl.mdl, "get_output_format", [I, I]),
    (acl.mdl, "get_input_data_type", [I, I]),
    (acl.mdl, "get_output_data_type", [I, I]),
    (acl.mdl, "get_input_index_by_name", [I, S]),
    (acl.mdl, "get_output_index_by_name", [I, S]),
    (acl.mdl, "destroy_dataset", [I]),
    (acl.mdl, "add_dataset_buffer", [I, I]),
    (acl.mdl, "get_dataset_num_buffers", [I]),
    (acl.mdl, "get_dataset_buffer", [I, I]),
    (acl.mdl, "set_dataset_tensor_desc", [I, I, I]),
    (acl.mdl, "get_dataset_tensor_desc", [I, I]),
    (acl.mdl, "bundle_load_from_file", [S]),
    (acl.mdl, "bundle_load_from_mem", [I, I]),
    (acl.mdl, "bundle_get_model_num", [I]),
    (acl.mdl, "bundle_get_model_id", [I, I]),
    (acl.mdl, "bundle_unload", [I]),
]

# Functions whose arguments are all out-parameters in C: no argument to get wrong.
NO_ARGS = [(acl, "finalize"), (acl, "get_recent_err_msg"), (acl.rt, "get_device"), (acl.rt, "get_run_mode"),
           (acl.rt, "get_current_context"), (acl.rt, "create_stream"), (acl.mdl, "create_desc"),
           (acl.mdl, "create_dataset")]

# Harmless valid-typed values: NULL handles, index 0, an empty list, a path that does not exist.
VALID = {S: "/nonexistent/liveweight-test", I: 0, N: 0, L: []}
WRONG = {S: [12, None, 1.5], I: ["1", 1.5, None, [1]], N: ["1", 1.5, None], L: [5, "12", [1.5], None]}
# Ints that fit no parameter of the kind.
OUT_OF_RANGE = {I: [-(2 ** 70), -1, 2 ** 64, 2 ** 80], N: [-(2 ** 31) - 1, 2 ** 31, 2 ** 64, -(2 ** 70)]}


def ids(entry):
    return f"{entry[0].__name__}.{entry[1]}"


def test_every_c_function_is_covered():
    names = {(m.__name__, f) for m, f, _ in CALLS} | {(m.__name__, f) for m, f in NO_ARGS}
    for module in (acl, acl.rt, acl.mdl):
        for f in dir(module):
            if f.startswith("_") or f.isupper() or f in ("rt", "mdl", "util"):
                continue
            if callable(getattr(module, f)):
                assert (module.__name__, f) in names, f"{module.__name__}.{f} has no type test"


@pytest.mark.parametrize("entry", CALLS, ids=ids)
def test_wrong_types_raise_type_error(entry, acl_runtime):
    module, name, kinds = entry
    fn = getattr(module, name)
    for pos, kind in enumerate(kinds):
        for wrong in WRONG[kind]:
            if kind == S and wrong is None and name == "init":
                continue  # init(None) means "no config file", as in pyACL
            args = [VALID[k] for k in kinds]
            args[pos] = wrong
            with pytest.raises(TypeError):
                fn(*args)
    with pytest.raises(TypeError):
        fn(*[VALID[k] for k in kinds], 0, 0, 0)  # too many arguments


@pytest.mark.parametrize("entry", [c for c in CALLS if I in c[2] or N in c[2]], ids=ids)
def test_out_of_range_ints_are_bad_values(entry, acl_runtime):
    """Ints outside the C parameter's range: the call fails the way the C function fails."""
    module, name, kinds = entry
    fn = getattr(module, name)
    for pos, kind in enumerate(kinds):
        if kind not in OUT_OF_RANGE:
            continue
        for bad in OUT_OF_RANGE[kind]:
            acl.get_recent_err_msg()
            args = [VALID[k] for k in kinds]
            args[pos] = bad
            result = fn(*args)
            ret = result[-1] if isinstance(result, tuple) else result
            if name in ("destroy_tensor_desc", "set_tensor_desc_name"):
                assert ret is None  # void in C
            elif name in ("get_tensor_desc_type", "get_tensor_desc_format", "get_input_format",
                          "get_output_format", "get_input_data_type", "get_output_data_type",
                          "get_tensor_desc_dim"):
                assert ret == -1
            elif name.startswith(("get_", "create_", "data_type_size")) and name != "get_desc" \
                    and not isinstance(result, tuple):
                assert ret in (0, "")
            else:
                assert ret != 0, f"{name} arg {pos} = {bad}"
            assert acl.get_recent_err_msg() != "", f"{name} arg {pos} = {bad} left no error text"


@pytest.mark.parametrize("entry", NO_ARGS, ids=lambda e: f"{e[0].__name__}.{e[1]}")
def test_no_argument_calls_refuse_arguments(entry):
    with pytest.raises(TypeError):
        getattr(entry[0], entry[1])(1)


def test_numpy_integers_are_ints(acl_runtime):
    import numpy as np
    ptr, ret = acl.rt.malloc(np.int64(16), np.int32(0))
    assert ret == 0 and ptr != 0
    assert acl.rt.memset(ptr, np.uint64(16), np.int8(7), np.int16(16)) == 0
    assert acl.rt.free(ptr) == 0
