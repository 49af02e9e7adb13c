"""The sidecar's native module: an all-valid check of NDJSON event batches over simdjson.

Everything else about the package is in pyproject.toml; setuptools needs this file only for the
extension. The compiler flags are the repository's (-Wall -Wextra -Werror); simdjson's own flags
(SIMDJSON_THREADS_ENABLED, with which Debian built it) come from pkg-config.
"""

import shlex
import subprocess

from setuptools import Extension, setup


def pkg_config(*args: str) -> list[str]:
    try:
        out = subprocess.run(["pkg-config", *args, "simdjson"], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(
            "building wafermon-sidecar needs simdjson (Debian: apt-get install libsimdjson-dev pkg-config; "
            f"scripts/bootstrap.sh does it): {exc}"
        ) from None
    return shlex.split(out)


setup(
    ext_modules=[
        Extension(
            "wafermon_sidecar._eventcheck",
            ["native/eventcheck.cpp"],
            language="c++",
            extra_compile_args=["-std=c++17", "-O3", "-Wall", "-Wextra", "-Werror", *pkg_config("--cflags")],
            extra_link_args=pkg_config("--libs"),
        )
    ]
)
