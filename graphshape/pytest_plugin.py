"""pytest plugin (entry point ``graphshape``): a failed graphshape.testing assertion is
reported as what it means (which size, which node, why) at the line of the test that made
it, instead of a traceback through graphshape's internals.

    tests/test_model.py:12: graphshape: model.onnx does not accept H=300, W=300
      H=300, W=300 is invalid
        Gemm (node '/head/head.0/Gemm'): A's inner dim K ... must equal B's K = 32768
            (32*...)*(...) == 32768: 37*37*32 = 43808 != 32768
      valid sizes: ...

``--graphshape-tb`` keeps pytest's usual traceback as well.
"""

from __future__ import annotations

import os

import pytest

from graphshape.testing import ShapeAssertionError


def pytest_addoption(parser):
    group = parser.getgroup("graphshape")
    group.addoption("--graphshape-tb", action="store_true", default=False,
                    help="keep the full traceback for failed graphshape size assertions")


def _test_line(excinfo, item) -> str:
    """file:line of the innermost traceback entry in the test's own file."""
    path = str(getattr(item, "path", "") or "")
    loc = ""
    for entry in excinfo.traceback:
        if os.path.abspath(str(entry.path)) == os.path.abspath(path):
            loc = f"{os.path.relpath(str(entry.path))}:{entry.lineno + 1}"
    return loc or item.nodeid


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if call.excinfo is None or not rep.failed:
        return
    if not call.excinfo.errisinstance(ShapeAssertionError):
        return
    if item.config.getoption("graphshape_tb", False):
        return
    e = call.excinfo.value
    rep.longrepr = f"{_test_line(call.excinfo, item)}: graphshape: {e.readable()}"
