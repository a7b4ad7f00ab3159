"""The jobs a detached worker runs, as typed models, and the one way they travel.

A service builds a job (``RunJob``, ``ResumeJob``, ``RerunJob``), ``runtime/detach.py`` sends it
to a worker as one line of JSON (``job.to_wire()``: on a spawned worker's stdin, or inside a
:class:`PoolRequest` on the warm pool's stdin), and the worker reads it back with
:func:`parse_job`. Anything that is not a well-formed job is refused there with a
:class:`~kitaru_core.errors.KitaruValidationError` that names the field.

A leaf module: it imports only pydantic, the standard library and ``kitaru_core.errors``, so
both the services and the runtime can use it without importing each other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from kitaru_core.errors import KitaruValidationError

_NAME = Annotated[str, Field(min_length=1)]


class _JobBase(BaseModel):
    # Strict: a job is built by our own code and read back from JSON, so a field of the wrong
    # type is a bug to report, not a value to coerce. Unknown fields are refused for the same
    # reason (a caller and a worker of different versions must not half-agree).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    # The directory the job runs in (relative flow files are found from there); the launcher
    # fills in the caller's directory when a job leaves it unset.
    cwd: str | None = None

    def to_wire(self) -> str:
        """The job as one line of JSON, as it travels to a worker."""
        return self.model_dump_json()


class RunJob(_JobBase):
    """Start a new execution of a flow target (``<file.py or module>:<flow>``)."""

    kind: Literal["run"] = "run"
    target: _NAME
    inputs: dict[str, Any] = Field(default_factory=dict)
    stack: str | None = None
    # Image settings, already validated and dumped to JSON by the caller.
    image: dict[str, Any] | None = None
    # Extra run tags/metadata the launcher records (e.g. a deployment's version).
    extra: dict[str, Any] | None = None

    @field_validator("inputs", mode="before")
    @classmethod
    def _inputs_are_an_object(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("Flow inputs must be a JSON object of parameter names to values")
        return value


class ResumeJob(_JobBase):
    """Continue a paused execution whose pending waits are answered."""

    kind: Literal["resume"] = "resume"
    exec_id: _NAME


class RerunJob(_JobBase):
    """Run a finished execution again (a retry, or a replay from one checkpoint)."""

    kind: Literal["rerun"] = "rerun"
    exec_id: _NAME
    # Checkpoint calls whose recorded outputs are reused instead of running them.
    skip: list[str] = Field(default_factory=list)
    # Call id → the value that replaces that call's output.
    overrides: dict[str, Any] = Field(default_factory=dict)
    flow_inputs: dict[str, Any] = Field(default_factory=dict)
    # True for a replay: every call that is not reused really runs (no cache).
    live: bool = False
    replay_from: str | None = None


Job = Annotated[RunJob | ResumeJob | RerunJob, Field(discriminator="kind")]
"""Any worker job; ``kind`` says which."""

_JOB: TypeAdapter[RunJob | ResumeJob | RerunJob] = TypeAdapter(Job)


class PoolRequest(BaseModel):
    """One line on the warm pool's stdin: a job, the id its report carries, and its log file."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    job_id: _NAME
    log_file: _NAME
    job: Job

    def to_wire(self) -> str:
        return self.model_dump_json()


def parse_job(data: str | bytes | Mapping[str, Any]) -> RunJob | ResumeJob | RerunJob:
    """A job from its wire form (JSON text) or from a mapping; malformed → a validation error."""
    return _validated(_JOB.validate_python, _as_object(data, "worker job"), "worker job")


def parse_pool_request(data: str | bytes) -> PoolRequest:
    """A warm-pool request from its JSON line; malformed → a validation error."""
    return _validated(PoolRequest.model_validate, _as_object(data, "pool request"), "pool request")


def _as_object(data: str | bytes | Mapping[str, Any], what: str) -> dict[str, Any]:
    if isinstance(data, Mapping):
        return dict(data)
    try:
        value = json.loads(data)
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise KitaruValidationError(
            f"Malformed {what}: not JSON ({exc}).", fields={"job": "not JSON"}
        ) from None
    if not isinstance(value, dict):
        raise KitaruValidationError(
            f"Malformed {what}: expected a JSON object, got {type(value).__name__}.",
            fields={"job": "not a JSON object"},
        )
    return value


def _validated(validate: Any, value: dict[str, Any], what: str) -> Any:
    try:
        return validate(value)
    except ValidationError as exc:
        fields = _field_errors(exc)
        summary = "; ".join(f"{name}: {problem}" for name, problem in fields.items())
        raise KitaruValidationError(f"Malformed {what} — {summary}.", fields=fields) from None


_KINDS = {model.model_fields["kind"].default for model in (RunJob, ResumeJob, RerunJob)}


def _field_errors(exc: ValidationError) -> dict[str, str]:
    """Field path → problem, with pydantic's union tag (``run.target``) left out of the path."""
    fields: dict[str, str] = {}
    for error in exc.errors():
        parts = [str(part) for part in error["loc"]]
        # pydantic puts the chosen job kind into the path; the field is what the reader needs.
        path = [p for i, p in enumerate(parts) if not (p in _KINDS and parts[:i] in ([], ["job"]))]
        if error["type"].startswith("union_tag"):  # a missing or unknown ``kind``
            path.append("kind")
        message = str(error["msg"]).removeprefix("Value error, ")
        fields[".".join(path) or "job"] = message
    return fields
