"""Type-check a mapping set against the source's columns and the target schema, and compile it
to Ibis expressions. Every problem is collected, with the entry and the position in its text,
and raised at once before a single row is read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from accord.errors import did_you_mean
from accord.ingest.exceptions import InvalidMappingError
from accord.ingest.mapping.ast import Binary, Call, Column, Literal, Node, Position, Unary
from accord.ingest.mapping.functions import FUNCTIONS
from accord.ingest.mapping.model import MappingSet
from accord.ingest.mapping.parser import ExpressionSyntaxError, parse_expression
from accord.ingest.mapping.types import Kind, accepts, kind_of
from accord.schema import FieldSpec, FieldType, ResolvedSchema, find, walk


@dataclass
class Compiled:
    value: ir.Value
    kind: Kind
    failures: list[tuple[ir.BooleanValue, str, ir.Value]] = field(default_factory=list)
    """Row conditions under which a call in the expression failed, with a message and the input."""


@dataclass
class MappedFields:
    """Destination path -> compiled value, ready for schema validation."""

    values: dict[str, Compiled]
    sources: dict[str, str]
    """Destination path -> the mapping text it came from, for diagnostics."""


def source_paths(table: ir.Table, hidden: frozenset[str] = frozenset()) -> dict[str, ir.Value]:
    """Every addressable source value: top-level columns, and struct fields by dotted path."""
    found: dict[str, ir.Value] = {}

    def visit(prefix: str, value: ir.Value) -> None:
        found.setdefault(prefix, value)
        dtype = value.type()
        if dtype.is_struct():
            for name in dtype.names:  # type: ignore[attr-defined]
                visit(f"{prefix}.{name}", value[name])  # type: ignore[index]

    for name in table.columns:
        if name not in hidden:
            visit(name, table[name])
    return found


class _Compiler:
    def __init__(self, columns: dict[str, ir.Value], where: str, text: str) -> None:
        self.columns = columns
        self.where = where
        self.text = text
        self.problems: list[dict[str, Any]] = []

    def problem(self, node: Node, message: str) -> None:
        line, column = node.position.line, node.position.column
        source_line = self.text.splitlines()[line - 1] if self.text else ""
        self.problems.append(
            {
                "path": self.where,
                "message": message,
                "line": line,
                "column": column,
                "caret": f"{source_line}\n{' ' * (column - 1)}^",
            }
        )

    def compile(self, node: Node) -> Compiled | None:
        if isinstance(node, Literal):
            return self._literal(node)
        if isinstance(node, Column):
            return self._column(node)
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Unary):
            return self._unary(node)
        return self._binary(node)

    def _literal(self, node: Literal) -> Compiled:
        value = node.value
        if value is None:
            return Compiled(ibis.null(), Kind.null)
        kind = {bool: Kind.boolean, int: Kind.integer, float: Kind.number, str: Kind.string}[type(value)]
        literal = ibis.literal(value, type="int64") if kind == Kind.integer else ibis.literal(value)
        return Compiled(literal, kind)

    def _column(self, node: Column) -> Compiled | None:
        value = self.columns.get(node.path)
        if value is None:
            self.problem(
                node,
                f"unknown column {node.path!r}"
                + did_you_mean(node.path, list(self.columns))
                + f" (the source has: {', '.join(list(self.columns)[:30])})",
            )
            return None
        return Compiled(value, kind_of(value.type()))

    def _call(self, node: Call) -> Compiled | None:
        function = FUNCTIONS.get(node.name)
        if function is None:
            self.problem(node, f"unknown function {node.name!r}" + did_you_mean(node.name, list(FUNCTIONS)))
            return None
        count = len(node.args)
        least = len(function.params) - function.optional
        if count < least or (count > len(function.params) and not function.variadic):
            expected = f"{least}" if not function.optional else f"{least} to {len(function.params)}"
            expected += " or more" if function.variadic else ""
            noun = "argument" if expected == "1" else "arguments"
            self.problem(node, f"{node.name}() takes {expected} {noun}, got {count}")
            return None
        compiled = [self.compile(arg) for arg in node.args]
        if any(c is None for c in compiled):
            return None
        args: list[Compiled] = [c for c in compiled if c is not None]
        literals: list[Any] = [a.value if isinstance(a, Literal) else None for a in node.args]
        ok = True
        for index, (arg_node, arg) in enumerate(zip(node.args, args, strict=True)):
            expected = function.params[min(index, len(function.params) - 1)]
            if not accepts(expected, arg.kind):
                self.problem(
                    arg_node, f"{node.name}() argument {index + 1} must be {expected.value}, not {arg.kind.value}"
                )
                ok = False
            if index in function.literal_args and not isinstance(arg_node, Literal):
                self.problem(arg_node, f"{node.name}() argument {index + 1} must be a literal value")
                ok = False
        if ok and function.literal_check is not None:
            complaint = function.literal_check(literals)
            if complaint:
                self.problem(node, f"{node.name}(): {complaint}")
                ok = False
        if not ok:
            return None
        values = [a.value for a in args]
        result = function.build(values, literals)
        kind = function.returns
        if kind == Kind.any:  # iif/decode/coalesce: the kind of their value arguments
            kinds = (
                {a.kind for a in args[1:] if a.kind != Kind.null}
                if node.name != "coalesce"
                else {a.kind for a in args if a.kind != Kind.null}
            )
            kind = kinds.pop() if len(kinds) == 1 else (Kind.string if kinds else Kind.null)
        failures = [f for a in args for f in a.failures]
        if function.fails_when is not None:
            failures.append((function.fails_when(values, result), f"{node.name}() could not convert", values[0]))
        return Compiled(result, kind, failures)

    def _unary(self, node: Unary) -> Compiled | None:
        operand = self.compile(node.operand)
        if operand is None:
            return None
        if node.op == "!":
            if not accepts(Kind.boolean, operand.kind):
                self.problem(node, f"! needs a boolean, not {operand.kind.value}")
                return None
            return Compiled(~operand.value, Kind.boolean, operand.failures)  # type: ignore[operator]
        if not accepts(Kind.number, operand.kind):
            self.problem(node, f"- needs a number, not {operand.kind.value}")
            return None
        return Compiled(-operand.value, operand.kind, operand.failures)  # type: ignore[operator]

    def _binary(self, node: Binary) -> Compiled | None:
        left, right = self.compile(node.left), self.compile(node.right)
        if left is None or right is None:
            return None
        failures = left.failures + right.failures
        lv: Any = left.value
        rv: Any = right.value
        if node.op in ("&&", "||"):
            if not (accepts(Kind.boolean, left.kind) and accepts(Kind.boolean, right.kind)):
                self.problem(node, f"{node.op} needs booleans, not {left.kind.value} and {right.kind.value}")
                return None
            return Compiled(lv & rv if node.op == "&&" else lv | rv, Kind.boolean, failures)
        numeric = accepts(Kind.number, left.kind) and accepts(Kind.number, right.kind)
        if node.op in ("+", "-", "*", "/", "%"):
            if not numeric:
                self.problem(
                    node,
                    f"{node.op} needs numbers, not {left.kind.value} and {right.kind.value}"
                    + ("; use concat() to join text" if node.op == "+" else ""),
                )
                return None
            ops = {"+": lv + rv, "-": lv - rv, "*": lv * rv, "/": lv / rv, "%": lv % rv}
            kind = Kind.integer if {left.kind, right.kind} <= {Kind.integer} and node.op != "/" else Kind.number
            return Compiled(ops[node.op], kind, failures)
        comparable = (
            numeric
            or left.kind == right.kind
            or Kind.null in (left.kind, right.kind)
            or ({left.kind, right.kind} <= {Kind.date, Kind.datetime})
        )
        if not comparable:
            self.problem(node, f"cannot compare {left.kind.value} with {right.kind.value}")
            return None
        compare = {"==": lv == rv, "!=": lv != rv, "<": lv < rv, "<=": lv <= rv, ">": lv > rv, ">=": lv >= rv}
        return Compiled(compare[node.op], Kind.boolean, failures)


_FIELD_KIND = {
    FieldType.string: Kind.string, FieldType.integer: Kind.integer, FieldType.number: Kind.number,
    FieldType.boolean: Kind.boolean, FieldType.date: Kind.date, FieldType.date_time: Kind.datetime,
    FieldType.object: Kind.object, FieldType.array: Kind.array, FieldType.map: Kind.map,
}  # fmt: skip


def record_misfits(record: dict[str, Any], schema: ResolvedSchema) -> list[dict[str, str]]:
    """What of one record (a JSON object) the default mapping would refuse for a whole file: fields the
    schema lacks, and values of a kind their field cannot take (text is not among them: validation
    converts and checks it row by row). Each problem with its path; none: the record can go in a file."""
    return records_misfits([record], schema)[0]


def records_misfits(records: list[dict[str, Any]], schema: ResolvedSchema) -> list[list[dict[str, str]]]:
    """`record_misfits` of many records of one schema; what a (path, kind of value) means is worked out once."""
    judge = _Judge(schema)
    out = []
    for record in records:
        problems: list[dict[str, str]] = []
        for name, value in record.items():
            judge.visit(name, value, problems)
        out.append(problems)
    return out


def records_trimmed(records: list[dict[str, Any]], schema: ResolvedSchema) -> list[dict[str, Any]]:
    """The records without what `record_misfits` finds in them (a name with a dot is a name, not a path)."""
    judge = _Judge(schema)
    return [judge.trim("", record) for record in records]


class _Judge:
    """What a (path, kind of value) means for a schema, worked out once: whether to look inside the value,
    and what is wrong with it."""

    def __init__(self, schema: ResolvedSchema) -> None:
        self.schema = schema
        self.verdicts: dict[tuple[str, type], tuple[bool, str | None]] = {}

    def verdict(self, path: str, value: Any) -> tuple[bool, str | None]:
        key = (path, type(value))
        found = self.verdicts.get(key)
        if found is None:
            spec = find(self.schema.fields, path)
            if spec is None:
                found = (False, f"has no field of that name in schema {self.schema.name!r}")
            elif spec.type == FieldType.object and isinstance(value, dict):
                found = (True, None)
            else:
                kind = _PYTHON_KIND.get(type(value), Kind.any)
                found = (False, None if _fits(spec, kind) else f"a {kind.value} cannot fill a {spec.type.value} field")
            self.verdicts[key] = found
        return found

    def visit(self, path: str, value: Any, problems: list[dict[str, str]]) -> None:
        inside, problem = self.verdict(path, value)
        if problem is not None:
            problems.append({"path": path, "message": problem})
        elif inside:
            for name, inner in value.items():
                self.visit(f"{path}.{name}", inner, problems)

    def trim(self, prefix: str, value: dict[str, Any]) -> dict[str, Any]:
        kept = {}
        for name, inner in value.items():
            path = f"{prefix}{name}"
            inside, problem = self.verdict(path, inner)
            if "." in name or problem is not None:
                continue
            if not inside:
                kept[name] = inner
            elif trimmed := self.trim(f"{path}.", inner):  # an object emptied of all it held goes too
                kept[name] = trimmed
        return kept


_PYTHON_KIND = {str: Kind.string, bool: Kind.boolean, int: Kind.integer, float: Kind.number, dict: Kind.object,
                list: Kind.array, type(None): Kind.null}  # fmt: skip


def _fits(spec: FieldSpec, kind: Kind) -> bool:
    target = _FIELD_KIND[spec.type]
    if kind in (Kind.string, Kind.null, Kind.any) and target not in (Kind.array,):
        return True  # text is converted (and checked) by validation
    if target in (Kind.integer, Kind.number):
        return kind in (Kind.integer, Kind.number)
    if target == Kind.string:
        return kind in (Kind.integer, Kind.number, Kind.boolean, Kind.date, Kind.datetime)
    if target == Kind.map:
        return kind in (Kind.map, Kind.object)
    if target in (Kind.date, Kind.datetime):
        return kind in (Kind.date, Kind.datetime)
    return target == kind


def source_column(source: str) -> str:
    """The column a mapping's `source` names: the text itself, or what `${...}` wraps.

    A source is a name, not an expression, so it is never parsed: any column name works, with
    spaces, dots of a nested path, or braces; `${First Name}` is accepted as in expressions."""
    if source.startswith("${") and source.endswith("}") and len(source) > 3:
        return source[2:-1]
    return source


def compile_expression(text: str, table: ir.Table) -> Compiled:
    """Compile one expression over a table's columns; raises `InvalidMappingError` on any problem."""
    compiler = _Compiler(source_paths(table), "expression", text)
    try:
        node = parse_expression(text)
    except ExpressionSyntaxError as exc:
        raise InvalidMappingError(
            "mapping",
            [{"path": "expression", "message": str(exc), "line": exc.line, "column": exc.column, "caret": exc.caret}],
        ) from None
    compiled = compiler.compile(node)
    if compiled is None or compiler.problems:
        raise InvalidMappingError("mapping", compiler.problems)
    return compiled


def compile_mapping(
    mapping: MappingSet, table: ir.Table, schema: ResolvedSchema, hidden: frozenset[str] = frozenset()
) -> MappedFields:
    """Compile a mapping set over a source table; raises `InvalidMappingError` with every problem."""
    columns = source_paths(table, hidden)
    schema_paths = [p for p, _ in walk(schema.fields)]
    problems: list[dict[str, Any]] = []
    values: dict[str, Compiled] = {}
    sources: dict[str, str] = {}
    for index, entry in enumerate(mapping.mappings):
        where = f"mappings[{index}]"
        spec = find(schema.fields, entry.destination)
        if spec is None:
            problems.append(
                {
                    "path": f"{where}.destination",
                    "message": f"no field {entry.destination!r} in schema "
                    f"{schema.name!r}" + did_you_mean(entry.destination, schema_paths),
                }
            )
            continue
        if entry.destination in values:
            problems.append({"path": f"{where}.destination", "message": f"{entry.destination!r} is mapped twice"})
            continue
        if entry.expression is not None:
            text = entry.expression
            compiler = _Compiler(columns, f"{where}.expression", text)
            try:
                node = parse_expression(text)
            except ExpressionSyntaxError as exc:
                problems.append(
                    {
                        "path": compiler.where,
                        "message": str(exc),
                        "line": exc.line,
                        "column": exc.column,
                        "caret": exc.caret,
                    }
                )
                continue
        else:
            text = str(entry.source)
            compiler = _Compiler(columns, f"{where}.source", text)
            node = Column(source_column(text), Position(1, 1))
        compiled = compiler.compile(node)
        problems.extend(compiler.problems)
        if compiled is None:
            continue
        if not _fits(spec, compiled.kind):
            problems.append(
                {
                    "path": where,
                    "message": f"a {compiled.kind.value} value cannot fill "
                    f"{entry.destination!r}, a {spec.type.value} field",
                }
            )
            continue
        values[entry.destination] = compiled
        sources[entry.destination] = text
    if problems:
        raise InvalidMappingError("mapping", problems)
    return MappedFields(values, sources)


def default_mapping(table: ir.Table, schema: ResolvedSchema, hidden: frozenset[str] = frozenset()) -> MappedFields:
    """Without a mapping set, columns (and nested object fields) named like schema paths fill those
    fields, leaf by leaf so that each is validated; anything that fits nowhere is refused."""
    problems: list[dict[str, Any]] = []
    values: dict[str, Compiled] = {}
    schema_paths = [p for p, _ in walk(schema.fields)]

    def visit(path: str, value: ir.Value) -> None:
        spec = find(schema.fields, path)
        if spec is None:
            problems.append(
                {
                    "path": f"column {path!r}",
                    "message": "has no field of that name in schema "
                    f"{schema.name!r}"
                    + did_you_mean(path, schema_paths)
                    + "; give a mapping (--mapping) to say where it goes",
                }
            )
            return
        dtype = value.type()
        if spec.type == FieldType.object and dtype.is_struct():
            for name in dtype.names:  # type: ignore[attr-defined]
                visit(f"{path}.{name}", value[name])  # type: ignore[index]
            return
        kind = kind_of(dtype)
        if not _fits(spec, kind):
            problems.append(
                {"path": f"column {path!r}", "message": f"a {kind.value} column cannot fill a {spec.type.value} field"}
            )
            return
        values[path] = Compiled(value, kind)

    for name in table.columns:
        if name not in hidden:
            visit(name, table[name])
    if problems:
        raise InvalidMappingError("the file's columns (no mapping given)", problems)
    if not values:
        raise InvalidMappingError("the file's columns", [{"path": "", "message": "no column matches the schema"}])
    return MappedFields(values, {k: k for k in values})
