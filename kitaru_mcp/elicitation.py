"""Asking the human, not the model: a pending wait answered through the client's own form.

MCP elicitation lets a server ask the user directly (the client renders a form from a flat
schema of primitive fields). A wait's JSON schema is mapped to that form schema
(:func:`form_schema`); a schema the form cannot express falls back to today's behaviour (the
tool returns the pending wait and says why in its hint).

Two wires, one question:

- up to 2025-11-25 the server sends ``elicitation/create`` in the middle of the tool call and
  awaits the answer (what ``Context.elicit`` does);
- from 2026-07-28 a tool call cannot send requests back: the tool returns an
  ``InputRequiredResult`` carrying the question and a (sealed, SDK-signed) ``request_state``; the
  client asks the human and calls the tool again with the answer in ``input_responses``.

The execution tools (through :mod:`kitaru_mcp.tools.execution_answers`) call :func:`ask`
either way and get an :class:`Asked` (the human's action) or an ``InputRequiredResult`` to
return as is.

Cheap to import: no engine import, no services at module level.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from mcp.server.mcpserver import Context
from mcp.types import (
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
)

from kitaru_core.models import Execution, PendingWait

ANSWER_KEY = "kitaru_wait"  # the one input request a Kitaru tool call carries
STATE_VERSION = 1
WRAPPED_FIELD = "value"
MODERN_WIRE = "2026-07-28"  # first protocol whose tool calls elicit via InputRequiredResult

_STRING_FORMATS = frozenset({"date", "date-time", "email", "uri"})
# Keywords that only annotate a schema; anything else we do not map makes it unmappable.
_ANNOTATIONS = frozenset(
    {"title", "description", "$schema", "$id", "$comment", "examples", "default", "deprecated"}
)
_COMPOSITION = frozenset(
    {"$ref", "$defs", "definitions", "oneOf", "anyOf", "allOf", "not", "if", "then", "else"}
)
_STRING_KEYS = _ANNOTATIONS | {"type", "minLength", "maxLength", "format", "pattern", "enum"}
_NUMBER_KEYS = _ANNOTATIONS | {
    "type",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
}
_ARRAY_KEYS = _ANNOTATIONS | {"type", "items", "minItems", "maxItems", "uniqueItems"}
_OBJECT_KEYS = _ANNOTATIONS | {"type", "properties", "required", "additionalProperties"}

Action = Literal["accept", "decline", "cancel"]


class UnmappableSchemaError(ValueError):
    """A wait's JSON schema that the flat elicitation form cannot express (internal signal:
    the tool falls back to returning the pending wait, it is never an error result)."""


@dataclass(frozen=True)
class FormSchema:
    """The requested schema sent to the client, and whether a primitive wait schema was
    wrapped as the single field ``value`` (the answer is then unwrapped)."""

    requested: dict[str, Any]
    wrapped: bool = False


@dataclass(frozen=True)
class Question:
    """One pending wait, ready to be asked."""

    exec_id: str
    flow: str
    wait: str
    message: str
    form: FormSchema


@dataclass(frozen=True)
class Asked:
    """What the human did with the form; ``value`` is the answer (unwrapped) on accept."""

    action: Action
    wait: str
    value: Any = None
    failure: str | None = None  # the client could not ask (its error); counts as a cancel


@dataclass
class RoundState:
    """What a tool call carries between rounds on the 2026-07-28 wire (in ``request_state``,
    which the SDK seals and binds to this tool call and its arguments)."""

    exec_id: str
    wait: str
    form: FormSchema
    extra: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> str:
        body = {
            "v": STATE_VERSION,
            "exec_id": self.exec_id,
            "wait": self.wait,
            "form": self.form.requested,
            "wrapped": self.form.wrapped,
            "extra": self.extra,
        }
        return json.dumps(body, separators=(",", ":"))


# ------------------------------------------------------------------------- schema mapping


def form_schema(schema: dict[str, Any] | None) -> FormSchema:
    """The elicitation form schema for a wait's JSON schema.

    An object of primitive properties maps field by field (titles, descriptions, defaults and
    ``required`` kept); a primitive schema is wrapped as the single required field ``value``;
    a gate without a schema is an empty form (accept = continue). Constraints the form cannot
    carry (``pattern``, ``multipleOf``…) are dropped: the answer is validated against the full
    schema afterwards anyway.

    Raises :class:`UnmappableSchemaError` for nested objects, arrays other than multi-select
    enums, ``$ref``, ``oneOf``/``anyOf``/``allOf`` and the like.
    """
    if schema is None:
        return FormSchema({"type": "object", "properties": {}})
    if not isinstance(schema, dict):
        raise UnmappableSchemaError("the schema is not a JSON object")
    _no_composition(schema, "the schema")
    if _type_of(schema) == "object" or "properties" in schema:
        return FormSchema(_object_form(schema))
    field_schema = _property_form(WRAPPED_FIELD, schema)
    field_schema.setdefault("title", "Answer")
    requested = {"type": "object", "properties": {WRAPPED_FIELD: field_schema}}
    requested["required"] = [WRAPPED_FIELD]
    return FormSchema(requested, wrapped=True)


def _object_form(schema: dict[str, Any]) -> dict[str, Any]:
    _only(schema, _OBJECT_KEYS, "the object")
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        raise UnmappableSchemaError("an object without named properties (a free-form mapping)")
    mapped = {name: _property_form(name, prop) for name, prop in properties.items()}
    requested: dict[str, Any] = {"type": "object", "properties": mapped}
    required = [name for name in schema.get("required", []) if name in mapped]
    if required:
        requested["required"] = required
    for key in ("title", "description"):
        if isinstance(schema.get(key), str):
            requested[key] = schema[key]
    return requested


def _property_form(name: str, prop: Any) -> dict[str, Any]:
    if not isinstance(prop, dict):
        raise UnmappableSchemaError(f"field '{name}' has no typed schema")
    _no_composition(prop, f"field '{name}'")
    kind = _type_of(prop)
    if "enum" in prop:
        return _enum_form(name, prop)
    if kind == "string":
        _only(prop, _STRING_KEYS, f"field '{name}'")
        out = _annotations(prop, str)
        for key in ("minLength", "maxLength"):
            if isinstance(prop.get(key), int):
                out[key] = prop[key]
        if prop.get("format") in _STRING_FORMATS:
            out["format"] = prop["format"]
        return {"type": "string", **out}
    if kind in ("integer", "number"):
        _only(prop, _NUMBER_KEYS, f"field '{name}'")
        out = _annotations(prop, (int, float))
        for key in ("minimum", "maximum"):
            if _is_number(prop.get(key)):
                out[key] = prop[key]
        return {"type": kind, **out}
    if kind == "boolean":
        _only(prop, _ANNOTATIONS | {"type"}, f"field '{name}'")
        return {"type": "boolean", **_annotations(prop, bool)}
    if kind == "array":
        return _multi_select_form(name, prop)
    raise UnmappableSchemaError(f"field '{name}' is {kind or 'untyped'}, not a primitive")


def _enum_form(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    _only(prop, _STRING_KEYS, f"field '{name}'")
    choices = prop["enum"]
    if not isinstance(choices, list) or not choices:
        raise UnmappableSchemaError(f"field '{name}' has an empty enum")
    if not all(isinstance(choice, str) for choice in choices):
        raise UnmappableSchemaError(f"field '{name}' has non-string choices (a form returns text)")
    if _type_of(prop) not in (None, "string"):
        raise UnmappableSchemaError(f"field '{name}' mixes an enum with a non-string type")
    out = _annotations(prop, str)
    if "default" in out and out["default"] not in choices:
        del out["default"]
    return {"type": "string", "enum": list(choices), **out}


def _multi_select_form(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    _only(prop, _ARRAY_KEYS, f"field '{name}'")
    items = prop.get("items")
    choices = items.get("enum") if isinstance(items, dict) else None
    if (
        not isinstance(items, dict)
        or _type_of(items) not in (None, "string")
        or not isinstance(choices, list)
        or not choices
        or not all(isinstance(choice, str) for choice in choices)
        or set(items) - {"type", "enum", "title", "description"}
    ):
        raise UnmappableSchemaError(
            f"field '{name}' is an array; only a multi-select of string choices fits a form"
        )
    out: dict[str, Any] = {"type": "array", "items": {"type": "string", "enum": list(choices)}}
    for key in ("title", "description"):
        if isinstance(prop.get(key), str):
            out[key] = prop[key]
    default = prop.get("default")
    if isinstance(default, list) and all(item in choices for item in default):
        out["default"] = list(default)
    for key in ("minItems", "maxItems"):
        if isinstance(prop.get(key), int):
            out[key] = prop[key]
    return out


def _type_of(schema: dict[str, Any]) -> str | None:
    """The one JSON type a schema names; ``[T, "null"]`` counts as ``T`` (left out = null)."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) != 1:
            raise UnmappableSchemaError(f"a union of types {kind}")
        kind = kinds[0]
    if kind is not None and not isinstance(kind, str):
        raise UnmappableSchemaError("a malformed 'type'")
    return kind


def _no_composition(schema: dict[str, Any], what: str) -> None:
    used = sorted(set(schema) & _COMPOSITION)
    if used:
        raise UnmappableSchemaError(f"{what} uses {', '.join(used)}")


def _only(schema: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    extra = sorted(set(schema) - allowed)
    if extra:
        raise UnmappableSchemaError(f"{what} uses {', '.join(extra)}")


def _annotations(prop: dict[str, Any], default_type: type | tuple[type, ...]) -> dict[str, Any]:
    out = {key: prop[key] for key in ("title", "description") if isinstance(prop.get(key), str)}
    default = prop.get("default")
    # bool is an int in Python: a number field's default must not be a boolean.
    if isinstance(default, default_type) and not (
        isinstance(default, bool) and default_type is not bool
    ):
        out["default"] = default
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def answer_from(content: dict[str, Any] | None, form: FormSchema) -> Any:
    """The wait's answer from accepted form content. Fields left empty (null) are left out, so
    a missing required field is reported by the schema validation like any other mistake; a
    gate's empty form answers ``None`` (continue)."""
    filled = {key: value for key, value in (content or {}).items() if value is not None}
    if form.wrapped:
        return filled.get(WRAPPED_FIELD)
    if not form.requested["properties"]:
        return None
    return filled


# ---------------------------------------------------------------------------- the question


def needs_value(wait: PendingWait) -> bool:
    """Whether the wait can only be answered with a value (``None`` does not fit its schema)."""
    from kitaru_core.errors import KitaruWaitValidationError
    from kitaru_core.requests.executions import validate_wait_value

    if wait.schema_ is None:
        return False
    try:
        validate_wait_value(wait.schema_, None, wait=wait.name)
    except KitaruWaitValidationError:
        return True
    return False


def message_for(execution: Execution, wait: PendingWait) -> str:
    """What the human reads above the form: the question, then whose question it is."""
    question = (wait.question or "").strip() or f"Flow '{execution.flow}' is waiting for input."
    return (
        f"{question}\n\nFlow '{execution.flow}' (execution {execution.exec_id}) is waiting for "
        f"your answer to '{wait.name}'."
    )


def question_for(execution: Execution, form: FormSchema) -> Question:
    wait = execution.pending_wait
    assert wait is not None
    return Question(
        exec_id=execution.exec_id,
        flow=execution.flow,
        wait=wait.name,
        message=message_for(execution, wait),
        form=form,
    )


# ------------------------------------------------------------------------------ the asking


def wire(ctx: Context[Any, Any]) -> Literal["request", "input_required"] | None:
    """How this call can ask the human, or ``None`` when the client cannot be asked (it did
    not declare form elicitation, or the transport has no way back to it)."""
    from mcp_types.version import is_version_at_least

    try:
        capabilities = ctx.client_capabilities
    except ValueError:  # called outside a client request (no session to ask through)
        return None
    elicitation = capabilities.elicitation if capabilities is not None else None
    # A bare ``elicitation: {}`` (before modes existed) means form support; url-only does not.
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return None
    if ctx.session.can_send_request:
        return "request"
    version = ctx.protocol_version
    if version is not None and is_version_at_least(version, MODERN_WIRE):
        return "input_required"
    return None  # e.g. stateless HTTP on an older protocol: nothing can reach the client


def input_required(question: Question, extra: dict[str, Any] | None = None) -> InputRequiredResult:
    """The 2026-07-28 way to ask: the question travels in the result; the client calls again."""
    request = ElicitRequest(
        params=ElicitRequestFormParams(
            message=question.message, requested_schema=question.form.requested
        )
    )
    state = RoundState(question.exec_id, question.wait, question.form, extra or {})
    return InputRequiredResult(input_requests={ANSWER_KEY: request}, request_state=state.encode())


def round_state(ctx: Context[Any, Any]) -> RoundState | None:
    """The state this tool call left in its previous round, if this is a retry."""
    raw = ctx.request_state
    if not raw:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("v") != STATE_VERSION:
        return None
    return RoundState(
        exec_id=str(body["exec_id"]),
        wait=str(body["wait"]),
        form=FormSchema(dict(body["form"]), wrapped=bool(body["wrapped"])),
        extra=dict(body.get("extra") or {}),
    )


def answer_in_round(ctx: Context[Any, Any], state: RoundState) -> Asked | None:
    """The human's answer the client brought back for ``state``'s question, if any."""
    response = (ctx.input_responses or {}).get(ANSWER_KEY)
    if not isinstance(response, ElicitResult):
        return None
    return _asked(response, state.wait, state.form)


async def ask_now(ctx: Context[Any, Any], question: Question) -> Asked:
    """The pre-2026 way to ask: ``elicitation/create`` in the middle of the call (what
    ``Context.elicit`` sends), with the mapped schema as is."""
    from mcp.shared.exceptions import MCPError
    from pydantic import ValidationError

    try:
        result = await ctx.session.elicit_form(
            message=question.message,
            requested_schema=question.form.requested,
            related_request_id=ctx.request_id,
        )
    except (MCPError, ValidationError) as exc:
        # A client that fails to show the form must not turn the tool call into a protocol
        # error (a run's result would lose its exec_id): the wait simply stays pending.
        return Asked("cancel", question.wait, failure=str(exc)[:300])
    return _asked(result, question.wait, question.form)


def _asked(result: ElicitResult, wait: str, form: FormSchema) -> Asked:
    if result.action != "accept":
        return Asked(result.action, wait)
    return Asked("accept", wait, answer_from(result.content, form))


# ------------------------------------------------------------------------------ the words


def declined_note(asked: Asked) -> str:
    """The hint when the human did not answer: the wait stays pending, nothing was aborted."""
    if asked.failure is not None:
        what = f"The client could not show wait '{asked.wait}' as a form ({asked.failure})"
    elif asked.action == "decline":
        what = f"The user declined to answer wait '{asked.wait}' in the client's form"
    else:
        what = f"The user dismissed (cancelled) the form for wait '{asked.wait}'"
    return (
        f"{what}; it stays pending and nothing was aborted. Do not answer it yourself: ask the "
        "user in the conversation, or leave it for later (kitaru_executions_input answers it, "
        "kitaru_executions_abort_wait aborts it if the user says so)."
    )


def unmappable_note(wait: str, reason: str) -> str:
    return (
        f"Wait '{wait}' was not shown to the user as a form: its JSON schema cannot be mapped "
        f"to the flat form elicitation allows ({reason}). Ask the user in the conversation and "
        "answer with kitaru_executions_input (value fitting the schema)."
    )


def answered_note(wait: str) -> str:
    return f"The user answered wait '{wait}' in the client's form; the answer was recorded."


# ---------------------------------------------------------------------------- the decision


def prepare(
    ctx: Context[Any, Any], execution: Execution, confirm: bool | None
) -> Question | str | None:
    """The question to put to the human about ``execution``'s pending wait; a note (str) when
    it cannot be shown as a form; ``None`` when nobody is asked (today's behaviour).

    Nobody is asked when ``confirm`` is false, when the client cannot be asked, or when the
    wait needs no value (a continue gate) unless ``confirm`` is explicitly true.
    """
    wait = execution.pending_wait
    if confirm is False or wait is None or wire(ctx) is None:
        return None
    if confirm is not True and not needs_value(wait):
        return None
    try:
        form = form_schema(wait.schema_)
    except UnmappableSchemaError as exc:
        return unmappable_note(wait.name, str(exc))
    return question_for(execution, form)


async def ask(
    ctx: Context[Any, Any], question: Question, extra: dict[str, Any] | None = None
) -> Asked | InputRequiredResult:
    """Ask on whichever wire this call speaks (see :func:`wire`; ``extra`` rides the state)."""
    if wire(ctx) == "request":
        return await ask_now(ctx, question)
    return input_required(question, extra)


def refused_note(asked: Asked, code: str, message: str) -> str:
    return (
        f"The user's answer to wait '{asked.wait}' was refused ({code}: {message}); nothing was "
        "recorded and the wait stays pending. Ask the user again (kitaru_executions_input "
        "without a value shows the form again)."
    )
