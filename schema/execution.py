"""The schema's execution: graphql-core's, with a short way for the fields of a page.

Most of a page's fields are plain: no arguments, a resolver that reads its object
(strawberry's attribute read, or a function `install_plain_resolvers` put in place).
For those, graphql-core still builds a ResolveInfo, walks its completion steps (the
non-null wrapper, the list, the object) and checks for awaitables, field by field;
on a page of a hundred rows that costs more than the rows. `PageExecution` resolves a
plain field in place:
- a leaf (scalar or enum): its value coerced at once;
- an object, or a list of non-null objects: its value's sub-fields executed at once.
Whatever is not a plain value (an awaitable, a null, an error, a value its type
refuses) goes graphql-core's own way, so that answers and errors are the same, paths
and null propagation included (tests/test_page_execution.py compares the two).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

import strawberry
from graphql import (
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.executor import gather_with_cancel
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.base import PLAIN


class _Light:
    """What a field resolved in place gets as its info: the request's context."""

    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


def _strawberry_type_check(check: Callable | None) -> bool:
    """Whether an object type's is_type_of is none or strawberry's own (an isinstance that
    never reads its info), so that it may be called without one."""
    return check is None or check.__qualname__.endswith("_get_is_type_of.<locals>.is_type_of")


class PageExecution(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, plain fields resolved in place (see the module)."""

    LEAVES: dict[tuple[str, str], tuple[Callable, Callable, bool]] = {}
    # (type, field) -> (resolver, its type, the object type, whether a list of them)
    OBJECTS: dict[tuple[str, str], tuple[Callable, Any, GraphQLObjectType, bool]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._light = _Light(self.context_value)
        middleware = self.middleware_manager  # strawberry passes one, empty without resolve hooks
        plain = middleware is None or not middleware.middlewares
        self._leaves = self.LEAVES if plain else {}
        self._objects = self.OBJECTS if plain else {}

    def execute_field(self, parent_type, source, field_details_list, path, position_context):
        node = field_details_list[0].node
        if node.arguments or node.directives:
            return super().execute_field(parent_type, source, field_details_list, path, position_context)
        key = (parent_type.name, node.name.value)
        leaf = self._leaves.get(key)
        if leaf is not None:
            return self._leaf(leaf, parent_type, source, field_details_list, path, position_context)
        shape = self._objects.get(key)
        if shape is not None:
            return self._object(shape, parent_type, source, field_details_list, path, position_context)
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def _leaf(self, leaf, parent_type, source, field_details_list, path, position_context):
        resolve, coerce, non_null = leaf
        try:
            value = resolve(source, self._light)
            if value is None and not non_null:
                return None
            if value is not None and not self.is_awaitable(value):
                coerced = coerce(value)
                if coerced is not None and coerced is not Undefined:
                    return coerced
        except Exception:  # graphql-core's way reports it
            value = None
        return self._ordinary(value, parent_type, source, field_details_list, path, position_context)

    def _ordinary(self, value, parent_type, source, field_details_list, path, position_context):
        """graphql-core's way for a field resolved in place to something not plain: an
        awaitable is completed as graphql-core completes one; anything else is resolved
        again by graphql-core (a plain resolver reads its object: twice is as once)."""
        if value is None or not self.is_awaitable(value):
            return super().execute_field(parent_type, source, field_details_list, path, position_context)
        field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        info = self.build_resolve_info(field_def, [d.node for d in field_details_list], parent_type, path)
        return self.complete_awaitable_value(field_def.type, field_details_list, info, path, value, position_context)

    def _object(self, shape, parent_type, source, field_details_list, path, position_context):
        resolve, return_type, object_type, listed = shape
        try:
            value = resolve(source, self._light)
        except Exception:  # graphql-core's way reports it
            value = None
        check = object_type.is_type_of
        if listed:
            plain = type(value) is list and all(
                item is not None and not self.is_awaitable(item) and (check is None or check(item, None))
                for item in value
            )
        else:
            plain = value is not None and not self.is_awaitable(value) and (check is None or check(value, None))
        if not plain:
            return self._ordinary(value, parent_type, source, field_details_list, path, position_context)
        try:
            if listed:
                completed = self._items(object_type, field_details_list, path, value, position_context)
            else:
                completed = self.collect_and_execute_subfields(
                    object_type, field_details_list, path, value, position_context
                )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._settled(completed, return_type, field_details_list, path)
        return completed

    async def _settled(self, completed, return_type, field_details_list, path):
        """A field's completion that awaits, its error handled as graphql-core handles one."""
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def _items(self, object_type, field_details_list, path, items: list, position_context):
        """A list of non-null objects completed as graphql-core completes one: an item's
        error propagates to the list (the item may not be null), items that await are
        gathered, and those still running settled in the background when one fails."""
        item_type = GraphQLNonNull(object_type)
        results: list[Any] = []
        waiting: list[int] = []
        try:
            for index, item in enumerate(items):
                item_path = path.add_key(index, None)
                try:
                    completed = self.collect_and_execute_subfields(
                        object_type, field_details_list, item_path, item, position_context
                    )
                except Exception as raw_error:  # raises, unless errors do not propagate
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    results.append(None)
                    continue
                if self.is_awaitable(completed):
                    waiting.append(index)
                    completed = self._settled(completed, item_type, field_details_list, item_path)
                results.append(completed)
        except Exception:
            if waiting:
                self.settle_in_background([results[index] for index in waiting])
            raise
        if not waiting:
            return results
        return self._gathered(results, waiting)

    @staticmethod
    async def _gathered(results: list[Any], waiting: list[int]) -> list[Any]:
        done = await gather_with_cancel(*(results[index] for index in waiting))
        for index, value in zip(waiting, done, strict=True):
            results[index] = value
        return results


def _reads(schema: strawberry.Schema) -> dict[Callable, Callable]:
    """Strawberry's resolver of each field without one of its own (an attribute read, through
    two calls of strawberry's) -> the attribute read itself, with the same signature."""
    reads = {}
    if schema.config.default_resolver is not getattr:
        return reads
    for type_name, graphql_type in schema._schema.type_map.items():
        definition = schema.get_type_by_name(type_name) if isinstance(graphql_type, GraphQLObjectType) else None
        for field in getattr(definition, "fields", ()):
            shown = graphql_type.fields.get(schema.config.name_converter.get_graphql_name(field))
            resolve = getattr(shown, "resolve", None)  # none for a private field
            if field.base_resolver is None and getattr(resolve, "_is_default", False) and field.is_basic_field:
                read = attrgetter(field.python_name)
                reads[resolve] = lambda source, _info, read=read: read(source)
    return reads


def page_execution(schema: strawberry.Schema) -> type[PageExecution]:
    """The PageExecution of `schema` (once its resolvers are installed): its plain fields,
    leaves and objects (or lists of non-null objects) whose type checks read no info, an
    attribute read in place of strawberry's resolver where the field has none of its own."""
    reads = _reads(schema)
    leaves, objects = {}, {}
    for type_name, graphql_type in schema._schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType) or type_name.startswith("__"):
            continue
        for field_name, field in graphql_type.fields.items():
            plain = getattr(field.resolve, "_is_default", False) or field.resolve in PLAIN
            if field.args or not plain:
                continue
            resolve, kind = reads.get(field.resolve, field.resolve), get_nullable_type(field.type)
            if is_leaf_type(kind):
                leaves[type_name, field_name] = (resolve, kind.coerce_output_value, is_non_null_type(field.type))
                continue
            listed = isinstance(kind, GraphQLList)
            if listed and not is_non_null_type(kind.of_type):
                continue
            target = get_nullable_type(kind.of_type) if listed else kind
            if is_object_type(target) and _strawberry_type_check(target.is_type_of):
                objects[type_name, field_name] = (resolve, field.type, target, listed)
    return type("PageExecution", (PageExecution,), {"LEAVES": leaves, "OBJECTS": objects})
