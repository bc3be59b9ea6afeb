"""liveweight: load bundles, run inference and refresh weights by name, from Python.

    import liveweight, numpy as np
    liveweight.build("model.onnx", "model.om")
    with liveweight.Bundle("model.om") as b:
        b.init()
        (y,) = b.infer(x)
        b.update({"fc1.weight": w})

Failures raise liveweight.Error (with .code, the aclError, and .message). The pyACL-compatible
API is the separate ``acl`` package; both drive the same runtime.
"""
from ._errors import Error
from . import _native
from ._bundle import Bundle, TensorSpec, Variable, build

__all__ = ["Bundle", "Error", "TensorSpec", "Variable", "build"]
__version__ = "0.1.0"
