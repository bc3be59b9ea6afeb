"""liveweight.Error: every failure of the native API."""


class Error(Exception):
    """A failed liveweight call.

    ``code`` is the aclError the C API returns for the same failure (e.g. 100000 for
    ACL_ERROR_INVALID_PARAM) and ``message`` the text naming the problem.
    """

    def __init__(self, code, message):
        super().__init__(f"{message} (aclError {code})")
        self.code = int(code)
        self.message = str(message)
