"""Relay's Node: any entity by its global id.

Each Node type owns its lookup: a `resolve_node(info, key)` classmethod that loads
through the request's DataLoaders and applies the type's visibility, so `node(id:)`
and every field that returns the type see the same rule. The types are the schema's
own list (`CorridorSchema.node_types`, from the `types` build_schema passes).
"""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from schema.base import node_key


async def resolve_node(info: Info, value: str) -> Any:
    """The node with global id `value`, or None when it is unknown or not the caller's to see."""
    found = node_key(value)
    if found is None:
        return None
    type_name, key = found
    node_type = info.schema.node_types.get(type_name)
    if node_type is None:
        return None
    return await node_type.resolve_node(info, key)
