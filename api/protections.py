"""Refuse oversized work early: depth and alias limits as validation rules (cached with
the document, so they cost nothing on repeated queries) and a token limit at parse."""

from __future__ import annotations

from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
)

_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


def _depth(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    visiting: frozenset[str],
    limit: int,
) -> int:
    if selection_set is None:
        return 0
    deepest = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.name.value in _INTROSPECTION_ROOTS:
                # Tooling's introspection query is deep by nature and bounded by the schema.
                continue
            d = (
                1 + _depth(sel.selection_set, fragments, visiting, limit)
                if sel.selection_set
                else 1
            )
        elif isinstance(sel, InlineFragmentNode):
            d = _depth(sel.selection_set, fragments, visiting, limit)
        elif isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            frag = fragments.get(name)
            if frag is None or name in visiting:
                continue  # unknown or cyclic fragments are reported by the standard rules
            d = _depth(frag.selection_set, fragments, visiting | {name}, limit)
        else:
            continue
        deepest = max(deepest, d)
        if deepest > limit:
            break  # no need to walk further once over
    return deepest


def depth_limit_rule(max_depth: int) -> type[ASTValidationRule]:
    class DepthLimitRule(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self._fragments = {
                d.name.value: d
                for d in context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth = _depth(node.selection_set, self._fragments, frozenset(), max_depth)
            if depth > max_depth:
                name = node.name.value if node.name else "anonymous"
                self.report_error(
                    GraphQLError(
                        f"Operation '{name}' exceeds the maximum depth of {max_depth}.",
                        node,
                        extensions={"code": "QUERY_TOO_DEEP"},
                    )
                )

    return DepthLimitRule


def alias_limit_rule(max_aliases: int) -> type[ASTValidationRule]:
    class AliasLimitRule(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self._count = 0
            self._reported = False

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if node.alias is not None:
                self._count += 1
                if self._count > max_aliases and not self._reported:
                    self._reported = True
                    self.report_error(
                        GraphQLError(
                            f"The document uses more than {max_aliases} aliases.",
                            node,
                            extensions={"code": "TOO_MANY_ALIASES"},
                        )
                    )

    return AliasLimitRule
