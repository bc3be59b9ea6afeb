"""Bundle.save: a checkpoint of the current weights that restores them bit for bit, records the
version it came from (``lw inspect``), works for bundles built without an init graph, and fails
with messages naming the Variable or the path."""
import json
import os
import subprocess

import numpy as np
import pytest

import liveweight
from conftest import BINARY_DIR, model_dir

LW = os.path.join(BINARY_DIR, "lw")


def inspect(path):
    r = subprocess.run([LW, "inspect", str(path), "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_saved_weights_restore_exactly_and_record_the_version(model, tmp_path):
    saved = tmp_path / "saved.om"
    with liveweight.Bundle(model.bundle) as b:
        b.init()
        y_a = b.infer(model.input)[0].copy()
        b.update(model.weights_b)
        first = model.weight_names[0]
        b.update({first: model.weights_b[first] * 0.5})
        assert b.version == 3
        y = b.infer(model.input)[0].copy()
        assert not np.array_equal(y, y_a)
        b.save(saved)
        assert b.version == 3  # saving publishes nothing
        assert np.array_equal(b.infer(model.input)[0], y)

    info = inspect(saved)
    assert info["weights_version"] == 3
    assert inspect(model.bundle)["weights_version"] == 0
    assert [g["role"] for g in info["graphs"]] == ["inference", "weight-init", "weight-update"]

    with liveweight.Bundle(saved) as r:
        assert r.version == 0  # a new session counts its own updates
        r.init()
        out = r.infer(model.input)[0]
        assert np.array_equal(out, y)  # bit for bit
        assert not np.array_equal(out, y_a)
    with liveweight.Bundle(model.bundle) as o:  # the original file is untouched
        o.init()
        assert np.array_equal(o.infer(model.input)[0], y_a)


def test_bundle_without_init_gains_one(tmp_path):
    path = tmp_path / "noinit.om"
    liveweight.build(os.path.join(model_dir("cnn_bn"), "model.onnx"), path, init=False)
    assert [g["role"] for g in inspect(path)["graphs"]] == ["inference", "weight-update"]
    x = np.load(os.path.join(model_dir("cnn_bn"), "input.npy"))
    with open(os.path.join(model_dir("cnn_bn"), "weights.json")) as f:
        manifest = json.load(f)
    weights = {w["name"]: np.load(os.path.join(model_dir("cnn_bn"), w["file"])) for w in manifest}
    saved = tmp_path / "saved.om"
    with liveweight.Bundle(path) as b:
        b.update(weights)
        y = b.infer(x)[0].copy()
        b.save(str(saved))
    info = inspect(saved)
    assert [g["role"] for g in info["graphs"]] == ["inference", "weight-init", "weight-update"]
    assert info["weights_version"] == 1
    with liveweight.Bundle(saved) as r:
        r.init()
        assert np.array_equal(r.infer(x)[0], y)


def test_save_before_any_weight_is_written_names_a_variable(mlp, tmp_path):
    saved = tmp_path / "never.om"
    with liveweight.Bundle(mlp.bundle) as b:
        with pytest.raises(liveweight.Error) as e:
            b.save(saved)
    assert mlp.weight_names[0] + "_var" in str(e.value)
    assert not saved.exists()


def test_save_to_a_missing_directory_names_the_path(mlp, tmp_path):
    bad = tmp_path / "no_such_dir" / "x.om"
    with liveweight.Bundle(mlp.bundle) as b:
        b.init()
        with pytest.raises(liveweight.Error) as e:
            b.save(bad)
    assert str(bad) in str(e.value)


def test_save_after_close_is_an_error(mlp, tmp_path):
    b = liveweight.Bundle(mlp.bundle)
    b.init()
    b.close()
    with pytest.raises(liveweight.Error):
        b.save(tmp_path / "closed.om")
