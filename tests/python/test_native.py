"""The native liveweight package: build, Bundle (init, infer, update, version, variables, close)
against the PyTorch references of tests/models/make_test_models.py."""
import threading

import numpy as np
import pytest

import acl
import liveweight
from conftest import assert_close

ACL_ERROR_INVALID_PARAM = 100000
ACL_ERROR_INVALID_FILE = 100003
ACL_ERROR_INVALID_BUNDLE_MODEL_ID = 148053
ACL_ERROR_FEATURE_UNSUPPORTED = 200006


def test_init_infer_matches_pytorch(model):
    with liveweight.Bundle(model.bundle) as b:
        b.init()
        (y,) = b.infer(model.input)
        assert y.dtype == np.float32
        assert_close(y, model.out_a)


def test_update_by_initializer_name(model):
    with liveweight.Bundle(model.bundle) as b:
        b.init()
        b.update(model.weights_b)
        assert_close(b.infer(model.input)[0], model.out_b)


def test_update_by_variable_name(model):
    with liveweight.Bundle(model.bundle) as b:
        b.init()
        b.update({n + "_var": w for n, w in model.weights_b.items()})
        assert_close(b.infer(model.input)[0], model.out_b)


def test_partial_update_keeps_the_others(model):
    with liveweight.Bundle(model.bundle) as b:
        b.init()
        first = model.weight_names[0]
        b.update({n: w for n, w in model.weights_b.items() if n != first})
        y = b.infer(model.input)[0]
        assert_close(y, model.out_b_skip0)
        assert not np.allclose(y, model.out_b, rtol=1e-4, atol=1e-5)
        b.update({first: model.weights_b[first]})  # completes the set
        assert_close(b.infer(model.input)[0], model.out_b)


def test_version_counts_applied_updates(mlp):
    with liveweight.Bundle(mlp.bundle) as b:
        v0 = b.version
        b.init()
        assert b.version == v0 + 1
        b.update(mlp.weights_b)
        assert b.version == v0 + 2
        with pytest.raises(liveweight.Error):
            b.update({"no_such_weight": np.zeros(3, np.float32)})
        assert b.version == v0 + 2
        b.update({mlp.weight_names[1]: mlp.weights_b[mlp.weight_names[1]]})
        assert b.version == v0 + 3


def test_rejected_update_leaves_weights_unchanged(mlp):
    with liveweight.Bundle(mlp.bundle) as b:
        b.init()
        before = b.infer(mlp.input)[0].tobytes()
        good = mlp.weight_names[0]
        bad = mlp.weight_names[1]
        wrong_shape = np.zeros(mlp.weights_b[bad].size + 1, np.float32)
        with pytest.raises(liveweight.Error) as err:
            b.update({good: mlp.weights_b[good], bad: wrong_shape})
        assert err.value.code != 0 and err.value.message
        assert b.infer(mlp.input)[0].tobytes() == before
        with pytest.raises(liveweight.Error) as err:
            b.update({good: mlp.weights_b[good], "fc9.weight": mlp.weights_b[good]})
        assert err.value.code == ACL_ERROR_INVALID_PARAM
        assert "fc9.weight" in err.value.message
        assert b.infer(mlp.input)[0].tobytes() == before


def test_unknown_and_bad_names(mlp):
    with liveweight.Bundle(mlp.bundle) as b:
        b.init()
        with pytest.raises(liveweight.Error) as err:
            b.update({"unknown": np.zeros(1, np.float32)})
        assert err.value.code == ACL_ERROR_INVALID_PARAM and "unknown" in str(err.value)
        with pytest.raises(TypeError):
            b.update({1: np.zeros(1, np.float32)})
        with pytest.raises(TypeError):
            b.update([("x", np.zeros(1))])


def test_variables_describe_the_weights(model):
    with liveweight.Bundle(model.bundle) as b:
        vs = b.variables
        assert sorted(v.source for v in vs) == sorted(model.weight_names)
        for v in vs:
            w = model.weights_b[v.source]
            assert v.name == v.source + "_var"
            assert v.dtype == np.float32
            assert v.shape == w.shape
            assert v.bytes == w.nbytes


def test_inputs_convert_once_and_outputs_own_their_memory(mlp):
    with liveweight.Bundle(mlp.bundle) as b:
        b.init()
        x64 = mlp.input.astype(np.float64)  # converted to float32 once
        assert_close(b.infer(x64)[0], mlp.out_a)
        xf = np.asfortranarray(mlp.input)   # made C-contiguous
        assert_close(b.infer(xf)[0], mlp.out_a)
        assert_close(b.infer(mlp.input.tolist())[0], mlp.out_a)
        y = b.infer(mlp.input)[0]
        assert y.base is not None and not y.flags.owndata  # a view of liveweight's buffer, no copy
    # The output outlives the bundle: the capsule keeps the buffer alive.
    assert_close(y, mlp.out_a)
    # Weights in float64 and Fortran order convert too.
    with liveweight.Bundle(mlp.bundle) as b:
        b.init()
        b.update({n: np.asfortranarray(w.astype(np.float64)) for n, w in mlp.weights_b.items()})
        assert_close(b.infer(mlp.input)[0], mlp.out_b)


def test_wrong_inputs_raise(mlp):
    with liveweight.Bundle(mlp.bundle) as b:
        b.init()
        with pytest.raises(liveweight.Error):
            b.infer()
        with pytest.raises(liveweight.Error):
            b.infer(mlp.input, mlp.input)
        with pytest.raises(liveweight.Error):
            b.infer(mlp.input[:, :5])


def test_close_and_context_manager(mlp):
    b = liveweight.Bundle(mlp.bundle)
    b.init()
    assert not b.closed
    bundle_id = b.bundle_id
    # The bundle is visible to the acl API: one runtime.
    n, ret = acl.mdl.bundle_get_model_num(bundle_id)
    assert (n, ret) == (3, 0)
    b.close()
    assert b.closed
    b.close()  # idempotent
    for call in (lambda: b.infer(mlp.input), b.init, lambda: b.update(mlp.weights_b)):
        with pytest.raises(liveweight.Error) as err:
            call()
        assert err.value.code == ACL_ERROR_INVALID_BUNDLE_MODEL_ID
    n, ret = acl.mdl.bundle_get_model_num(bundle_id)
    assert ret == ACL_ERROR_INVALID_BUNDLE_MODEL_ID and acl.get_recent_err_msg()
    with liveweight.Bundle(mlp.bundle) as b2:
        pass
    assert b2.closed


def test_open_from_bytes_and_errors(mlp, tmp_path):
    with open(mlp.bundle, "rb") as f:
        data = f.read()
    with liveweight.Bundle(bytearray(data)) as b:
        b.init()
        assert_close(b.infer(mlp.input)[0], mlp.out_a)
    with pytest.raises(liveweight.Error) as err:
        liveweight.Bundle(str(tmp_path / "missing.om"))
    assert err.value.code == ACL_ERROR_INVALID_FILE
    with pytest.raises(liveweight.Error):
        liveweight.Bundle(b"not a bundle")
    with pytest.raises(TypeError):
        liveweight.Bundle(42)


def test_build_options(mlp, tmp_path):
    first = mlp.weight_names[0]
    out = tmp_path / "one.om"
    liveweight.build(mlp.onnx, out, refresh=[first])
    with liveweight.Bundle(out) as b:
        assert [v.source for v in b.variables] == [first]
        b.init()
        assert_close(b.infer(mlp.input)[0], mlp.out_a)
    no_init = tmp_path / "noinit.om"
    liveweight.build(mlp.onnx, no_init, init=False)
    with liveweight.Bundle(no_init) as b:
        with pytest.raises(liveweight.Error) as err:
            b.init()
        assert err.value.code == ACL_ERROR_FEATURE_UNSUPPORTED
        b.update(mlp.weights_b)  # every weight given: the bundle needs no init
        assert_close(b.infer(mlp.input)[0], mlp.out_b)
    with pytest.raises(liveweight.Error):
        liveweight.build(mlp.onnx, tmp_path / "x.om", refresh=["not_an_initializer"])
    with pytest.raises(liveweight.Error):
        liveweight.build(tmp_path / "missing.onnx", tmp_path / "y.om")
    with pytest.raises(ValueError):
        liveweight.build(mlp.onnx, tmp_path / "z.om", refresh=[])
    with pytest.raises(TypeError):
        liveweight.build(mlp.onnx, tmp_path / "z.om", refresh="fc1.weight")


def test_threads_infer_while_updating(mlp):
    """infer() and update() release the GIL and may overlap; every result is one weight set."""
    with liveweight.Bundle(mlp.bundle) as b:
        b.init()
        errors = []

        def infer_loop():
            try:
                for _ in range(20):
                    y = b.infer(mlp.input)[0]
                    if not (np.allclose(y, mlp.out_a, rtol=1e-4, atol=1e-5)
                            or np.allclose(y, mlp.out_b, rtol=1e-4, atol=1e-5)):
                        errors.append("mixed weights")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=infer_loop) for _ in range(2)]
        for t in threads:
            t.start()
        for _ in range(10):
            b.update(mlp.weights_b)
        for t in threads:
            t.join()
        assert errors == []
