"""Cost limits on a GraphQL document: depth, aliases, fields and fields of one name.

Strawberry's QueryDepthLimiter and MaxAliasesLimiter walk a fragment again for every
spread of it, so `F0 { ...F1 ...F1 } F1 { ...F2 ...F2 } ...` costs 2^levels. Here each
definition is walked once, and each fragment's figures are computed once and reused by
name, so the work is linear in the document even though the figures (Python ints) count
every expanded selection. A document over a limit aborts the validation before any
other rule looks at it: graphql-core's OverlappingFieldsCanBeMergedRule compares the
fields of one response name pairwise, and the same-name limit keeps that number small;
a smaller budget of its work stays as a second line of defence (`bound_overlap_rule`).

What counts, as strawberry's limiters counted it:
- depth: the nesting of fields, per operation; `{ a { b } }` is 1. Fragments and inline
  fragments add none, and what is under an introspection field (`__schema`, `__type`)
  is not counted, so GraphiQL's introspection query passes any depth limit.
- aliases: aliased fields, over the whole document, once per expansion: a fragment
  with 2 aliases spread 20 times is 40.
- fields: field selections (leaves and `__typename` included), over the whole document,
  once per expansion, introspection included.
- same name: the most fields with one response name (alias, else name) in one merged
  selection set, the set that OverlappingFieldsCanBeMergedRule compares within: the
  fields of an operation's, a field's or a fragment's selection set plus, recursively,
  those of the inline fragments and fragments spread in it (a fragment spread k times
  counts k times; a spread closing a cycle counts nothing). Every selection set of the
  document is measured, those of unused fragments too: the overlap rule visits them.
  Each fragment's counts are a dict computed once (at most one entry per distinct
  response name of the document) and added in as `k * count` (ints) per spread, so
  2^40 expanded copies cost one step per name. A fragment of many names copied into
  many others would still cost spreads x names: that work has an allowance linear in
  the document (MERGES_PER_SELECTION), and a document past it is refused too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)
from graphql.validation.rules import overlapping_fields_can_be_merged
from graphql.validation.validate import ValidationAbortedError

from corridor.settings import Settings

# The code in `extensions` of every limit error.
CODE = "QUERY_TOO_COMPLEX"

# Work units of graphql-core's OverlappingFieldsCanBeMergedRule (about one per pair of
# fields of one response name compared, at 0.5 to 7 microseconds each). The same-name
# limit refuses the repeated fields of one selection set before it runs, but not all of
# its quadratic work: it also compares, pairwise, the sub-selections of same-named
# sibling fields (45 `viewer { role ... 20 times }`: 45 viewers, yet 900 `role` at one
# path, ~400,000 units) and every pair of fragments spread in one set (333 fragments
# of distinct fields), within all the limits. Its default, 500,000, let those run for
# 0.5 to 1.2 s (in bench conditions); 50,000 aborts them ("Validation aborted.") within
# about 0.2 s. GraphiQL's introspection query spends 0; 20 colocated fragments on one
# object, with `__typename` in every selection set (893 fields), spend about 14,000.
OVERLAP_BUDGET = 50_000

# Dict entries that counting response names may look at: this many per selection of
# the document, plus a base. GraphiQL's introspection query and the test documents look
# at 1 to 1.4 per selection. Past it (fragments of many names, each copied into many
# others, or a chain of 400 fragments each adding a name) the document is refused: the
# overlap rule would compare as many fields with fragments.
MERGES_PER_SELECTION = 16
MERGES_BASE = 1_000


@dataclass(frozen=True)
class Figures:
    """Depth, aliases and fields of a selection set, its fragments expanded."""

    depth: int = 0
    aliases: int = 0
    fields: int = 0


@dataclass
class Names:
    """One selection set of an operation, fragment or field (`owner`), inline fragments
    merged in: its fields by response name, and its fragments by number of spreads."""

    owner: Node
    fields: dict[str, int] = field(default_factory=dict)
    spreads: dict[str, int] = field(default_factory=dict)


@dataclass
class Walk:
    """One definition by itself: its figures and selection sets (the first its own)
    without its spreads, and its spreads.

    A spread is (fragment name, level); the level is None under an introspection
    field, where depth is not counted.
    """

    figures: Figures
    spreads: list[tuple[str, int | None]] = field(default_factory=list)
    visited: int = 0
    sets: list[Names] = field(default_factory=list)


@dataclass(frozen=True)
class SameName:
    """The most fields of one response name in one merged selection set, and where."""

    count: int = 0
    name: str = ""
    owner: Node | None = None


@dataclass(frozen=True)
class Operation:
    """An operation's name ("anonymous" if none), node and expanded figures."""

    name: str
    node: OperationDefinitionNode
    figures: Figures


@dataclass
class Measure:
    """The figures of every operation of a document, and the work done to get them."""

    operations: list[Operation]
    # Selection nodes looked at: linear in the document, whatever the figures are.
    visited: int
    same_name: SameName = SameName()
    # Dict entries looked at to merge fragments' name counts into selection sets, and
    # the allowance (linear in `visited`); past it the counting stops.
    merged: int = 0
    allowance: int = 0

    @property
    def aliases(self) -> int:
        return sum(operation.figures.aliases for operation in self.operations)

    @property
    def fields(self) -> int:
        return sum(operation.figures.fields for operation in self.operations)


def walk(definition: FragmentDefinitionNode | OperationDefinitionNode) -> Walk:
    """Walk one definition's selections once, without recursion, noting its spreads.

    The depth is the deepest level of any selection (fields, spreads, inline fragments),
    which is what strawberry's QueryDepthLimiter returned: top-level selections are at
    level 0, a field's selections one below it, an inline fragment's at its own level.
    Each field's selection set starts a merged set of names; an inline fragment's
    selections belong to the set they are in.
    """
    depth = aliases = fields = visited = 0
    spreads: list[tuple[str, int | None]] = []
    sets = [Names(definition)]
    stack: list[tuple[SelectionSetNode, int | None, Names]] = [(definition.selection_set, 0, sets[0])]
    while stack:
        current, level, names = stack.pop()
        for selection in current.selections:
            visited += 1
            if level is not None:
                depth = max(depth, level)
            if isinstance(selection, FieldNode):
                fields += 1
                aliases += selection.alias is not None
                key = (selection.alias or selection.name).value
                names.fields[key] = names.fields.get(key, 0) + 1
                if selection.selection_set:
                    counted = level is not None and not selection.name.value.startswith("__")
                    sets.append(Names(selection))
                    stack.append((selection.selection_set, level + 1 if counted else None, sets[-1]))
            elif isinstance(selection, InlineFragmentNode):
                stack.append((selection.selection_set, level, names))
            else:
                spread = selection.name.value
                names.spreads[spread] = names.spreads.get(spread, 0) + 1
                spreads.append((spread, level))
    return Walk(Figures(depth, aliases, fields), spreads, visited, sets)


def combine(own: Walk, done: dict[str, Figures]) -> Figures:
    """A definition's figures: its own, plus those of each fragment it spreads.

    A fragment missing from `done` counts as nothing: it is unknown (reported by
    KnownFragmentNamesRule) or its spread closes a cycle (NoFragmentCyclesRule).
    """
    depth, aliases, fields = own.figures.depth, own.figures.aliases, own.figures.fields
    for name, level in own.spreads:
        figures = done.get(name)
        if figures is None:
            continue
        aliases += figures.aliases
        fields += figures.fields
        if level is not None:
            depth = max(depth, level + figures.depth)
    return Figures(depth, aliases, fields)


def order(walks: dict[str, Walk]) -> list[str]:
    """Fragment names, each after the fragments it spreads, found without recursion.

    A spread that closes a cycle is skipped, so this ends on any document; every
    spread is followed once in all.
    """
    done: set[str] = set()
    ordered: list[str] = []
    for root in walks:
        if root in done:
            continue
        path = [(root, iter(walks[root].spreads))]
        on_path = {root}
        while path:
            name, spreads = path[-1]
            for spread, _level in spreads:
                if spread in walks and spread not in done and spread not in on_path:
                    path.append((spread, iter(walks[spread].spreads)))
                    on_path.add(spread)
                    break
            else:
                path.pop()
                on_path.discard(name)
                done.add(name)
                ordered.append(name)
    return ordered


class OverAllowance(Exception):
    """Merging name counts went past the document's allowance (MERGES_PER_SELECTION)."""


@dataclass(frozen=True)
class Counts:
    """A fragment's merged set by response name, and its largest count with the name."""

    counts: dict[str, int]
    top: int
    name: str


def add(into: dict[str, int], counts: dict[str, int], times: int) -> None:
    """Add `times` spreads of `counts` into `into`: one step per name, whatever `times`."""
    for name, count in counts.items():
        into[name] = into.get(name, 0) + times * count


def largest(counts: dict[str, int]) -> tuple[int, str]:
    return max(((count, name) for name, count in counts.items()), default=(0, ""))


class Merger:
    """The merged sets' name counts, within an allowance of dict entries looked at.

    A fragment's counts are made once and kept; every other set is merged from them and
    dropped. A fragment missing from `fragments` counts as nothing, as in `combine`.
    """

    def __init__(self, allowance: int) -> None:
        self.fragments: dict[str, Counts] = {}
        self.allowance = allowance
        self.spent = 0
        self.worst = SameName()

    def spend(self, entries: int) -> None:
        self.spent += entries
        if self.spent > self.allowance:
            raise OverAllowance

    def parts(self, names: Names) -> list[tuple[int, Counts]]:
        """(spreads, counts) of each known, non-empty fragment spread in `names`."""
        found = ((times, self.fragments.get(fragment)) for fragment, times in names.spreads.items())
        return [(times, part) for times, part in found if part is not None and part.counts]

    def note(self, top: int, name: str, names: Names) -> None:
        if top > self.worst.count:
            self.worst = SameName(top, name, names.owner)

    def keep(self, fragment: str, names: Names) -> None:
        """Merge a fragment's own set, and keep its counts for the sets that spread it."""
        counts = dict(names.fields)
        self.spend(len(counts))
        for times, part in self.parts(names):
            self.spend(len(part.counts))
            add(counts, part.counts, times)
        top, name = largest(counts)
        self.fragments[fragment] = Counts(counts, top, name)
        self.note(top, name, names)

    def check(self, names: Names) -> None:
        """Merge a set no spread reaches (a field's, an operation's), without copying the
        largest fragment in it: the names of the rest are looked up in it instead, so
        `field { ...F }` costs one step, however many names F has."""
        extra = dict(names.fields)
        self.spend(len(extra))
        parts = self.parts(names)
        if not parts:
            self.note(*largest(extra), names)
            return
        base_times, base = parts.pop(max(range(len(parts)), key=lambda i: len(parts[i][1].counts)))
        for times, part in parts:
            self.spend(len(part.counts))
            add(extra, part.counts, times)
        self.spend(len(extra))
        top, name = base_times * base.top, base.name
        for key, count in extra.items():
            total = count + base_times * base.counts.get(key, 0)
            if (total, key) > (top, name):
                top, name = total, key
        self.note(top, name, names)


def same_names(walks: dict[str, Walk], ordered: list[str], others: list[Walk], allowance: int) -> Merger:
    """The merged sets of a document: the fragments' in `ordered` (each after those it
    spreads), then the fields' and those of `others` (operations, and a second fragment
    of one name); it stops past the allowance."""
    merger = Merger(allowance)
    rest = [names for w in walks.values() for names in w.sets[1:]] + [names for w in others for names in w.sets]
    try:
        for name in ordered:
            merger.keep(name, walks[name].sets[0])
        for names in rest:
            merger.check(names)
    except OverAllowance:
        pass
    return merger


def measure(document: DocumentNode) -> Measure:
    """Figures of each operation in `document`, and the most fields of one name in any
    of its selection sets; each fragment computed once by name."""
    walks: dict[str, Walk] = {}
    operations: list[tuple[OperationDefinitionNode, Walk]] = []
    # Definitions spreads do not reach: a second fragment of a name (graphql-core keeps
    # the last; UniqueFragmentNamesRule reports it, but every rule still visits both).
    others: list[Walk] = []
    for definition in document.definitions:
        if isinstance(definition, FragmentDefinitionNode):
            name = definition.name.value
            if name in walks:
                others.append(walks[name])
            walks[name] = walk(definition)
        elif isinstance(definition, OperationDefinitionNode):
            operations.append((definition, walk(definition)))
    ordered = order(walks)
    done: dict[str, Figures] = {}
    for name in ordered:
        done[name] = combine(walks[name], done)
    everything = [*walks.values(), *others]
    visited = sum(w.visited for w in everything) + sum(w.visited for _, w in operations)
    allowance = MERGES_BASE + MERGES_PER_SELECTION * visited
    merger = same_names(walks, ordered, [*others, *(w for _, w in operations)], allowance)
    return Measure(
        [
            Operation(node.name.value if node.name else "anonymous", node, combine(own, done))
            for node, own in operations
        ],
        visited,
        merger.worst,
        merger.spent,
        allowance,
    )


class TooComplex(ValidationAbortedError):
    """A document over a limit. Raised by a rule, it ends the validation at once."""


def errors(found: Measure, max_depth: int, max_aliases: int, max_fields: int, max_same_name: int) -> list[TooComplex]:
    """The limit errors of a measured document, with the messages strawberry used."""
    extensions = {"code": CODE}
    result = [
        TooComplex(
            f"'{operation.name}' exceeds maximum operation depth of {max_depth}",
            operation.node,
            extensions=extensions,
        )
        for operation in found.operations
        if operation.figures.depth > max_depth
    ]
    if found.aliases > max_aliases:
        result.append(TooComplex(f"{found.aliases} aliases found. Allowed: {max_aliases}", extensions=extensions))
    if found.fields > max_fields:
        result.append(TooComplex(f"{found.fields} fields found. Allowed: {max_fields}", extensions=extensions))
    if found.merged > found.allowance:
        message = (
            f"Fragments spread too widely: over {found.allowance} field names merged into "
            f"selection sets. Allowed: {MERGES_PER_SELECTION} per selection of the document"
        )
        result.append(TooComplex(message, extensions=extensions))
    same = found.same_name
    if same.count > max_same_name:
        # A response name is one token, but a token can be long: keep the message short.
        name = same.name if len(same.name) <= 64 else same.name[:61] + "..."
        message = f"{same.count} fields named '{name}' in one selection set. Allowed: {max_same_name}"
        result.append(TooComplex(message, same.owner, extensions=extensions))
    return result


def limit_rule(
    max_depth: int, max_aliases: int, max_fields: int, max_same_name: int = Settings.max_same_name
) -> type[ValidationRule]:
    """A validation rule enforcing the four limits; make it once per schema.

    The class is part of the validation cache's key, so a new class per request would
    never hit the cache.
    """

    class LimitRule(ValidationRule):
        """Measures the document on entering it; over a limit, aborts the validation.

        graphql-core visits with all rules in parallel, so reporting an error would not
        stop the others from expanding the document; raising ValidationAbortedError
        does, and `validate` returns the errors reported so far plus the raised one.
        The document node is entered before any selection set, whatever the order of
        the rules.
        """

        def enter_document(self, node: DocumentNode, *_args: Any) -> None:
            found = errors(measure(node), max_depth, max_aliases, max_fields, max_same_name)
            if found:
                for error in found[:-1]:
                    self.report_error(error)
                raise found[-1]

    return LimitRule


def bound_overlap_rule(budget: int = OVERLAP_BUDGET) -> None:
    """Cap the work of graphql-core's OverlappingFieldsCanBeMergedRule per document.

    It compares the fields of a response name pairwise, so a document within all the
    limits can still cost seconds (see OVERLAP_BUDGET for the shapes); past its budget
    it aborts the validation ("Validation aborted."). The budget is a module attribute
    that graphql-core reads at the start of each validation and documents as the way
    to lower it.
    """
    overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = budget
