"""liveweight.Bundle and liveweight.build: the native, Pythonic API over lw::Session."""
import os
from typing import NamedTuple, Optional, Sequence, Tuple

import numpy as np

from . import _native


class Variable(NamedTuple):
    """One refreshable weight of a bundle."""

    name: str            # the Variable, "<initializer>_var"
    source: str          # the ONNX initializer it came from ("" when the graph was built by hand)
    dtype: np.dtype
    shape: Tuple[int, ...]
    bytes: int


class TensorSpec(NamedTuple):
    """An input or output of the inference graph; -1 marks a dynamic dim."""

    name: str
    dtype: Optional[np.dtype]
    shape: Tuple[int, ...]


def build(onnx_path, out_path, refresh: Optional[Sequence[str]] = None, init: bool = True) -> None:
    """Builds a bundle from an ONNX model, as ``lw build`` does.

    refresh names the initializers to make refreshable (None: every weight); init=False leaves
    the weight-init graph (and the weights' data) out. Raises liveweight.Error on failure.
    """
    if refresh is None:
        names = []
    else:
        if isinstance(refresh, (str, bytes)):
            raise TypeError("refresh must be a list of initializer names, not a single string")
        names = list(refresh)
        if not names:
            raise ValueError("refresh must name at least one initializer; None makes every weight refreshable")
    if not isinstance(init, bool):
        raise TypeError("init must be a bool")
    _native.build(os.fspath(onnx_path), os.fspath(out_path), names, init)


def _as_array(value, dtype) -> np.ndarray:
    """The array itself when it is already C-contiguous and of `dtype`, else one converted copy."""
    a = value if isinstance(value, np.ndarray) else np.asarray(value)
    if dtype is None:
        return np.ascontiguousarray(a)
    if a.dtype == dtype and a.flags.c_contiguous:
        return a
    return np.ascontiguousarray(a, dtype=dtype)


class Bundle:
    """A loaded bundle: ``Bundle(path_or_bytes)``, then ``init()``, ``infer()``, ``update()``.

    Usable as a context manager (``with liveweight.Bundle(path) as b:``), which closes it on exit.
    infer() and update() may run from several threads at once and release the GIL while they run.
    """

    def __init__(self, source, *, in_place_updates: bool = False, keep_versions: int = 0):
        # in_place_updates: updates overwrite the live weights (no extra memory; an update waits
        # for running inferences). keep_versions: earlier versions kept for rollback().
        opts = dict(in_place_updates=bool(in_place_updates), keep_versions=int(keep_versions))
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._native = _native.NativeBundle.open_bytes(bytes(source), **opts)
        elif isinstance(source, (str, os.PathLike)):
            self._native = _native.NativeBundle.open(os.fspath(source), **opts)
        else:
            raise TypeError(f"Bundle() takes a path or bytes, not {type(source).__name__}")
        self._inputs = [TensorSpec(n, _native.numpy_dtype(t), tuple(d)) for n, t, d in self._native.inputs()]
        self._outputs = [TensorSpec(n, _native.numpy_dtype(t), tuple(d)) for n, t, d in self._native.outputs()]
        self._variables = [Variable(n, s, _native.numpy_dtype(t), tuple(d), b)
                           for n, s, t, d, b in self._native.weights()]
        self._by_name = {}
        for v in self._variables:
            self._by_name[v.name] = v
            if v.source:
                self._by_name[v.source] = v

    # ---- running ----
    def init(self) -> None:
        """Runs the weight-init graph (the weights built into the bundle)."""
        self._native.init()

    def infer(self, *inputs) -> list:
        """Runs the inference graph on the inputs (in graph order); returns the outputs.

        Inputs are passed without a copy when they are C-contiguous numpy arrays of the input's
        dtype, otherwise converted once. The outputs are numpy arrays over liveweight's buffers.
        """
        arrays = [_as_array(x, self._inputs[i].dtype if i < len(self._inputs) else None)
                  for i, x in enumerate(inputs)]
        return self._native.infer(arrays)

    def update(self, weights) -> None:
        """Refreshes the named weights ({initializer or Variable name: array}); the others keep their
        values. The whole update is checked first: an unknown name or a wrong shape changes nothing.
        """
        if not hasattr(weights, "items"):
            raise TypeError(f"update() takes a dict of name -> array, not {type(weights).__name__}")
        prepared = {}
        for name, value in weights.items():
            if not isinstance(name, str):
                raise TypeError(f"weight names must be str, got {type(name).__name__}")
            v = self._by_name.get(name)
            prepared[name] = _as_array(value, v.dtype if v is not None else None)
        self._native.update(prepared)

    def save(self, path) -> None:
        """Saves the current weights as a checkpoint: writes to ``path`` a copy of the bundle file
        whose weight-init graph holds every weight's current value (a bundle built with
        ``init=False`` gains one), so ``init()`` on ``Bundle(path)`` restores them exactly.

        The file records this bundle's ``version`` (``lw inspect`` shows it as weights_version); a
        Bundle opened from it counts its own updates from 0. May run while other threads infer or
        update: the file holds exactly one version. Raises liveweight.Error when a weight was never
        written (no init() or update() yet; the message names it) or the path cannot be written.
        """
        self._native.save(os.fspath(path))

    # ---- facts ----
    @property
    def version(self) -> int:
        """Number of applied weight updates (init counts as one)."""
        return self._native.version()

    @property
    def kept_versions(self) -> list:
        """Earlier versions rollback() accepts, newest first."""
        return list(self._native.kept_versions())

    def rollback(self, version: Optional[int] = None) -> int:
        """Makes a kept version current again (default: the newest kept) without re-sending
        weights; the rollback is itself a new version, which is returned."""
        return self._native.rollback(None if version is None else int(version))

    @property
    def variables(self) -> list:
        """The refreshable weights, as Variable(name, source, dtype, shape, bytes)."""
        return list(self._variables)

    @property
    def inputs(self) -> list:
        return list(self._inputs)

    @property
    def outputs(self) -> list:
        return list(self._outputs)

    @property
    def bundle_id(self) -> int:
        """The id the acl API knows this bundle by (acl.mdl.bundle_get_model_id etc.)."""
        return self._native.bundle_id()

    @property
    def closed(self) -> bool:
        return not self._native.is_open()

    # ---- lifetime ----
    def close(self) -> None:
        """Unloads the bundle; later calls raise liveweight.Error. Calling it again does nothing."""
        self._native.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        state = "closed" if self.closed else f"bundle_id={self.bundle_id}, version={self.version}"
        return f"<liveweight.Bundle {state}, {len(self._variables)} variables>"
