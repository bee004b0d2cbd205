"""Config values from inert OmegaConf nodes (or plain dicts) of an upstream pickle, `${a.b.c}` resolved by us.

OmegaConf itself is never imported: the unpickler turns its nodes into `ConfigNode` records whose state is
plain data, and this reader walks them. Custom resolvers (`${env:X}`) would run code and are never evaluated.
"""

from __future__ import annotations

import re
from typing import Any

from engine.legacy.errors import LegacyError
from engine.legacy.unpickler import ConfigNode

_INTERPOLATION = re.compile(r"\$\{([^${}]*)\}")
MISSING = object()
_MAX_HOPS = 64


class Unresolvable(KeyError):
    """A path that is missing, `???`, or needs a custom resolver."""


class ConfigReader:
    """Reads dotted paths from a config tree of ConfigNodes / dicts.

    Interpolations `${a.b}` (absolute, from the root reached through `_parent`) and `${.a}`, `${..a}`
    (relative) are followed, also through nodes whose value is an interpolation of a whole container
    (upstream's `sampling: ${sampling}`). Custom resolvers (`${env:X}`) are not evaluated: such a value
    counts as missing.
    """

    def get(self, node: Any, path: str, default: Any = MISSING) -> Any:
        try:
            value = self._value(self._walk(node, path.split("."), 0), 0)
        except Unresolvable:
            if default is MISSING:
                raise
            return default
        return value

    # -- navigation --------------------------------------------------------------------------------------
    def _walk(self, node: Any, keys: list[str], hops: int) -> Any:
        for key in keys:
            node = self._child(self._deref(node, hops), key, hops)
        return node

    def _child(self, node: Any, key: str, hops: int) -> Any:
        content = _content(node) if isinstance(node, ConfigNode) else node
        if isinstance(content, dict) and key in content:
            return content[key]
        if isinstance(content, list) and key.isdigit() and int(key) < len(content):
            return content[int(key)]
        raise Unresolvable(key)

    def _deref(self, node: Any, hops: int) -> Any:
        """A node whose whole value is one interpolation stands for the node it points at."""
        while isinstance(node, ConfigNode):
            text = _content(node)
            match = _INTERPOLATION.fullmatch(text) if isinstance(text, str) else None
            if match is None:
                return node
            hops += 1
            if hops > _MAX_HOPS:
                raise LegacyError("the config's interpolations form a cycle")
            node = self._lookup(match.group(1), node, hops)
        return node

    def _lookup(self, ref: str, holder: ConfigNode, hops: int) -> Any:
        ref = ref.strip()
        if ":" in ref or not ref:
            raise Unresolvable(ref)  # a custom resolver (env:, oc.env:, hydra:) would run code; never evaluated
        base = holder.get_state("_parent")
        if ref.startswith("."):
            dots = len(ref) - len(ref.lstrip("."))
            for _ in range(dots - 1):
                base = base.get_state("_parent") if isinstance(base, ConfigNode) else None
            ref = ref[dots:]
        else:
            for _ in range(_MAX_HOPS):
                parent = base.get_state("_parent") if isinstance(base, ConfigNode) else None
                if parent is None:
                    break
                base = parent
        if base is None:
            raise Unresolvable(ref)
        return self._walk(base, ref.split(".") if ref else [], hops)

    # -- values ------------------------------------------------------------------------------------------
    def _value(self, node: Any, hops: int) -> Any:
        if hops > _MAX_HOPS:
            raise LegacyError("the config's interpolations form a cycle")
        node = self._deref(node, hops)
        if not isinstance(node, ConfigNode):
            return node
        value = _content(node)
        if isinstance(value, (dict, list)) or value is None and "_content" in (node.state or {}):
            return node  # a container
        if value == "???":
            raise Unresolvable("???")
        if isinstance(value, str) and "${" in value:  # string interpolation, e.g. "ffs_${dataset.resolution}"
            return _INTERPOLATION.sub(
                lambda m: str(self._value(self._lookup(m.group(1), node, hops + 1), hops + 1)), value
            )
        return value


def _content(node: ConfigNode) -> Any:
    state = node.state if isinstance(node.state, dict) else {}
    return state["_val"] if "_val" in state else state.get("_content")
