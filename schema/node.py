"""Relay's Node: any entity by its global id. Each domain registers how to load its types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.types import Info

from schema.base import node_key

NodeLoader = Callable[[Info, int], Awaitable[Any]]

_NODE_LOADERS: dict[str, NodeLoader] = {}


def register_node(type_name: str, load: NodeLoader) -> None:
    assert type_name not in _NODE_LOADERS, f"node type {type_name} registered twice"
    _NODE_LOADERS[type_name] = load


async def resolve_node(info: Info, value: str) -> Any:
    """The node with global id `value`, or None when it is unknown or not the caller's to see."""
    found = node_key(value)
    if found is None:
        return None
    type_name, key = found
    load = _NODE_LOADERS.get(type_name)
    if load is None:
        return None
    return await load(info, key)
