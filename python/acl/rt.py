"""pyACL acl.rt (see the acl package docstring for the conventions)."""
from liveweight import _native as _n

_m = _n.acl_rt
globals().update({k: getattr(_m, k) for k in dir(_m) if not k.startswith("_")})
__all__ = [k for k in dir(_m) if not k.startswith("_")]
del _m
