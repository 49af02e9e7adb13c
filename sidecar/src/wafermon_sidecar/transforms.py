"""Reshaping one backend's records: `fields` (keep only these), `rename` (old → new) and a Python hook
registered under the `wafermon.transforms` entry-point group (`transform: <name>`).

Paths are top-level keys or dotted paths into objects (`app.name`, `metadata.lot_id`): `fields`
keeps only the listed paths (the objects around them stay, holding only what was listed; a path an
event lacks is simply absent); `rename` moves the value at each old path to its new path (every old
value is taken out first, then all are put in, so `{a: b, b: a}` swaps), creating objects on the way;
an object a move leaves empty is removed.

A hook is a callable `hook(event: dict) -> dict | None`: it gets the event (a fresh dict it may
change and return) and returns the record to send, or None to filter the event out. An exception
from it (or a value that is neither a dict nor None) dead-letters that event with the reason; the
events beside it go on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from wafermon_schema.settings_loader import SettingsError as ConfigError

ENTRY_POINT_GROUP = "wafermon.transforms"
Record = dict[str, Any]
Hook = Callable[[Record], Record | None]


def parse_path(text: Any, where: str) -> tuple[str, ...]:
    """A dotted path as its parts. Raises ConfigError naming `where` for an empty path or part."""
    if not isinstance(text, str) or not text or any(not part for part in text.split(".")):
        raise ConfigError(f"{where}: {text!r} is not a field path (a key, or keys joined by '.', none empty)", where)
    return tuple(text.split("."))


class Projection:
    """`fields`: keeps only the listed paths of a record."""

    def __init__(self, paths: list[tuple[str, ...]]) -> None:
        tree: dict[str, Any] = {}
        for path in paths:
            node = tree
            for part in path[:-1]:
                child = node.setdefault(part, {})
                if child is True:  # a shorter path already keeps the whole object
                    break
                node = child
            else:
                node[path[-1]] = True
        self.tree = tree
        # The common case, whole top-level fields only, as one comprehension (no per-key recursion).
        self.flat = [key for key, sub in tree.items() if sub is True] if all(v is True for v in tree.values()) else None

    def __call__(self, record: Mapping[str, Any]) -> Record:
        if self.flat is not None:
            return {key: record[key] for key in self.flat if key in record}
        return _project(record, self.tree)


def _project(record: Mapping[str, Any], tree: Mapping[str, Any]) -> Record:
    out: Record = {}
    for key, sub in tree.items():
        if key not in record:
            continue
        value = record[key]
        if sub is True:
            out[key] = value
        elif isinstance(value, dict):
            out[key] = _project(value, sub)
    return out


class Renames:
    """`rename`: moves values from old paths to new ones."""

    def __init__(self, moves: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> None:
        self.moves = moves

    def __call__(self, record: Record) -> Record:
        taken: list[tuple[tuple[str, ...], Any]] = []
        for old, new in self.moves:
            if len(old) == 1:  # a top-level key: no walk
                value = record.pop(old[0], _ABSENT)
                if value is not _ABSENT:
                    taken.append((new, value))
                continue
            found, value = _pop(record, old)
            if found:
                taken.append((new, value))
        for new, value in taken:
            if len(new) == 1:
                record[new[0]] = value
            else:
                _put(record, new, value)
        return record


_ABSENT: Any = object()


def _pop(record: Record, path: tuple[str, ...]) -> tuple[bool, Any]:
    """Takes the value at path out; the objects this leaves empty on the way go too."""
    if len(path) == 2:  # the common nested case (app.name, metadata.lot_id): no list of nodes
        parent = record.get(path[0])
        if not isinstance(parent, dict) or path[1] not in parent:
            return False, None
        value = parent.pop(path[1])
        if not parent:
            del record[path[0]]
        return True, value
    nodes: list[Any] = [record]
    for part in path[:-1]:
        node = nodes[-1]
        nodes.append(node.get(part) if isinstance(node, dict) else None)
    if not isinstance(nodes[-1], dict) or path[-1] not in nodes[-1]:
        return False, None
    value = nodes[-1].pop(path[-1])
    for depth in range(len(path) - 1, 0, -1):
        if nodes[depth]:
            break
        del nodes[depth - 1][path[depth - 1]]
    return True, value


def _put(record: Record, path: tuple[str, ...], value: Any) -> None:
    node = record
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def parse_rename(spec: Any, where: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """`rename` as (old path, new path) pairs. Raises ConfigError naming the key: a path that is not one,
    two old paths given the same new path, or a new path inside another one."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where} must be a mapping of old field path to new field path", where)
    moves = [(parse_path(old, f"{where}.{old}"), parse_path(new, f"{where}.{old}")) for old, new in spec.items()]
    targets: dict[tuple[str, ...], tuple[str, ...]] = {}
    for old, new in moves:
        for other_new, other_old in targets.items():
            if new == other_new or new[: len(other_new)] == other_new or other_new[: len(new)] == new:
                key = f"{where}.{'.'.join(old)}"
                raise ConfigError(
                    f"{key}: its new path {'.'.join(new)!r} collides with that of "
                    f"{'.'.join(other_old)!r} ({'.'.join(other_new)!r}); give each value its own place",
                    key,
                )
        targets[new] = old
    return moves


def installed_hooks() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_hook(name: Any, where: str) -> Hook:
    """The callable registered as `name` under `wafermon.transforms`. Raises ConfigError naming `where`
    when none is, when it cannot be imported, or when it is not callable."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where} must be the name of a {ENTRY_POINT_GROUP} entry point", where)
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not matches:
        known = ", ".join(installed_hooks()) or "none"
        raise ConfigError(f"{where}: no transform {name!r} is installed (group {ENTRY_POINT_GROUP}: {known})", where)
    try:
        hook = matches[0].load()
    except Exception as exc:  # an import error in a third-party module: say which, keep ours
        raise ConfigError(
            f"{where}: transform {name!r} ({matches[0].value}) cannot be loaded: {type(exc).__name__}: {exc}", where
        ) from None
    if not callable(hook):
        raise ConfigError(f"{where}: transform {name!r} ({matches[0].value}) is not callable", where)
    result: Hook = hook
    return result
