"""The raw layer and the exception classes generated from the C status table."""

from __future__ import annotations

import builtins

import wafermon
import wafermon._wafermon as raw
from wafermon import errors
from wafermon._native import cstr


def test_raw_module_exposes_only_ffi_and_lib() -> None:
    public = {name for name in dir(raw) if not name.startswith("_")}
    assert public == {"ffi", "lib"}


def test_every_c_status_has_its_named_class() -> None:
    descs = raw.ffi.new("wm_status_desc **")
    count = raw.ffi.new("size_t *")
    raw.lib.wm_status_descs(descs, count)
    assert count[0] >= 15
    for i in range(1, count[0]):
        desc = descs[0][i]
        name = cstr(desc.exception)
        cls = getattr(wafermon, name)
        assert issubclass(cls, wafermon.WafermonError)
        assert cls.code == desc.code
        assert cls.status == cstr(desc.name)
        assert errors.error_class(desc.code) is cls


def test_exceptions_are_also_the_builtin_kind() -> None:
    assert issubclass(wafermon.TimeoutError, builtins.TimeoutError)
    assert wafermon.TimeoutError is not builtins.TimeoutError
    assert issubclass(wafermon.ConfigError, ValueError)
    assert issubclass(wafermon.MetadataError, TypeError)
    assert issubclass(wafermon.InvalidArgumentError, TypeError)
    assert issubclass(wafermon.IOError, OSError)


def test_versions() -> None:
    assert wafermon.core_version() == "0.1.0"
    assert wafermon.__version__ == "0.1.0"
