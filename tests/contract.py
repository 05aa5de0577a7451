"""Compare the served schema with the app contract (shared/contract/app-contract.graphql)."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
)

# The apps' contract lives beside the repository (../shared); a copy is committed in
# schema/ so that a checkout anywhere (CI) still checks against it. When both exist
# the shared one wins, and the copy must be refreshed when it changes.
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "contract" / "app-contract.graphql"
_COPY = Path(__file__).resolve().parents[1] / "schema" / "app-contract.graphql"
CONTRACT = _SHARED if _SHARED.exists() else _COPY


def load_contract() -> GraphQLSchema:
    return build_schema(CONTRACT.read_text(encoding="utf-8"))


def _kind(t: object) -> str:
    for cls, name in (
        (GraphQLObjectType, "object"),
        (GraphQLInterfaceType, "interface"),
        (GraphQLInputObjectType, "input"),
        (GraphQLEnumType, "enum"),
        (GraphQLScalarType, "scalar"),
        (GraphQLUnionType, "union"),
    ):
        if isinstance(t, cls):
            return name
    return "?"


def _output_compatible(contract_t: object, served_t: object) -> bool:
    # A served output may be stricter (non-null where the contract allows null).
    if str(contract_t) == str(served_t):
        return True
    return isinstance(served_t, GraphQLNonNull) and str(served_t.of_type) == str(contract_t)


def _input_compatible(contract_t: object, served_t: object) -> bool:
    # A served input may be looser (nullable where the contract requires a value).
    if str(contract_t) == str(served_t):
        return True
    return isinstance(contract_t, GraphQLNonNull) and str(contract_t.of_type) == str(served_t)


def differences(contract: GraphQLSchema, served: GraphQLSchema) -> dict[str, str]:
    """Map of "Type" or "Type.field" → what is wrong."""
    out: dict[str, str] = {}
    for name, ctype in contract.type_map.items():
        if name.startswith("__"):
            continue
        stype = served.type_map.get(name)
        if stype is None:
            out[name] = "missing type"
            continue
        if _kind(ctype) != _kind(stype):
            out[name] = f"is {_kind(stype)}, contract says {_kind(ctype)}"
            continue
        if isinstance(ctype, GraphQLEnumType):
            assert isinstance(stype, GraphQLEnumType)
            for value in ctype.values:
                if value not in stype.values:
                    out[f"{name}.{value}"] = "missing enum value"
        elif isinstance(ctype, GraphQLObjectType | GraphQLInterfaceType):
            assert isinstance(stype, GraphQLObjectType | GraphQLInterfaceType)
            served_ifaces = {i.name for i in stype.interfaces}
            for iface in ctype.interfaces:
                if iface.name not in served_ifaces:
                    out[f"{name}@{iface.name}"] = "does not implement interface"
            for fname, cfield in ctype.fields.items():
                key = f"{name}.{fname}"
                sfield = stype.fields.get(fname)
                if sfield is None:
                    out[key] = "missing field"
                    continue
                if not _output_compatible(cfield.type, sfield.type):
                    out[key] = f"type {sfield.type}, contract says {cfield.type}"
                    continue
                for aname, carg in cfield.args.items():
                    sarg = sfield.args.get(aname)
                    if sarg is None:
                        out[f"{key}({aname})"] = "missing argument"
                    elif not _input_compatible(carg.type, sarg.type):
                        out[f"{key}({aname})"] = f"type {sarg.type}, contract says {carg.type}"
                for aname, sarg in sfield.args.items():
                    if (
                        aname not in cfield.args
                        and isinstance(sarg.type, GraphQLNonNull)
                        and sarg.default_value is None
                    ):
                        out[f"{key}({aname})"] = "extra required argument"
        elif isinstance(ctype, GraphQLInputObjectType):
            assert isinstance(stype, GraphQLInputObjectType)
            for fname, cfield in ctype.fields.items():
                sfield = stype.fields.get(fname)
                if sfield is None:
                    out[f"{name}.{fname}"] = "missing input field"
                elif not _input_compatible(cfield.type, sfield.type):
                    out[f"{name}.{fname}"] = f"type {sfield.type}, contract says {cfield.type}"
            for fname, sfield in stype.fields.items():
                if (
                    fname not in ctype.fields
                    and isinstance(sfield.type, GraphQLNonNull)
                    and sfield.default_value is None
                ):
                    out[f"{name}.{fname}"] = "extra required input field"
    return out
