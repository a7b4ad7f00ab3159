"""Kitaru's one error contract.

Every error a user or an assistant can see is a :class:`KitaruError` with a stable ``code``,
a ``message`` (what went wrong), a ``hint`` (what to do next), ``retryable`` and structured
``details``. :func:`translate_exception` turns *any* exception — including ZenML's, SQLite's and
pydantic's — into that shape, so no surface ever shows a raw traceback.

This module imports nothing heavy: ZenML exceptions are recognised by their class names.
"""

from __future__ import annotations

import errno
from typing import Any

from kitaru_core.hints import Hint, Surface, ToolModes, render_hint


class KitaruError(Exception):
    """Base of every Kitaru error."""

    code: str = "kitaru_error"
    # A hint is plain text (the same on every surface) or a Hint with one text per surface.
    default_hint: str | Hint = Hint(
        sdk="Check the connection and the KITARU_* settings, or re-run with KITARU_DEBUG=1.",
        cli="Check your setup with `kitaru info`, or re-run with KITARU_DEBUG=1.",
        mcp="Check the setup with {tool:kitaru_info}.",
    )
    default_retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        hint: str | Hint | None = None,
        retryable: bool | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint_spec: str | Hint = hint if hint is not None else self.default_hint
        self.retryable = self.default_retryable if retryable is None else retryable
        self.details: dict[str, Any] = dict(details or {})

    @property
    def hint(self) -> str:
        """The hint as the SDK shows it (surfaces render theirs with :meth:`hint_for`)."""
        return self.hint_for(Surface.SDK)

    @hint.setter
    def hint(self, value: str | Hint) -> None:
        self.hint_spec = value

    def hint_for(self, surface: Surface, *, tool_modes: ToolModes | None = None) -> str:
        """The hint in ``surface``'s language; ``tool_modes`` lets MCP name only visible tools."""
        return render_hint(self.hint_spec, surface, tool_modes=tool_modes)

    def to_dict(
        self,
        surface: Surface = Surface.SDK,
        *,
        tool_modes: ToolModes | None = None,
        portable: bool = False,
    ) -> dict[str, Any]:
        """The error body shared by MCP results and CLI JSON output, hint in ``surface``'s words.

        ``portable`` adds ``hints`` (every surface's text) for a body that crosses a process
        boundary — a detached worker reporting to the CLI or MCP process that started it —
        so that :func:`error_from_dict` can rebuild a hint each surface renders in its words.
        """
        body = {
            "code": self.code,
            "message": self.message,
            "hint": self.hint_for(surface, tool_modes=tool_modes),
            "retryable": self.retryable,
            "details": self.details,
        }
        if portable and isinstance(self.hint_spec, Hint):
            body["hints"] = {
                "sdk": self.hint_spec.sdk,
                "cli": self.hint_spec.cli,
                "mcp": self.hint_spec.mcp,
            }
        return body

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only arguments, which default exception pickling loses; errors
        # cross process boundaries (detached workers), so rebuild them from their attributes.
        return (_rebuild_error, (type(self), self.__dict__.copy()))


ECHO_CHARS = 80


def echo(value: object, limit: int = ECHO_CHARS) -> str:
    """What the caller sent, as a message quotes it: shortened past ``limit`` characters, so an
    error about a 100,000-character id does not send the id back whole."""
    text = str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def _rebuild_error(cls: type[KitaruError], state: dict[str, Any]) -> KitaruError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class KitaruUsageError(KitaruError):
    """Bad arguments or configuration."""

    code = "usage_error"
    default_hint: str | Hint = "Check the arguments and configuration named in the message."


class KitaruValidationError(KitaruUsageError):
    """One or more fields failed validation; ``details['fields']`` maps field → problem."""

    code = "validation_error"
    default_hint: str | Hint = "Fix the fields named in the message and try again."

    def __init__(
        self,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        hint: str | Hint | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        merged = dict(details or {})
        if fields:
            merged["fields"] = dict(fields)
        super().__init__(message, hint=hint, details=merged)

    @property
    def fields(self) -> dict[str, str]:
        return dict(self.details.get("fields", {}))


class KitaruNotFoundError(KitaruError):
    """The named execution, stack, deployment, artifact… does not exist."""

    code = "not_found"
    # Rules that know what was not found give a hint naming the listing call for it.
    default_hint: str | Hint = "List what exists and use one of those names or ids."


class KitaruStateError(KitaruError):
    """The operation is not allowed in the object's current state."""

    code = "invalid_state"
    default_hint: str | Hint = "Check the current state; the message says what is allowed."


class KitaruContextError(KitaruError):
    """A Kitaru API was used in the wrong place (e.g. ``wait()`` inside a checkpoint)."""

    code = "context_error"
    default_hint: str | Hint = "Call this API only where the message says it is allowed."


class KitaruBackendError(KitaruError):
    """The store, the server or ZenML failed."""

    code = "backend_error"
    default_hint: str | Hint = Hint(
        sdk="Check the connection and the KITARU_* settings; re-run with KITARU_DEBUG=1 for more.",
        cli="Check the connection with `kitaru status`; re-run with KITARU_DEBUG=1 for more.",
        mcp="Check the connection with {tool:kitaru_status}.",
    )
    default_retryable = True


class KitaruExecutionError(KitaruError):
    """A flow failed. ``failure`` says which checkpoint, which exception and where."""

    code = "execution_failed"
    default_hint: str | Hint = Hint(
        sdk="Inspect it with `KitaruClient().executions.get(exec_id)`, fix the cause, then "
        "`KitaruClient().executions.retry(exec_id)`.",
        cli="Inspect it with `kitaru executions get EXEC_ID`, fix the cause, then "
        "`kitaru executions retry EXEC_ID`.",
        mcp="Inspect it with {tool:kitaru_executions_get}, fix the cause, then "
        "{tool:kitaru_executions_retry|retry it}.",
    )

    def __init__(
        self,
        message: str,
        *,
        exec_id: str | None = None,
        failure: dict[str, Any] | None = None,
        hint: str | Hint | None = None,
    ) -> None:
        details: dict[str, Any] = {}
        if exec_id:
            details["exec_id"] = exec_id
        if failure:
            details["failure"] = failure
        super().__init__(message, hint=hint, details=details)
        self.exec_id = exec_id
        self.failure = failure or {}


class KitaruWaitValidationError(KitaruValidationError):
    """An answer to a ``wait()`` does not fit the wait's schema."""

    code = "wait_validation_error"
    default_hint: str | Hint = Hint(
        sdk="Send a value that matches the wait's JSON schema "
        "(see `KitaruClient().executions.waiting()`).",
        cli="Send a value that matches the wait's JSON schema (see `kitaru executions waiting`).",
        mcp="Send a value that matches the wait's JSON schema "
        "(see {tool:kitaru_executions_waiting}).",
    )


class KitaruFeatureNotAvailableError(KitaruError):
    """An optional dependency is missing; the message names the extra to install."""

    code = "feature_not_available"

    def __init__(self, message: str, *, extra: str, details: dict[str, Any] | None = None) -> None:
        merged = {"extra": extra, **(details or {})}
        super().__init__(
            message, hint=f"Install it with: pip install 'kitaru-mcp[{extra}]'", details=merged
        )


class KitaruModeForbiddenError(KitaruError):
    """An MCP tool is not available in the server's capability mode."""

    code = "mode_forbidden"
    default_hint: str | Hint = "Ask the user to restart kitaru-mcp in a mode that allows this tool."


class KitaruTimeoutError(KitaruError):
    """Waiting for something took longer than allowed."""

    code = "timeout"
    default_hint: str | Hint = Hint(
        sdk="Wait longer, or check progress with `KitaruClient().executions.get(exec_id)`.",
        cli="Wait longer, or check progress with `kitaru executions get EXEC_ID`.",
        mcp="Check progress with {tool:kitaru_executions_get}.",
    )
    default_retryable = True


# Class-name based recognition keeps ZenML, SQLAlchemy and pydantic out of this module's imports.
# tests/test_zenml_compat.py fails when ZenML stops defining one of its names listed here.
_NOT_FOUND_NAMES = {"KeyError", "ZenKeyError", "EntityNotFoundError", "DoesNotExistException"}
_STATE_NAMES = {
    "IllegalOperationError",
    "EntityExistsError",
    "RunStoppedException",
    "MethodNotAllowedError",
}
_VALIDATION_NAMES = {"ValidationError", "StackValidationError"}
_AUTH_NAMES = {"AuthorizationException", "CredentialsNotValid", "AuthenticationError", "OAuthError"}
_CONNECTION_NAMES = {"ConnectionError", "OperationalError", "ConnectTimeout", "ReadTimeout"}
# Server-side errors sometimes embed a remote traceback in their message; it is never shown.
_TRACEBACK_MARKER = "Traceback (most recent call last)"
_MAX_MESSAGE = 2000


def _name_chain(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _message_text(exc: BaseException) -> str:
    """The exception's own message: unquoted, without embedded tracebacks, bounded in size."""
    text = str(exc)
    if _TRACEBACK_MARKER in text:
        text = text.split(_TRACEBACK_MARKER, 1)[0]
    # KeyError's str() is the repr of its argument, hence the quotes.
    text = text.strip().strip("'\"").strip()
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE] + "… (truncated)"
    return text


def _pydantic_fields(exc: BaseException) -> dict[str, str] | None:
    errors = getattr(exc, "errors", None)
    if type(exc).__name__ != "ValidationError" or not callable(errors):
        return None
    try:
        items = list(errors())
    except Exception:  # another library's ValidationError with a different errors()
        return None
    fields: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict):
            return None
        location = ".".join(str(part) for part in item.get("loc", ())) or "value"
        fields[location] = str(item.get("msg", "invalid"))
    return fields


# A file Kitaru must write (its config dir, the local store, an artifact store) cannot be.
_UNWRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT}


def _unwritable(exc: OSError, kind: dict[str, Any]) -> KitaruBackendError:
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    where = f" {exc.filename}" if exc.filename else ""
    return KitaruBackendError(
        f"Cannot write{where}: {exc.strerror or exc}.",
        hint="Free space on that disk, then try again."
        if full
        else "Make that directory writable, or set KITARU_CONFIG_PATH to a writable directory.",
        retryable=full,
        details={**kind, "path": str(exc.filename) if exc.filename else None},
    )


def translate_exception(exc: BaseException) -> KitaruError:
    """Turn any exception into a :class:`KitaruError` (a Kitaru error is returned unchanged).

    The result never contains traceback text; the original exception's type is kept in
    ``details['exception_type']`` for diagnosis.
    """
    if isinstance(exc, KitaruError):
        return exc
    names = _name_chain(exc)
    own_text = _message_text(exc)
    text = own_text or type(exc).__name__
    kind = {"exception_type": type(exc).__name__}
    fields = _pydantic_fields(exc)
    if fields is not None:
        summary = "; ".join(f"{name}: {problem}" for name, problem in fields.items())
        return KitaruValidationError(f"Invalid input — {summary}", fields=fields, details=kind)
    if names & _NOT_FOUND_NAMES:
        return KitaruNotFoundError(text, details=kind)
    if names & _STATE_NAMES:
        return KitaruStateError(text, details=kind)
    if names & _VALIDATION_NAMES:
        return KitaruValidationError(text, details=kind)
    if names & _AUTH_NAMES:
        return KitaruBackendError(
            f"Not authorised by the server: {text}",
            hint=Hint(
                sdk="Connect again with `connect(server_url, api_key=...)` or check "
                "KITARU_AUTH_TOKEN.",
                cli="Log in again with `kitaru login` or check KITARU_AUTH_TOKEN.",
                mcp="Ask the user to log in to the server again or to check KITARU_AUTH_TOKEN.",
            ),
            retryable=False,
            details=kind,
        )
    if names & _CONNECTION_NAMES or "database is locked" in text:
        return KitaruBackendError(f"Could not reach the store: {text}", details=kind)
    if isinstance(exc, TimeoutError):
        return KitaruTimeoutError(text, details=kind)
    if isinstance(exc, OSError) and exc.errno in _UNWRITABLE:
        return _unwritable(exc, kind)
    if isinstance(exc, (ValueError, TypeError)):
        return KitaruUsageError(text, details=kind)
    origin = "ZenML error" if type(exc).__module__.startswith("zenml") else type(exc).__name__
    message = f"{origin}: {own_text}" if own_text else f"{origin} (no message)"
    return KitaruBackendError(message, retryable=False, details=kind)


def error_body(exc: BaseException) -> dict[str, Any]:
    """``{"error": {code, message, hint, retryable, details}}`` for any exception."""
    return {"error": translate_exception(exc).to_dict()}


def error_from_dict(body: dict[str, Any]) -> KitaruError:
    """Rebuild the typed error of an error body (e.g. one a detached worker reported)."""
    classes = [KitaruError]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        if cls.code == body.get("code"):
            break
    else:
        cls = KitaruError
    hints = body.get("hints")
    portable = (
        Hint(**hints) if isinstance(hints, dict) and set(hints) == {"sdk", "cli", "mcp"} else None
    )
    state = {
        "message": str(body.get("message", "")),
        "hint_spec": portable or body.get("hint") or cls.default_hint,
        "retryable": bool(body.get("retryable", cls.default_retryable)),
        "details": dict(body.get("details") or {}),
    }
    error = _rebuild_error(cls, state)
    if cls is KitaruError and body.get("code"):
        error.code = str(body["code"])
    return error
