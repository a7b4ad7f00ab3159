"""``llm()`` (SPEC §1.2): recorded as an ``llm_call`` checkpoint with usage metadata, plain
outside a flow, model resolution, mock responses, secrets handed to LiteLLM and nowhere else.

Real parts throughout: the ZenML store, flows, LiteLLM. LiteLLM's own ``mock_response`` path
stands in for a provider (``KITARU_LLM_MOCK_RESPONSE``); what LiteLLM received is observed with
a LiteLLM callback. The one thing that cannot exist here — a provider's HTTP API — is a small
OpenAI-compatible server on loopback, so the real (non-mock) request path runs too.

Flows live at module top level so ZenML can reload them.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from runtime_helpers import checkpoint_calls, new_salt, run_count

from kitaru_core import (
    KitaruExecutionError,
    KitaruNotFoundError,
    KitaruUsageError,
    checkpoint,
    flow,
    llm,
)
from kitaru_core.config.llm_models import REGISTRY_ENV, ModelRegistry, render_registry
from kitaru_core.models import ExecutionStatus

MODEL = "openai/gpt-4o-mini"


# --- flows ----------------------------------------------------------------------------------


@flow
def ask_flow(prompt: str, model: str | None = None, name: str | None = None) -> str:
    return llm(prompt, model=model, name=name)


@flow
def three_calls_flow(salt: str) -> list[str]:
    first = llm(f"first {salt}")
    second = llm(f"second {salt}", name="pinned_summary")
    third = llm([{"role": "user", "content": f"third {salt}"}], system="Be brief.")
    return [first, second, third]


@checkpoint
def summarise_inside(salt: str) -> str:
    return llm(f"inside a checkpoint {salt}")


@flow
def nested_flow(salt: str) -> str:
    return summarise_inside(salt)


@flow(retries=1)
def retried_flow(salt: str) -> str:
    return llm(f"retried {salt}")


# --- helpers --------------------------------------------------------------------------------


class _Capture:
    """What LiteLLM was called with, seen from inside LiteLLM (a pre-call callback)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []


_capture = _Capture()
_registered = False


@pytest.fixture
def seen_by_litellm() -> Iterator[list[dict[str, Any]]]:
    """The calls LiteLLM received during the test: model, credentials, per-call env var."""
    global _registered
    if not _registered:
        from litellm.integrations.custom_logger import CustomLogger

        from kitaru_core.runtime.llm import load_litellm

        litellm = load_litellm()

        class Recorder(CustomLogger):  # type: ignore[misc]
            def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
                params = kwargs.get("litellm_params") or {}
                _capture.calls.append(
                    {
                        "model": kwargs.get("model", model),
                        "messages": messages,
                        "api_key": params.get("api_key"),
                        "api_base": params.get("api_base"),
                        "extra_env": os.environ.get("KITARU_TEST_EXTRA_TOKEN"),
                    }
                )

        litellm.callbacks.append(Recorder())
        _registered = True
    _capture.calls.clear()
    yield _capture.calls
    _capture.calls.clear()


@pytest.fixture
def llm_env(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No KITARU_* variables but the config path; an empty model registry for this test."""
    clean_env.setenv(REGISTRY_ENV, render_registry(ModelRegistry()))
    return clean_env


def _use_registry(env: pytest.MonkeyPatch, registry: dict[str, Any]) -> None:
    env.setenv(REGISTRY_ENV, json.dumps(registry))


def _step(client: Any, exec_id: str, call_id: str) -> Any:
    return client.get_pipeline_run(exec_id).steps[call_id]


def _everything_recorded(client: Any, exec_id: str) -> str:
    """Every surface's view of an execution: record, logs, artifacts, metadata, parameters."""
    from kitaru_core.services import artifacts, executions

    parts = [executions.get(exec_id).model_dump_json()]
    entries, _ = executions.logs(exec_id, limit=1000)
    parts += [entry.model_dump_json() for entry in entries]
    for item in artifacts.list_all(exec_id):
        parts.append(artifacts.get(item.artifact_id).model_dump_json())
    run = client.get_pipeline_run(exec_id)
    parts.append(json.dumps(run.run_metadata, default=str))
    parts.append(json.dumps(run.config.model_dump(mode="json"), default=str))
    for step in run.steps.values():
        parts.append(json.dumps(step.run_metadata, default=str))
        parts.append(json.dumps(step.config.model_dump(mode="json"), default=str))
        for versions in step.inputs.values():
            for version in versions if isinstance(versions, list) else [versions]:
                parts.append(repr(version.load()))
    return "\n".join(parts)


# --- recorded calls -------------------------------------------------------------------------


def test_a_flow_records_the_call_as_an_llm_call_checkpoint_with_usage(
    zenml_client: Any, llm_env: pytest.MonkeyPatch
) -> None:
    llm_env.setenv("KITARU_LLM_MOCK_RESPONSE", "a mocked answer")
    prompt = f"Summarise durable execution {new_salt()}"
    handle = ask_flow.run(prompt, MODEL)
    assert handle.wait(timeout=120) == "a mocked answer"
    assert handle.status == ExecutionStatus.COMPLETED

    call = checkpoint_calls(handle.exec_id)["llm_call"]
    assert call.type == "llm_call"
    assert call.status == ExecutionStatus.COMPLETED
    assert call.outputs, "the response text is stored as the call's output"

    step = _step(zenml_client, handle.exec_id, "llm_call")
    metadata = step.run_metadata
    # LiteLLM's mock path reports fixed token counts; gpt-4o-mini has a known price.
    assert metadata["prompt_tokens"] == 10
    assert metadata["completion_tokens"] == 20
    assert metadata["total_tokens"] == 30
    assert metadata["cost_usd"] > 0
    assert metadata["model"] == MODEL
    assert metadata["mocked"] is True
    assert "model_alias" not in metadata  # a raw model string, not an alias

    from kitaru_core import load

    assert load(handle.exec_id, "llm_call") == "a mocked answer"
    assert prompt in _everything_recorded(zenml_client, handle.exec_id)


def test_usage_and_model_show_on_every_read_path(
    zenml_client: Any, llm_env: pytest.MonkeyPatch
) -> None:
    """SDK ``get`` on the local SQLite path and on the ZenML path, CLI ``get -o json`` and MCP
    ``kitaru_executions_get`` all show the call's model, tokens and cost."""
    from _mcp_support import call, data
    from cli_support import kitaru_json

    from kitaru_core.backend import local_store
    from kitaru_core.services import executions
    from kitaru_mcp.server import build_server

    llm_env.setenv("KITARU_LLM_MOCK_RESPONSE", "usage please")
    handle = ask_flow.run(f"usage {new_salt()}", MODEL)
    assert handle.wait(timeout=120) == "usage please"

    def usage_of(execution: Any) -> Any:
        (call_,) = [c for c in execution.checkpoints if c.call_id == "llm_call"]
        return call_.llm_usage

    executions._finished.clear()  # a finished execution is cached once read: read afresh
    local = usage_of(executions.get(handle.exec_id))
    executions._finished.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(local_store, "open_local", lambda: None)  # the ZenML path only
        through_zenml = usage_of(executions.get(handle.exec_id))
    executions._finished.clear()
    for usage in (local, through_zenml):
        assert usage is not None
        assert usage.model == MODEL
        assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (10, 20, 30)
        assert usage.cost_usd is not None and usage.cost_usd > 0
        assert usage.mocked is True
    assert local == through_zenml

    expected = local.model_dump(mode="json")
    cli = kitaru_json("executions", "get", handle.exec_id)
    assert [c["llm_usage"] for c in cli["checkpoints"] if c["type"] == "llm_call"] == [expected]
    mcp = data(call(build_server(), "kitaru_executions_get", {"exec_id": handle.exec_id}))
    assert [c["llm_usage"] for c in mcp["checkpoints"] if c["type"] == "llm_call"] == [expected]
    # A plain checkpoint carries no usage (this one calls llm() inside, as a plain call).
    llm_env.setenv("KITARU_DEFAULT_MODEL", MODEL)
    nested = nested_flow.run(new_salt())
    nested.wait(timeout=120)
    assert all(c.llm_usage is None for c in executions.get(nested.exec_id).checkpoints)


def test_name_pins_the_call_id_and_unnamed_calls_are_numbered(
    zenml_client: Any, llm_env: pytest.MonkeyPatch, seen_by_litellm: list[dict[str, Any]]
) -> None:
    llm_env.setenv("KITARU_LLM_MOCK_RESPONSE", "ok")
    llm_env.setenv("KITARU_DEFAULT_MODEL", MODEL)
    salt = new_salt()
    handle = three_calls_flow.run(salt)
    assert handle.wait(timeout=120) == ["ok", "ok", "ok"]
    calls = checkpoint_calls(handle.exec_id)
    assert set(calls) == {"llm_call", "pinned_summary", "llm_call_2"}
    assert {call.type for call in calls.values()} == {"llm_call"}
    # The system prompt is sent first, then the given messages.
    third = next(c for c in seen_by_litellm if f"third {salt}" in json.dumps(c["messages"]))
    assert third["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": f"third {salt}"},
    ]


def test_outside_a_flow_llm_is_a_plain_call(
    zenml_client: Any, llm_env: pytest.MonkeyPatch, seen_by_litellm: list[dict[str, Any]]
) -> None:
    llm_env.setenv("KITARU_LLM_MOCK_RESPONSE", "plain answer")
    before = run_count(zenml_client)
    assert llm(f"hello {new_salt()}", model=MODEL, name="ignored_here") == "plain answer"
    assert run_count(zenml_client) == before
    assert [call["model"] for call in seen_by_litellm] == ["gpt-4o-mini"]


def test_inside_another_checkpoint_llm_is_a_plain_call(
    zenml_client: Any, llm_env: pytest.MonkeyPatch
) -> None:
    llm_env.setenv("KITARU_LLM_MOCK_RESPONSE", "nested answer")
    llm_env.setenv("KITARU_DEFAULT_MODEL", MODEL)
    handle = nested_flow.run(new_salt())
    assert handle.wait(timeout=120) == "nested answer"
    calls = checkpoint_calls(handle.exec_id)
    assert list(calls) == ["summarise_inside"]
    assert calls["summarise_inside"].type == "checkpoint"


def test_a_provider_failure_is_retried_by_the_flow_and_reported_with_a_hint(
    zenml_client: Any, llm_env: pytest.MonkeyPatch
) -> None:
    # LiteLLM's mock path raises a real litellm.RateLimitError for this value.
    llm_env.setenv("KITARU_LLM_MOCK_RESPONSE", "litellm.RateLimitError")
    llm_env.setenv("KITARU_DEFAULT_MODEL", MODEL)
    handle = retried_flow.run(new_salt())
    with pytest.raises(KitaruExecutionError) as caught:
        handle.wait(timeout=120)
    call = checkpoint_calls(handle.exec_id)["llm_call"]
    assert call.status == ExecutionStatus.FAILED
    assert call.attempts == 2  # @flow(retries=1) is the default of the llm_call checkpoint
    failure = caught.value.failure
    assert failure["checkpoint"] == "llm_call"
    assert failure["exception_type"] == "KitaruBackendError"
    assert "rate limit" in failure["message"]
    assert "retries=N" in failure["message"]  # the hint travels with the recorded failure


def test_the_mock_needs_a_model_too_and_no_model_is_a_usage_error(
    llm_env: pytest.MonkeyPatch, seen_by_litellm: list[dict[str, Any]]
) -> None:
    llm_env.setenv("KITARU_LLM_MOCK_RESPONSE", "never returned")
    with pytest.raises(KitaruUsageError) as caught:
        llm("hello")
    assert caught.value.code == "usage_error"
    assert "kitaru model register" in caught.value.hint
    assert seen_by_litellm == []


def test_bad_arguments_are_usage_errors_before_any_call(
    llm_env: pytest.MonkeyPatch, seen_by_litellm: list[dict[str, Any]]
) -> None:
    llm_env.setenv("KITARU_LLM_MOCK_RESPONSE", "never returned")
    for kwargs in (
        {"prompt_or_messages": ""},
        {"prompt_or_messages": []},
        {"prompt_or_messages": [{"role": "robot", "content": "x"}]},
        {"prompt_or_messages": "x", "temperature": -1},
        {"prompt_or_messages": "x", "max_tokens": 0},
        {"prompt_or_messages": "x", "name": "has spaces"},
        {"prompt_or_messages": "x", "model": "no such model"},
    ):
        with pytest.raises(KitaruUsageError):
            llm(**{"model": MODEL, **kwargs})
    assert seen_by_litellm == []


def test_an_unknown_model_string_is_a_usage_error_naming_the_aliases(
    llm_env: pytest.MonkeyPatch,
) -> None:
    llm_env.setenv("KITARU_LLM_MOCK_RESPONSE", "never returned")
    _use_registry(llm_env, {"models": {"fast": {"model": MODEL}}, "default_model": "fast"})
    with pytest.raises(KitaruUsageError) as caught:
        llm("hello", model="fsat")  # a typo: not an alias, and not a model LiteLLM knows
    assert "fsat" in caught.value.message
    assert "kitaru model register" in caught.value.hint


# --- model resolution -----------------------------------------------------------------------

REGISTRY = {
    "models": {
        "fast": {"model": "openai/gpt-4o-mini"},
        "smart": {"model": "anthropic/claude-3-5-sonnet-20240620"},
        "default-one": {"model": "openai/gpt-4o"},
    },
    "default_model": "default-one",
}


@pytest.mark.parametrize(
    ("explicit", "env_default", "expected"),
    [
        ("fast", "smart", "gpt-4o-mini"),  # explicit alias beats everything
        ("openai/gpt-3.5-turbo", "smart", "gpt-3.5-turbo"),  # explicit raw string
        (None, "smart", "claude-3-5-sonnet-20240620"),  # KITARU_DEFAULT_MODEL as an alias
        (None, "openai/gpt-4.1-mini", "gpt-4.1-mini"),  # KITARU_DEFAULT_MODEL as a raw string
        (None, None, "gpt-4o"),  # the registry's default alias
    ],
)
def test_llm_resolves_the_model_in_order(
    llm_env: pytest.MonkeyPatch,
    seen_by_litellm: list[dict[str, Any]],
    explicit: str | None,
    env_default: str | None,
    expected: str,
) -> None:
    llm_env.setenv("KITARU_LLM_MOCK_RESPONSE", "resolved")
    _use_registry(llm_env, REGISTRY)
    if env_default:
        llm_env.setenv("KITARU_DEFAULT_MODEL", env_default)
    assert llm("which model?", model=explicit) == "resolved"
    assert [call["model"] for call in seen_by_litellm] == [expected]


# --- secrets --------------------------------------------------------------------------------


@pytest.fixture
def secret_name(zenml_client: Any) -> Iterator[str]:
    from kitaru_core.services import secrets

    name = f"llm-keys-{new_salt()[:12]}"
    yield name
    with contextlib.suppress(KitaruNotFoundError):
        secrets.delete_secret(name)


def _no_value_in(text: str, *values: str) -> None:
    for value in values:
        assert value not in text


def test_an_aliases_secret_reaches_litellm_and_nothing_else(
    zenml_client: Any,
    llm_env: pytest.MonkeyPatch,
    seen_by_litellm: list[dict[str, Any]],
    secret_name: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from kitaru_core.config.paths import settings_path
    from kitaru_core.services import secrets

    api_key = f"sk-kitaru-test-{new_salt()}"
    extra = f"extra-{new_salt()}"
    secrets.create_secret(
        secret_name, {"OPENAI_API_KEY": api_key, "KITARU_TEST_EXTRA_TOKEN": extra}
    )
    _use_registry(
        llm_env,
        {"models": {"keyed": {"model": MODEL, "secret": secret_name}}, "default_model": "keyed"},
    )
    llm_env.setenv("KITARU_LLM_MOCK_RESPONSE", "answer with a key")
    handle = ask_flow.run(f"use the key {new_salt()}", "keyed", "keyed_call")
    assert handle.wait(timeout=120) == "answer with a key"

    # The key went to LiteLLM as api_key; the other value as an env var for that call only.
    assert seen_by_litellm[-1]["api_key"] == api_key
    assert seen_by_litellm[-1]["extra_env"] == extra
    assert "KITARU_TEST_EXTRA_TOKEN" not in os.environ

    metadata = _step(zenml_client, handle.exec_id, "keyed_call").run_metadata
    assert metadata["model_alias"] == "keyed"
    assert metadata["model"] == MODEL
    recorded = _everything_recorded(zenml_client, handle.exec_id)
    assert secret_name in recorded  # the secret is named (an input), never opened
    _no_value_in(recorded, api_key, extra)
    out, err = capfd.readouterr()
    _no_value_in(out + err, api_key, extra)
    if settings_path().exists():
        _no_value_in(settings_path().read_text(), api_key, extra)
    _no_value_in(json.dumps([s.model_dump(mode="json") for s in secrets.list_secrets()]), api_key)


def test_a_missing_secret_is_a_not_found_error(
    zenml_client: Any, llm_env: pytest.MonkeyPatch
) -> None:
    _use_registry(llm_env, {"models": {"keyed": {"model": MODEL, "secret": "nope-" + new_salt()}}})
    llm_env.setenv("KITARU_LLM_MOCK_RESPONSE", "never returned")
    with pytest.raises(KitaruNotFoundError) as caught:
        llm("hello", model="keyed")
    assert "kitaru secrets create" in caught.value.hint


def test_a_missing_api_key_names_the_variable_and_the_secret_option(
    llm_env: pytest.MonkeyPatch,
) -> None:
    # No mock: a real LiteLLM call that stops before the network because no key is set.
    llm_env.delenv("OPENAI_API_KEY", raising=False)
    llm_env.delenv("OPENAI_ADMIN_KEY", raising=False)
    _use_registry(llm_env, {"models": {"fast": {"model": MODEL}}, "default_model": "fast"})
    with pytest.raises(KitaruUsageError) as caught:
        llm("hello")
    assert "OPENAI_API_KEY" in caught.value.hint
    assert "--secret" in caught.value.hint
    assert caught.value.details["alias"] == "fast"


# --- the real request path, against a stand-in provider on loopback -------------------------


class _FakeOpenAI(BaseHTTPRequestHandler):
    """A provider that cannot exist here: OpenAI's chat API, answering one fixed text.

    A wrong key gets a 401 that quotes the key back, as real providers partly do, to prove
    Kitaru scrubs it.
    """

    valid_key = ""
    seen_keys: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        key = self.headers.get("authorization", "").removeprefix("Bearer ")
        type(self).seen_keys.append(key)
        if key != self.valid_key:
            self._send(401, {"error": {"message": f"Incorrect API key provided: {key}"}})
            return
        self._send(
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "answer from loopback"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
            },
        )

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_provider() -> Iterator[str]:
    _FakeOpenAI.valid_key = f"sk-loopback-{new_salt()}"
    _FakeOpenAI.seen_keys = []
    server = HTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


def test_a_real_call_uses_the_secret_and_records_usage_and_cost(
    zenml_client: Any, llm_env: pytest.MonkeyPatch, fake_provider: str, secret_name: str
) -> None:
    from kitaru_core.services import secrets

    key = _FakeOpenAI.valid_key
    secrets.create_secret(secret_name, {"OPENAI_API_KEY": key, "OPENAI_API_BASE": fake_provider})
    _use_registry(llm_env, {"models": {"loop": {"model": MODEL, "secret": secret_name}}})
    handle = ask_flow.run(f"real path {new_salt()}", "loop")
    assert handle.wait(timeout=120) == "answer from loopback"
    assert _FakeOpenAI.seen_keys == [key]
    metadata = _step(zenml_client, handle.exec_id, "llm_call").run_metadata
    assert (metadata["prompt_tokens"], metadata["completion_tokens"]) == (7, 3)
    assert metadata["total_tokens"] == 10
    assert metadata["cost_usd"] > 0
    assert metadata["finish_reason"] == "stop"
    assert "mocked" not in metadata
    _no_value_in(_everything_recorded(zenml_client, handle.exec_id), key)


def test_a_rejected_key_fails_the_call_without_showing_the_key(
    zenml_client: Any,
    llm_env: pytest.MonkeyPatch,
    fake_provider: str,
    secret_name: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from kitaru_core.services import secrets

    wrong = f"sk-wrong-{new_salt()}"
    secrets.create_secret(secret_name, {"api_key": wrong, "api_base": fake_provider})
    _use_registry(llm_env, {"models": {"loop": {"model": MODEL, "secret": secret_name}}})

    # Outside a flow: the error itself.
    with pytest.raises(KitaruUsageError) as caught:
        llm("hello", model="loop")
    assert _FakeOpenAI.seen_keys == [wrong]  # the provider really got it (and quoted it back)
    error = json.dumps(caught.value.to_dict())
    _no_value_in(error + repr(caught.value.__cause__) + repr(caught.value.__context__), wrong)
    assert secret_name in caught.value.hint
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    assert caught.value.message.endswith("Incorrect API key provided: ****")

    # Inside a flow: the failed execution as every surface shows it.
    handle = ask_flow.run(f"rejected {new_salt()}", "loop")
    with pytest.raises(KitaruExecutionError) as failed:
        handle.wait(timeout=120)
    assert checkpoint_calls(handle.exec_id)["llm_call"].status == ExecutionStatus.FAILED
    assert f"Check secret '{secret_name}'" in failed.value.failure["message"]
    _no_value_in(json.dumps(failed.value.to_dict()), wrong)
    _no_value_in(_everything_recorded(zenml_client, handle.exec_id), wrong)
    out, err = capfd.readouterr()
    _no_value_in(out + err, wrong)


# --- import cost ----------------------------------------------------------------------------


def test_import_kitaru_core_does_not_import_litellm() -> None:
    code = (
        "import sys, kitaru_core; "
        "from kitaru_core import llm; "
        "import kitaru_core.runtime.llm, kitaru_core.runtime.llm_resolution, "
        "kitaru_core.config.llm_models, kitaru_core.services.llm_models, "
        "kitaru_core.services.secrets, kitaru_core.requests.models; "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('litellm', 'zenml')); "
        "assert not heavy, heavy[:5]; print('clean')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
