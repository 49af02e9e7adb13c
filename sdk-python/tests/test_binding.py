"""The raw layer and the exception classes generated from the C status table."""

from __future__ import annotations

import builtins
import subprocess
import sys
import types

import pytest

import wafermon
import wafermon._wafermon as raw
from wafermon import errors
from wafermon._native import cstr


def test_raw_module_exposes_only_ffi_and_lib() -> None:
    public = {name for name in dir(raw) if not name.startswith("_")}
    assert public == {"ffi", "lib"}


# Status-table names that are Python built-ins: their classes carry the prefix.
PREFIXED = {"IOError": "WafermonIOError", "TimeoutError": "WafermonTimeoutError"}


def test_every_c_status_has_its_named_class() -> None:
    descs = raw.ffi.new("wm_status_desc **")
    count = raw.ffi.new("size_t *")
    raw.lib.wm_status_descs(descs, count)
    assert count[0] >= 15
    for i in range(1, count[0]):
        desc = descs[0][i]
        name = cstr(desc.exception)
        cls = getattr(wafermon, PREFIXED.get(name, name))
        assert issubclass(cls, wafermon.WafermonError)
        assert cls.code == desc.code
        assert cls.status == cstr(desc.name)
        assert errors.error_class(desc.code) is cls


def test_exceptions_are_also_the_builtin_kind() -> None:
    assert issubclass(wafermon.WafermonTimeoutError, builtins.TimeoutError)
    assert wafermon.WafermonTimeoutError is not builtins.TimeoutError
    assert issubclass(wafermon.ConfigError, ValueError)
    assert issubclass(wafermon.MetadataError, TypeError)
    assert issubclass(wafermon.InvalidArgumentError, TypeError)
    assert issubclass(wafermon.WafermonIOError, OSError)


def test_star_import_leaves_the_builtins_alone() -> None:
    """``from wafermon import *`` once replaced ``IOError`` and ``TimeoutError``; run in a fresh
    interpreter so the star import cannot leak into this module."""
    code = (
        "from wafermon import *\n"
        "import builtins\n"
        "assert IOError is builtins.IOError and TimeoutError is builtins.TimeoutError\n"
        "assert WafermonIOError.__name__ == 'WafermonIOError'\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)
    assert "IOError" not in wafermon.__all__ and "TimeoutError" not in wafermon.__all__


@pytest.mark.parametrize("module", [wafermon, errors])
def test_old_names_are_deprecated_aliases(module: types.ModuleType) -> None:
    for old, new in PREFIXED.items():
        with pytest.warns(DeprecationWarning, match=f"{old} is deprecated: use .*{new}"):
            cls = getattr(module, old)
        assert cls is getattr(wafermon, new)
    with pytest.raises(AttributeError):
        _ = module.NoSuchError


def test_versions() -> None:
    assert wafermon.core_version() == "0.1.0"
    assert wafermon.__version__ == "0.1.0"
