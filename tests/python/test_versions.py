"""Issue 6 through the native Python package: kept versions and rollback (outputs restored
exactly, without re-sending weights), and in-place updates (same results, no extra versions)."""
import threading

import numpy as np
import pytest

import liveweight
from conftest import assert_close


def test_rollback_restores_the_earlier_outputs_exactly(mlp):
    with liveweight.Bundle(mlp.bundle, keep_versions=2) as b:
        b.init()
        v_a = b.version
        y_a = b.infer(mlp.input)[0].copy()
        assert_close(y_a, mlp.out_a)
        b.update(mlp.weights_b)
        v_b = b.version
        assert_close(b.infer(mlp.input)[0], mlp.out_b)
        assert b.kept_versions[0] == v_a

        restored = b.rollback()  # the newest kept version: A's weights
        assert restored == v_b + 1  # a rollback publishes a new version
        assert b.version == restored
        y = b.infer(mlp.input)[0]
        assert np.array_equal(y, y_a)  # bit for bit: the same buffers, nothing re-sent

        # Rolling back to B's version (kept when the rollback replaced it) brings B back.
        assert v_b in b.kept_versions
        b.rollback(v_b)
        assert_close(b.infer(mlp.input)[0], mlp.out_b)


def test_rollback_to_a_version_not_kept_is_an_error(mlp):
    with liveweight.Bundle(mlp.bundle, keep_versions=1) as b:
        b.init()
        b.update(mlp.weights_b)
        with pytest.raises(liveweight.Error) as e:
            b.rollback(12345)
        assert "12345" in str(e.value)
    with liveweight.Bundle(mlp.bundle) as b:  # keeps nothing by default
        b.init()
        assert b.kept_versions == []
        with pytest.raises(liveweight.Error):
            b.rollback()


def test_in_place_updates_give_the_same_results(mlp):
    with liveweight.Bundle(mlp.bundle, in_place_updates=True) as b:
        b.init()
        assert_close(b.infer(mlp.input)[0], mlp.out_a)
        v = b.version
        b.update(mlp.weights_b)
        assert b.version == v + 1
        assert_close(b.infer(mlp.input)[0], mlp.out_b)
        assert b.kept_versions == []


def test_in_place_cannot_keep_versions(mlp):
    with pytest.raises(liveweight.Error):
        liveweight.Bundle(mlp.bundle, in_place_updates=True, keep_versions=1)


def test_in_place_inferences_see_one_version_while_updating(mlp):
    # Two weight sets whose outputs differ everywhere; in-place mode holds inferences back while
    # an update writes, so every output is one set's, never a mix.
    with liveweight.Bundle(mlp.bundle, in_place_updates=True) as b:
        b.init()
        ref_a = b.infer(mlp.input)[0].copy()
        b.update(mlp.weights_b)
        ref_b = b.infer(mlp.input)[0].copy()
        stop = threading.Event()
        bad = []

        def reader():
            while not stop.is_set():
                y = b.infer(mlp.input)[0]
                if not (np.array_equal(y, ref_a) or np.array_equal(y, ref_b)):
                    bad.append(y.copy())

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        for i in range(30):
            if i % 2 == 0:
                b.init()  # back to the built-in weights (A)
            else:
                b.update(mlp.weights_b)
        stop.set()
        for t in threads:
            t.join()
        assert not bad, f"{len(bad)} outputs mixed the two weight sets"
