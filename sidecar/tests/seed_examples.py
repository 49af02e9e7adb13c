"""The integration examples of the seed documents, read out of their code blocks.

The seeds are the documents the project started from. The ones holding sidecar integration examples
are kept verbatim in tests/seeds/ (WAFERMON_SEEDS_DIR points at another copy, e.g. all of them); every
fenced code block that mentions `"type"`, `"config"` or INTEGRATIONS_CONFIG is a candidate and must be
classified here as one of the example kinds, or excluded for a stated reason — an unclassified candidate
is an error, so a new or changed example cannot slip by.

Kinds: `object` (one `{type, name, enabled, config}` integration), `list` (an `integrations.json`),
`sketch` (a list whose configs are written `{...}`), `settings` (a whole sidecar settings file, the
flat form of seed 002), `env` (`export INTEGRATIONS_CONFIG=$(cat integrations.json)`, with the list it
reads) and `secrets` (a `config` fragment showing `${ENV}` references).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEEDS_DIR = Path(os.environ.get("WAFERMON_SEEDS_DIR") or Path(__file__).resolve().parent / "seeds")
_BLOCK = re.compile(r"^[ \t]*```(?P<lang>\w*)[ \t]*\n(?P<body>.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
_CANDIDATE = re.compile(r'"type"|"config"|INTEGRATIONS_CONFIG')
_ENV_EXPORT = re.compile(r"^export INTEGRATIONS_CONFIG=\$\(cat (?P<file>\S+)\)$")
SKETCH = "{...}"  # the seeds' placeholder for "a config as above"
#: blocks that mention those words but hold no sidecar integration, and why
EXCLUDED = {
    "direct_backends": "the SDK's direct-mode settings (the C core's direct backends, a later issue)",
    "connector_id": "another product's connectors (seed 004's integration layer), not sidecar integrations",
    "stream_id": "another product's stream consumers (seed 004's integration layer), not sidecar integrations",
}


@dataclass(frozen=True)
class Example:
    seed: str  # the seed file's name
    line: int  # the line of the block's opening fence
    kind: str
    doc: Any  # the parsed example (for `env`: the list the variable is set to)
    text: str = ""  # for `env`: the variable's value as the shell sets it

    @property
    def id(self) -> str:
        return f"{self.seed[:3]}-L{self.line}-{self.kind}"


@dataclass(frozen=True)
class Excluded:
    seed: str
    line: int
    reason: str


def read_seeds(directory: Path = SEEDS_DIR) -> tuple[list[Example], list[Excluded]]:
    examples: list[Example] = []
    excluded: list[Excluded] = []
    for path in sorted(directory.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        last_list: tuple[str, Any] | None = None  # the most recent integrations list, as text and parsed
        for match in _BLOCK.finditer(text):
            body, line = match.group("body"), text.count("\n", 0, match.start()) + 1
            if not _CANDIDATE.search(body):
                continue
            reason = next((why for word, why in EXCLUDED.items() if f'"{word}"' in body), None)
            if reason is not None:
                excluded.append(Excluded(path.name, line, reason))
                continue
            if env := _ENV_EXPORT.match(body.strip()):
                if last_list is None:
                    raise ValueError(f"{path.name}:{line}: INTEGRATIONS_CONFIG is read from {env['file']}, unseen")
                examples.append(Example(path.name, line, "env", last_list[1], text=last_list[0].rstrip("\n")))
                continue
            if match.group("lang") != "json":
                raise ValueError(f"{path.name}:{line}: a {match.group('lang') or 'plain'} block names integrations")
            example = _classify(path.name, line, body)
            if example.kind == "list":
                last_list = (body, example.doc)
            examples.append(example)
    return examples, excluded


def _classify(seed: str, line: int, body: str) -> Example:
    sketch = SKETCH in body
    doc = json.loads(body.replace(SKETCH, '"__sketch__"') if sketch else body)
    if isinstance(doc, list) and doc and all(isinstance(e, dict) and "type" in e for e in doc):
        return Example(seed, line, "sketch" if sketch else "list", doc)
    if isinstance(doc, dict) and not sketch:
        if "type" in doc and "config" in doc:
            return Example(seed, line, "object", doc)
        if isinstance(doc.get("backends"), list):
            return Example(seed, line, "settings", doc)
        if set(doc) == {"config"}:
            return Example(seed, line, "secrets", doc)
    raise ValueError(f"{seed}:{line}: a block names integrations but is none of the known example shapes")


def entries(example: Example) -> list[dict[str, Any]]:
    """The integration entries of an example (for `settings`, its `backends`)."""
    if example.kind == "object":
        return [example.doc]
    if example.kind == "settings":
        return list(example.doc["backends"])
    if example.kind in ("list", "sketch", "env"):
        return list(example.doc)
    return []


def fill_sketch(example: Example, objects: list[Example]) -> list[dict[str, Any]]:
    """A sketch's entries with each `{...}` config replaced by the config of the same seed's own
    single example of that type (what the placeholder stands for)."""
    by_type = {o.doc["type"]: o.doc["config"] for o in objects if o.seed == example.seed}
    return [dict(e, config=by_type[e["type"]]) if e.get("config") == "__sketch__" else e for e in example.doc]
