"""Each pyACL call used for real, and refused with bad values (NULL, destroyed handles, bad
indices): a non-zero ret (or the C fallback) and a text from acl.get_recent_err_msg()."""
import numpy as np
import pytest

import acl
from conftest import assert_close

INVALID_PARAM = 100000
FLOAT, INT64 = 0, 9
ND, NCHW = 2, 0
H2D, D2H, D2D = 1, 2, 3


def failed(ret):
    """ret is a failure and left a text (the text is then cleared)."""
    return ret != 0 and acl.get_recent_err_msg() != ""


def has_text():
    return acl.get_recent_err_msg() != ""


def test_init_finalize_and_error_text():
    acl.get_recent_err_msg()
    assert acl.get_recent_err_msg() == ""
    ret = acl.init()
    if ret == 0:
        assert failed(acl.init())  # repeat init
        assert acl.finalize() == 0
        assert failed(acl.finalize())  # repeat finalize
        assert acl.init("") == 0
    assert failed(acl.init("/nonexistent/config.json"))  # initialized by now: a second init is refused
    acl.get_recent_err_msg()


def test_devices_and_contexts(acl_runtime):
    assert acl.rt.get_run_mode() == (1, 0)  # ACL_HOST
    assert acl.rt.set_device(0) == 0
    assert acl.rt.get_device() == (0, 0)
    assert failed(acl.rt.set_device(7))
    ctx, ret = acl.rt.create_context(0)
    assert ret == 0 and ctx != 0
    assert acl.rt.get_current_context() == (ctx, 0)
    assert acl.rt.set_current_context(ctx) == 0
    assert acl.rt.destroy_context(ctx) == 0
    assert failed(acl.rt.destroy_context(ctx))       # destroyed
    assert failed(acl.rt.set_current_context(ctx))
    assert failed(acl.rt.destroy_context(0))
    assert acl.rt.get_current_context()[1] != 0 and has_text()
    assert failed(acl.rt.create_context(5)[1])
    assert acl.rt.set_device(0) == 0  # current again for the tests that follow
    assert failed(acl.rt.reset_device(9))


def test_memory(acl_runtime):
    host = np.arange(64, dtype=np.uint8)
    dev, ret = acl.rt.malloc(64, 0)
    assert ret == 0 and dev != 0
    dev2, ret = acl.rt.malloc(64, 2)
    assert ret == 0
    assert acl.rt.memcpy(dev, 64, acl.util.numpy_to_ptr(host), 64, H2D) == 0
    assert acl.rt.memcpy(dev2, 64, dev, 64, D2D) == 0
    assert acl.rt.memset(dev2, 64, 0x5A, 8) == 0
    pinned, ret = acl.rt.malloc_host(64)
    assert ret == 0
    assert acl.rt.memcpy(pinned, 64, dev2, 64, D2H) == 0
    got = acl.util.ptr_to_bytes(pinned, 64)
    assert got == bytes([0x5A] * 8) + host.tobytes()[8:]
    assert failed(acl.rt.memcpy(dev, 32, dev2, 64, D2D))          # count > dest_max
    assert failed(acl.rt.memcpy(dev, 64, 0, 64, H2D))             # NULL src
    assert failed(acl.rt.memcpy(dev, 64, dev2, 64, 99))           # bad kind
    assert failed(acl.rt.memset(dev, 8, 0, 16))
    assert failed(acl.rt.malloc(0, 0)[1])
    assert failed(acl.rt.malloc(16, 42)[1])                      # bad policy
    assert failed(acl.rt.malloc_host(0)[1])
    assert failed(acl.rt.free_host(dev))                          # not host memory
    assert failed(acl.rt.free(pinned))                            # not device memory
    assert acl.rt.free_host(pinned) == 0
    assert acl.rt.free(dev) == 0 and acl.rt.free(dev2) == 0
    assert failed(acl.rt.free(dev))                               # freed twice
    assert failed(acl.rt.free(0))


def test_streams(acl_runtime):
    stream, ret = acl.rt.create_stream()
    assert ret == 0 and stream != 0
    src = np.arange(256, dtype=np.float32)
    dst = np.zeros_like(src)
    dev, _ = acl.rt.malloc(src.nbytes, 0)
    assert acl.rt.memcpy_async(dev, src.nbytes, acl.util.numpy_to_ptr(src), src.nbytes, H2D, stream) == 0
    assert acl.rt.memcpy_async(acl.util.numpy_to_ptr(dst), dst.nbytes, dev, src.nbytes, D2H, stream) == 0
    assert acl.rt.synchronize_stream(stream) == 0
    np.testing.assert_array_equal(dst, src)
    assert failed(acl.rt.memcpy_async(dev, 4, dev, 8, D2D, stream))
    assert acl.rt.synchronize_stream(0) == 0  # the default stream
    assert acl.rt.destroy_stream(stream) == 0
    assert failed(acl.rt.destroy_stream(stream))
    assert failed(acl.rt.synchronize_stream(stream))
    assert acl.rt.free(dev) == 0


def test_data_buffers():
    data = np.zeros(16, np.float32)
    ptr = acl.util.numpy_to_ptr(data)
    buf = acl.create_data_buffer(ptr, data.nbytes)
    assert buf != 0
    assert acl.get_data_buffer_addr(buf) == ptr
    assert acl.get_data_buffer_size(buf) == 64 and acl.get_data_buffer_size_v2(buf) == 64
    assert acl.update_data_buffer(buf, ptr + 16, 32) == 0
    assert (acl.get_data_buffer_addr(buf), acl.get_data_buffer_size_v2(buf)) == (ptr + 16, 32)
    assert failed(acl.update_data_buffer(buf, 0, 8))  # NULL with a size
    assert acl.destroy_data_buffer(buf) == 0
    assert failed(acl.destroy_data_buffer(buf))
    assert acl.get_data_buffer_addr(buf) == 0 and has_text()
    assert acl.get_data_buffer_size_v2(buf) == 0 and has_text()
    assert acl.get_data_buffer_size(0) == 0 and has_text()
    assert acl.create_data_buffer(0, 8) == 0 and has_text()
    empty = acl.create_data_buffer(0, 0)
    assert empty != 0 and acl.destroy_data_buffer(empty) == 0
    assert acl.data_type_size(FLOAT) == 4 and acl.data_type_size(INT64) == 8
    assert acl.data_type_size(-1) == 0 and has_text()
    assert acl.data_type_size(1234) == 0 and has_text()


def test_tensor_descs():
    desc = acl.create_tensor_desc(FLOAT, [2, 3, 4], NCHW)
    assert desc != 0
    assert acl.get_tensor_desc_type(desc) == FLOAT
    assert acl.get_tensor_desc_format(desc) == NCHW
    assert acl.get_tensor_desc_num_dims(desc) == 3
    assert acl.get_tensor_desc_element_count(desc) == 24
    assert acl.get_tensor_desc_size(desc) == 96
    assert acl.get_tensor_desc_dim(desc, 1) == 3
    assert acl.get_tensor_desc_dim_v2(desc, 2) == (4, 0)
    dim, ret = acl.get_tensor_desc_dim_v2(desc, 3)
    assert failed(ret)
    assert acl.get_tensor_desc_dim(desc, 3) == -1 and has_text()
    assert acl.get_tensor_desc_name(desc) == ""
    assert acl.set_tensor_desc_name(desc, "x") is None
    assert acl.get_tensor_desc_name(desc) == "x"
    acl.destroy_tensor_desc(desc)
    assert acl.get_tensor_desc_type(desc) == -1 and has_text()
    assert acl.get_tensor_desc_format(desc) == -1 and has_text()
    assert acl.get_tensor_desc_size(desc) == 0 and has_text()
    assert acl.get_tensor_desc_element_count(desc) == 0 and has_text()
    assert acl.get_tensor_desc_num_dims(desc) == 0 and has_text()
    assert acl.get_tensor_desc_name(desc) == "" and has_text()
    acl.set_tensor_desc_name(desc, "y")
    assert has_text()
    acl.destroy_tensor_desc(desc)
    assert has_text()
    scalar = acl.create_tensor_desc(FLOAT, [], ND)
    assert acl.get_tensor_desc_num_dims(scalar) == 0 and acl.get_tensor_desc_element_count(scalar) == 1
    acl.destroy_tensor_desc(scalar)
    assert acl.create_tensor_desc(FLOAT, [1] * 129, ND) == 0 and has_text()
    assert acl.create_tensor_desc(77, [1], ND) == 0 and has_text()
    assert acl.create_tensor_desc(FLOAT, [2 ** 63], ND) == 0 and has_text()  # does not fit int64


def test_datasets():
    ds = acl.mdl.create_dataset()
    assert ds != 0
    buf = acl.create_data_buffer(0, 0)
    assert acl.mdl.add_dataset_buffer(ds, buf) == (ds, 0)
    assert acl.mdl.get_dataset_num_buffers(ds) == 1
    assert acl.mdl.get_dataset_buffer(ds, 0) == buf
    assert acl.mdl.get_dataset_buffer(ds, 1) == 0 and has_text()
    assert acl.mdl.get_dataset_tensor_desc(ds, 0) == 0
    desc = acl.create_tensor_desc(FLOAT, [0], ND)
    assert acl.mdl.set_dataset_tensor_desc(ds, desc, 0) == (ds, 0)
    acl.destroy_tensor_desc(desc)  # the dataset holds a copy
    held = acl.mdl.get_dataset_tensor_desc(ds, 0)
    assert held != 0 and acl.get_tensor_desc_dim(held, 0) == 0
    _, ret = acl.mdl.set_dataset_tensor_desc(ds, held, 5)
    assert failed(ret)
    assert acl.mdl.get_dataset_tensor_desc(ds, 5) == 0 and has_text()
    _, ret = acl.mdl.add_dataset_buffer(ds, 0)
    assert failed(ret)
    assert acl.destroy_data_buffer(buf) == 0
    assert acl.mdl.destroy_dataset(ds) == 0
    assert failed(acl.mdl.destroy_dataset(ds))
    assert acl.mdl.get_dataset_num_buffers(ds) == 0 and has_text()
    _, ret = acl.mdl.add_dataset_buffer(ds, buf)
    assert failed(ret)


def run_inference(model_id, x, out_shape):
    """One execute of model_id on x; returns the output (float32, out_shape)."""
    y = np.zeros(out_shape, np.float32)
    ds_in, ds_out = acl.mdl.create_dataset(), acl.mdl.create_dataset()
    bx = acl.create_data_buffer(acl.util.numpy_to_ptr(x), x.nbytes)
    by = acl.create_data_buffer(acl.util.numpy_to_ptr(y), y.nbytes)
    assert acl.mdl.add_dataset_buffer(ds_in, bx)[1] == 0 and acl.mdl.add_dataset_buffer(ds_out, by)[1] == 0
    ret = acl.mdl.execute(model_id, ds_in, ds_out)
    assert ret == 0, acl.get_recent_err_msg()
    out_desc = acl.mdl.get_dataset_tensor_desc(ds_out, 0)
    assert [acl.get_tensor_desc_dim(out_desc, i) for i in range(acl.get_tensor_desc_num_dims(out_desc))] == \
        list(out_shape)
    for h in (bx, by):
        acl.destroy_data_buffer(h)
    acl.mdl.destroy_dataset(ds_in)
    acl.mdl.destroy_dataset(ds_out)
    return y


def test_bundle_descs_and_execute(model, acl_runtime):
    with open(model.bundle, "rb") as f:
        data = f.read()
    bundle_id, ret = acl.mdl.bundle_load_from_mem(acl.util.bytes_to_ptr(data), len(data))
    assert ret == 0
    assert acl.mdl.bundle_get_model_num(bundle_id) == (3, 0)
    infer_id, _ = acl.mdl.bundle_get_model_id(bundle_id, 0)
    init_id, _ = acl.mdl.bundle_get_model_id(bundle_id, 1)
    update_id, _ = acl.mdl.bundle_get_model_id(bundle_id, 2)
    assert failed(acl.mdl.bundle_get_model_id(bundle_id, 3)[1])

    desc = acl.mdl.create_desc()
    assert acl.mdl.get_desc(desc, infer_id) == 0
    assert acl.mdl.get_num_inputs(desc) == 1 and acl.mdl.get_num_outputs(desc) == 1
    x = model.input
    assert acl.mdl.get_input_size_by_index(desc, 0) == x.nbytes
    assert acl.mdl.get_output_size_by_index(desc, 0) == model.out_a.nbytes
    dims, ret = acl.mdl.get_input_dims(desc, 0)
    assert ret == 0 and dims == {"name": "input", "dimCount": x.ndim, "dims": list(x.shape)}
    dims, ret = acl.mdl.get_output_dims(desc, 0)
    assert ret == 0 and dims["dims"] == list(model.out_a.shape) and dims["name"] == "output"
    assert acl.mdl.get_input_name_by_index(desc, 0) == "input"
    assert acl.mdl.get_output_name_by_index(desc, 0) == "output"
    assert acl.mdl.get_input_data_type(desc, 0) == FLOAT and acl.mdl.get_output_data_type(desc, 0) == FLOAT
    assert acl.mdl.get_input_format(desc, 0) >= 0 and acl.mdl.get_output_format(desc, 0) >= 0
    assert acl.mdl.get_input_index_by_name(desc, "input") == (0, 0)
    assert acl.mdl.get_output_index_by_name(desc, "output") == (0, 0)
    # Bad indices and names.
    assert failed(acl.mdl.get_input_dims(desc, 1)[1])
    assert failed(acl.mdl.get_output_dims(desc, 1)[1])
    assert failed(acl.mdl.get_cur_output_dims(desc, 1)[1])
    assert acl.mdl.get_input_size_by_index(desc, 1) == 0 and has_text()
    assert acl.mdl.get_output_size_by_index(desc, 1) == 0 and has_text()
    assert acl.mdl.get_input_name_by_index(desc, 1) == "" and has_text()
    assert acl.mdl.get_output_name_by_index(desc, 1) == "" and has_text()
    assert acl.mdl.get_input_data_type(desc, 1) == -1 and has_text()
    assert acl.mdl.get_output_data_type(desc, 1) == -1 and has_text()
    assert acl.mdl.get_input_format(desc, 1) == -1 and has_text()
    assert acl.mdl.get_output_format(desc, 1) == -1 and has_text()
    assert failed(acl.mdl.get_input_index_by_name(desc, "nope")[1])
    assert failed(acl.mdl.get_output_index_by_name(desc, "nope")[1])
    assert failed(acl.mdl.get_desc(desc, 999999))

    empty_in, empty_out = acl.mdl.create_dataset(), acl.mdl.create_dataset()
    assert acl.mdl.execute(init_id, empty_in, empty_out) == 0
    assert_close(run_inference(infer_id, x, model.out_a.shape), model.out_a)
    dims, ret = acl.mdl.get_cur_output_dims(desc, 0)
    assert ret == 0 and dims["dims"] == list(model.out_a.shape)
    assert failed(acl.mdl.execute(infer_id, empty_in, empty_out))  # missing buffers
    assert failed(acl.mdl.execute(999999, empty_in, empty_out))
    assert failed(acl.mdl.execute(infer_id, 0, empty_out))

    # Update through the update graph, weights named by input, asynchronously on a stream.
    udesc = acl.mdl.create_desc()
    assert acl.mdl.get_desc(udesc, update_id) == 0
    n = acl.mdl.get_num_inputs(udesc)
    ds = acl.mdl.create_dataset()
    bufs = [acl.create_data_buffer(0, 0) for _ in range(n)]
    for b in bufs:
        ds, ret = acl.mdl.add_dataset_buffer(ds, b)
    keep = []
    for name, w in model.weights_b.items():
        w = np.ascontiguousarray(w, np.float32)
        keep.append(w)
        index, ret = acl.mdl.get_input_index_by_name(udesc, name + "_var_data")
        assert ret == 0
        assert acl.update_data_buffer(bufs[index], acl.util.numpy_to_ptr(w), w.nbytes) == 0
        td = acl.create_tensor_desc(FLOAT, list(w.shape), ND)
        ds, ret = acl.mdl.set_dataset_tensor_desc(ds, td, index)
        assert ret == 0
        acl.destroy_tensor_desc(td)
    stream, _ = acl.rt.create_stream()
    assert acl.mdl.execute_async(update_id, ds, empty_out, stream) == 0
    assert acl.rt.synchronize_stream(stream) == 0
    assert failed(acl.mdl.execute_async(999999, ds, empty_out, stream))
    assert acl.rt.destroy_stream(stream) == 0
    assert_close(run_inference(infer_id, x, model.out_b.shape), model.out_b)
    for b in bufs:
        acl.destroy_data_buffer(b)
    for d in (ds, empty_in, empty_out):
        acl.mdl.destroy_dataset(d)

    assert failed(acl.mdl.unload(infer_id))  # a bundle's graph: use bundle_unload
    assert acl.mdl.bundle_unload(bundle_id) == 0
    assert failed(acl.mdl.bundle_unload(bundle_id))
    assert failed(acl.mdl.bundle_get_model_num(bundle_id)[1])
    # The description keeps its own copy after the unload.
    assert acl.mdl.get_num_inputs(desc) == 1
    assert acl.mdl.destroy_desc(desc) == 0 and acl.mdl.destroy_desc(udesc) == 0
    assert failed(acl.mdl.destroy_desc(desc))
    assert acl.mdl.get_num_inputs(desc) == 0 and has_text()
    assert acl.mdl.get_num_outputs(desc) == 0 and has_text()


def test_loading_refusals(mlp, acl_runtime, tmp_path):
    bundle_id, ret = acl.mdl.bundle_load_from_file(mlp.bundle)
    assert ret == 0
    assert acl.mdl.unload(bundle_id) == 0  # the guide's step 9: unload with the bundle id
    assert failed(acl.mdl.load_from_file(mlp.bundle)[1])  # a bundle is not a plain model
    with open(mlp.bundle, "rb") as f:
        data = f.read()
    assert failed(acl.mdl.load_from_mem(acl.util.bytes_to_ptr(data), len(data))[1])
    assert failed(acl.mdl.load_from_file(str(tmp_path / "missing.om"))[1])
    assert failed(acl.mdl.bundle_load_from_file(str(tmp_path / "missing.om"))[1])
    junk = b"\0" * 64
    assert failed(acl.mdl.bundle_load_from_mem(acl.util.bytes_to_ptr(junk), len(junk))[1])
    assert failed(acl.mdl.bundle_load_from_mem(0, 64)[1])
    assert failed(acl.mdl.load_from_mem(0, 64)[1])
    assert failed(acl.mdl.unload(424242))


def test_util():
    b = b"liveweight"
    p = acl.util.bytes_to_ptr(b)
    assert acl.util.ptr_to_bytes(p, len(b)) == b
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    view = acl.util.ptr_to_numpy(acl.util.numpy_to_ptr(a), [3, 4], np.dtype(np.float32).num)
    np.testing.assert_array_equal(view, a)
    view[0, 0] = 42  # a view, not a copy
    assert a[0, 0] == 42
    view2 = acl.util.ptr_to_numpy(acl.util.numpy_to_ptr(a), (12,), np.float32)
    assert view2.shape == (12,) and view2[0] == 42
    assert acl.util.ptr_to_bytes(0, 0) == b""
    with pytest.raises(ValueError):
        acl.util.ptr_to_bytes(0, 4)
    with pytest.raises(ValueError):
        acl.util.ptr_to_bytes(p, -1)
    with pytest.raises(ValueError):
        acl.util.ptr_to_numpy(0, [4], np.dtype(np.float32).num)
    with pytest.raises(ValueError):
        acl.util.ptr_to_numpy(p, [-1], np.dtype(np.float32).num)
    with pytest.raises(ValueError):
        acl.util.numpy_to_ptr(np.asfortranarray(a))
    with pytest.raises(TypeError):
        acl.util.bytes_to_ptr("text")
    with pytest.raises(TypeError):
        acl.util.numpy_to_ptr([1, 2])
    with pytest.raises(TypeError):
        acl.util.ptr_to_bytes("0", 4)
    with pytest.raises(TypeError):
        acl.util.ptr_to_numpy(p, "4", 11)
