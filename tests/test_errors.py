"""The one error contract: every error has ``code``, ``message``, ``hint``, ``retryable`` and
``details``, and any exception translates into that shape without traceback text.

ZenML's exceptions are recognised by class name, so the tests define look-alike classes with
the same names instead of importing ZenML.
"""

from __future__ import annotations

import json
import pickle
import sqlite3

import pytest
from pydantic import BaseModel, ValidationError

from kitaru_core.errors import (
    KitaruBackendError,
    KitaruContextError,
    KitaruError,
    KitaruExecutionError,
    KitaruFeatureNotAvailableError,
    KitaruModeForbiddenError,
    KitaruNotFoundError,
    KitaruStateError,
    KitaruTimeoutError,
    KitaruUsageError,
    KitaruValidationError,
    KitaruWaitValidationError,
    error_body,
    translate_exception,
)
from kitaru_core.hints import Surface

# Every class with one instance built the way callers build it, and its stable code.
INSTANCES: list[tuple[KitaruError, str]] = [
    (KitaruError("base"), "kitaru_error"),
    (KitaruUsageError("bad flag"), "usage_error"),
    (KitaruValidationError("bad fields", fields={"region": "required"}), "validation_error"),
    (KitaruNotFoundError("no such execution"), "not_found"),
    (KitaruStateError("already finished"), "invalid_state"),
    (KitaruContextError("wait() inside a checkpoint"), "context_error"),
    (KitaruBackendError("store down"), "backend_error"),
    (
        KitaruExecutionError(
            "flow failed",
            exec_id="e-1",
            failure={"checkpoint": "fetch", "exception_type": "ValueError", "message": "x"},
        ),
        "execution_failed",
    ),
    (
        KitaruWaitValidationError("not an int", fields={"value": "int expected"}),
        "wait_validation_error",
    ),
    (KitaruFeatureNotAvailableError("needs boto3", extra="aws"), "feature_not_available"),
    (KitaruModeForbiddenError("needs destructive mode"), "mode_forbidden"),
    (KitaruTimeoutError("still running"), "timeout"),
]
BODY_KEYS = {"code", "message", "hint", "retryable", "details"}


@pytest.mark.parametrize(("error", "code"), INSTANCES, ids=[code for _, code in INSTANCES])
def test_every_error_has_the_contract(error: KitaruError, code: str) -> None:
    assert isinstance(error, KitaruError)
    assert error.code == code
    assert isinstance(error.message, str) and error.message
    assert str(error) == error.message
    assert isinstance(error.hint, str) and error.hint
    assert isinstance(error.retryable, bool)
    assert isinstance(error.details, dict)
    body = error.to_dict()
    assert set(body) == BODY_KEYS
    assert body["code"] == code
    json.dumps(body)  # always serialisable


def test_codes_are_unique() -> None:
    codes = [code for _, code in INSTANCES]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(("error", "code"), INSTANCES, ids=[code for _, code in INSTANCES])
def test_errors_survive_pickling(error: KitaruError, code: str) -> None:
    # Errors cross process boundaries (detached workers); keyword-only arguments must survive.
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert copy.to_dict() == error.to_dict()


def test_retryable_defaults_and_override() -> None:
    retryable = {code for error, code in INSTANCES if error.retryable}
    assert retryable == {"backend_error", "timeout"}
    assert KitaruUsageError("x", retryable=True).retryable is True
    assert KitaruBackendError("x", retryable=False).retryable is False


def test_hint_override_and_details_are_copied() -> None:
    details = {"stack": "gpu"}
    error = KitaruNotFoundError("no stack gpu", hint="Run kitaru stack list.", details=details)
    details["stack"] = "changed"
    assert error.hint == "Run kitaru stack list."
    assert error.details == {"stack": "gpu"}


def test_validation_error_exposes_its_fields() -> None:
    error = KitaruValidationError("bad", fields={"--cluster": "required"}, details={"type": "k8s"})
    assert error.fields == {"--cluster": "required"}
    assert error.details == {"type": "k8s", "fields": {"--cluster": "required"}}
    assert isinstance(error, KitaruUsageError)
    assert isinstance(KitaruWaitValidationError("x"), KitaruValidationError)


def test_execution_error_carries_the_failure() -> None:
    failure = {"checkpoint": "fetch", "exception_type": "ValueError", "traceback": "..."}
    error = KitaruExecutionError("flow failed", exec_id="e-1", failure=failure)
    assert error.exec_id == "e-1"
    assert error.failure == failure
    assert error.details == {"exec_id": "e-1", "failure": failure}


def test_feature_not_available_names_the_extra() -> None:
    error = KitaruFeatureNotAvailableError("Kubernetes needs its integration.", extra="aws")
    assert "kitaru-mcp[aws]" in error.hint
    assert error.details == {"extra": "aws"}


# --- translate_exception ---------------------------------------------------------------------


def _raised(exc: BaseException) -> BaseException:
    """The exception with a real traceback attached, as callers see it."""
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_kitaru_errors_pass_through_unchanged() -> None:
    error = KitaruStateError("already finished")
    assert translate_exception(error) is error


class Address(BaseModel):
    city: str


class Person(BaseModel):
    age: int
    address: Address


def test_pydantic_validation_error_names_each_field() -> None:
    with pytest.raises(ValidationError) as info:
        Person.model_validate({"age": "old", "address": {}})
    error = translate_exception(info.value)
    assert isinstance(error, KitaruValidationError)
    assert error.code == "validation_error"
    assert set(error.fields) == {"age", "address.city"}
    assert "age" in error.message and "address.city" in error.message


def test_key_error_is_not_found_without_quotes() -> None:
    error = translate_exception(_raised(KeyError("No stack named 'gpu' was found.")))
    assert error.code == "not_found"
    assert error.message == "No stack named 'gpu' was found."
    assert error.retryable is False


class ZenKeyError(KeyError):
    pass


class EntityExistsError(Exception):
    pass


class IllegalOperationError(Exception):
    pass


class StackExistsError(EntityExistsError):
    pass


class AuthorizationException(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ZenKeyError("unknown run"), "not_found"),
        (EntityExistsError("A stack named 'x' already exists."), "invalid_state"),
        (IllegalOperationError("Cannot delete the active stack."), "invalid_state"),
        (StackExistsError("exists"), "invalid_state"),
    ],
)
def test_zenml_like_errors_by_class_name(exc: Exception, code: str) -> None:
    error = translate_exception(_raised(exc))
    assert error.code == code
    assert error.message == str(exc).strip("'")
    assert error.details["exception_type"] == type(exc).__name__


def test_zenml_validation_error_without_fields() -> None:
    # ZenML's own ValidationError has no pydantic errors() method.
    ZenMLValidationError = type("ValidationError", (Exception,), {})
    error = translate_exception(ZenMLValidationError("Stack is invalid."))
    assert error.code == "validation_error"
    assert error.message == "Stack is invalid."


def test_timeout() -> None:
    error = translate_exception(_raised(TimeoutError("waited 30 s")))
    assert isinstance(error, KitaruTimeoutError)
    assert error.retryable is True
    assert error.message == "waited 30 s"


@pytest.mark.parametrize(
    "exc",
    [ConnectionRefusedError("refused"), sqlite3.OperationalError("database is locked")],
)
def test_connection_problems_are_retryable_backend_errors(exc: Exception) -> None:
    error = translate_exception(_raised(exc))
    assert error.code == "backend_error"
    assert error.retryable is True


def test_authorisation_failure_is_not_retryable() -> None:
    error = translate_exception(AuthorizationException("token expired"))
    assert error.code == "backend_error"
    assert error.retryable is False
    assert "kitaru login" in error.hint_for(Surface.CLI) and "connect(" in error.hint


def test_value_error_is_a_usage_error() -> None:
    assert translate_exception(ValueError("bad value")).code == "usage_error"


def _explode() -> None:
    raise RuntimeError("boom")


def test_generic_exception_is_a_backend_error_without_traceback() -> None:
    try:
        _explode()
    except RuntimeError as exc:
        body = error_body(exc)
    text = json.dumps(body)
    assert body["error"]["code"] == "backend_error"
    assert body["error"]["retryable"] is False
    assert body["error"]["message"] == "RuntimeError: boom"
    assert body["error"]["details"] == {"exception_type": "RuntimeError"}
    assert "Traceback" not in text
    assert __file__ not in text
    assert "_explode" not in text


def test_a_traceback_embedded_in_a_message_is_cut() -> None:
    message = (
        "Server error: step failed\n"
        "Traceback (most recent call last):\n"
        '  File "/srv/zenml/app.py", line 12, in handler\n'
        "ZeroDivisionError: division by zero"
    )
    error = translate_exception(RuntimeError(message))
    assert error.message == "RuntimeError: Server error: step failed"
    assert "/srv/zenml/app.py" not in json.dumps(error.to_dict())


def test_zenml_module_errors_say_zenml() -> None:
    ZenMLBaseException = type(
        "ZenMLBaseException", (Exception,), {"__module__": "zenml.exceptions"}
    )
    error = translate_exception(ZenMLBaseException("pipeline broke"))
    assert error.message == "ZenML error: pipeline broke"


def test_huge_messages_are_bounded_and_empty_ones_named() -> None:
    assert len(translate_exception(RuntimeError("x" * 50_000)).message) < 2100
    assert translate_exception(RuntimeError()).message == "RuntimeError (no message)"
    assert translate_exception(KeyError()).message == "KeyError"


def test_error_body_shape() -> None:
    body = error_body(KitaruNotFoundError("no execution e-1", details={"exec_id": "e-1"}))
    assert body == {
        "error": {
            "code": "not_found",
            "message": "no execution e-1",
            "hint": KitaruNotFoundError.default_hint,
            "retryable": False,
            "details": {"exec_id": "e-1"},
        }
    }
    assert set(error_body(ValueError("x"))["error"]) == BODY_KEYS


def test_error_from_dict_rebuilds_the_typed_error() -> None:
    from kitaru_core.errors import KitaruNotFoundError, KitaruUsageError, error_from_dict

    rebuilt = error_from_dict(
        {"code": "not_found", "message": "gone", "hint": "look", "details": {"id": 1}}
    )
    assert isinstance(rebuilt, KitaruNotFoundError)
    assert (rebuilt.message, rebuilt.hint, rebuilt.details) == ("gone", "look", {"id": 1})
    assert isinstance(error_from_dict({"code": "wait_validation_error"}), KitaruUsageError)
    unknown = error_from_dict({"code": "from_the_future", "message": "?"})
    assert type(unknown).__name__ == "KitaruError" and unknown.code == "from_the_future"
