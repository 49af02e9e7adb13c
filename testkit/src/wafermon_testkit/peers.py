"""What the real peers of the backend tests share: laying a peer out with its fetch.sh (Maven Central
jars, a Go build) the first time it is wanted, the version a pom.xml pins, and the JVM to run on.

Each peer keeps its own start/stop (sidecar/tests_<peer>/<peer>_peer.py); this is only the part that
was the same in all of them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

#: the Java 17 the peers run on (JAVA_HOME, as scripts/test.sh sets it)
JAVA = Path(os.environ.get("JAVA_HOME", "/usr/lib/jvm/java-17-openjdk-amd64")) / "bin" / "java"
#: two cores shared by many processes: the serial collector and the C1 compiler only (heaps are per peer)
LEAN_JVM_OPTIONS = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]


def pom_property(pom: Path, name: str) -> str:
    """The text of <name>…</name> in pom (the version a peer's pom.xml pins). Raises ValueError when absent."""
    text = pom.read_text()
    if f"<{name}>" not in text:
        raise ValueError(f"{pom} has no <{name}>")
    return text.split(f"<{name}>", 1)[1].split("<", 1)[0]


def laid_out(fetch: list[str], ready: Path, what: str) -> None:
    """Run the fetch command (a peer's fetch.sh and its arguments) unless `ready` exists already.
    Raises RuntimeError naming `what` with the end of the script's error output when it fails."""
    if ready.exists():
        return
    done = subprocess.run(fetch, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"cannot lay out the {what} peer with {Path(fetch[0]).name}: {done.stderr[-2000:]}")
