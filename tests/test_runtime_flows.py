"""``@flow`` and ``@checkpoint`` on a real store (SPEC §1.1, §2 frozen spec and terminal output).

Flows live in ``tests/flows/basic.py`` (module top level, so ZenML can reload them).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from flows import basic
from runtime_helpers import (  # noqa: F401  (the *_fixture names are fixtures)
    REPO_ROOT,
    TESTS_DIR,
    checkpoint_calls,
    execution,
    fresh_configure_fixture,
    new_salt,
    run_count,
    workdir_fixture,
)

from kitaru_core import (
    FlowHandle,
    KitaruExecutionError,
    KitaruNotFoundError,
    KitaruUsageError,
)
from kitaru_core.models import ExecutionStatus

KINDS = ["str", "int", "float", "dict", "list", "model", "none"]


def _assert_same_value(value: Any, kind: str) -> None:
    expected = basic.sample(kind)
    assert type(value) is type(expected), (kind, type(value))
    assert value == expected


# --- values --------------------------------------------------------------------------------


def test_checkpoint_outputs_are_plain_values_in_the_flow_body(zenml_client: Any) -> None:
    text = f"one two three four {new_salt()}"
    handle = basic.branching_flow.run(text)
    result = handle.wait(timeout=60)
    assert result["types"] == ["int", "str"]
    assert result["kind"] == "long"
    assert result["loud"] == text.upper()
    assert result["letters"] == sum(1 for char in text.upper() if char.isupper())
    assert result["ratio"] == -1.0  # the except branch ran on a real ZeroDivisionError
    assert handle.status == ExecutionStatus.COMPLETED


@pytest.mark.parametrize("kind", KINDS)
def test_a_checkpoint_return_value_comes_back_typed(zenml_client: Any, kind: str) -> None:
    handle = basic.value_flow.run(kind, new_salt())
    _assert_same_value(handle.wait(timeout=60), kind)
    if kind == "model":
        # The class of this very module: no second copy of the module was imported.
        assert sys.modules["flows.basic"].Point is basic.Point
        assert "basic" not in sys.modules


@pytest.mark.parametrize("kind", ["str", "float", "dict", "model", "none"])
def test_a_value_built_in_the_flow_body_comes_back_typed(zenml_client: Any, kind: str) -> None:
    handle = basic.body_value_flow.run(kind, new_salt())
    _assert_same_value(handle.wait(timeout=60), kind)
    assert execution(handle.exec_id).checkpoints == []


def test_calling_a_flow_directly_returns_its_value(zenml_client: Any) -> None:
    before = run_count(zenml_client)
    assert basic.value_flow("list", new_salt()) == basic.sample("list")
    assert run_count(zenml_client) == before + 1


def test_the_handle_follows_an_execution_by_id(zenml_client: Any) -> None:
    salt = new_salt()
    handle = basic.value_flow.run("str", salt)
    again = FlowHandle(handle.exec_id)
    assert again.status == ExecutionStatus.COMPLETED
    assert again.wait(timeout=5) == "hello"
    ex = execution(handle.exec_id)
    assert ex.flow == "value_flow"
    assert ex.stack == "default"
    assert ex.result == "hello"


def test_submit_runs_checkpoints_as_futures(zenml_client: Any) -> None:
    handle = basic.submit_flow.run(4, new_salt())
    assert handle.wait(timeout=60) == {"values": [0, 1, 4, 9], "total": 14}
    calls = checkpoint_calls(handle.exec_id)
    assert set(calls) == {"square", "square_2", "square_3", "square_4"}
    assert {call.status for call in calls.values()} == {ExecutionStatus.COMPLETED}


def test_a_typed_result_loads_in_a_process_without_a_main_file(
    zenml_client: Any, tmp_path: Any
) -> None:
    # `python -c` (like a REPL or a notebook) has no __main__ file and never ran the flow.
    handle = basic.value_flow.run("model", new_salt())
    code = (
        "from kitaru_core import FlowHandle, load; "
        f"value = FlowHandle({handle.exec_id!r}).wait(timeout=30); "
        f"saved = load({handle.exec_id!r}, 'make_value'); "
        "print(type(value).__module__, type(value).__qualname__, value == saved)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["flows.basic", "Point", "True"]


# --- outside a flow ------------------------------------------------------------------------


def test_a_checkpoint_outside_a_flow_is_a_plain_call(zenml_client: Any) -> None:
    before = run_count(zenml_client)
    assert basic.make_value("model", new_salt()) == basic.Point(x=1, y=2)
    assert basic.square.submit(5, new_salt()).result() == 25
    assert basic.fetch_data("https://x.example", id="pinned") == "data from https://x.example"
    assert run_count(zenml_client) == before


def test_inputs_of_the_wrong_type_are_refused_before_anything_runs(zenml_client: Any) -> None:
    from kitaru_core import KitaruValidationError

    class Opaque:
        pass

    before = run_count(zenml_client)
    with pytest.raises(KitaruValidationError) as info:
        basic.value_flow.run(5, new_salt())
    assert info.value.code == "validation_error"
    assert set(info.value.fields) == {"kind"}
    assert "value_flow" in info.value.message
    with pytest.raises(KitaruValidationError) as info:
        basic.value_flow.run("str", Opaque())
    assert set(info.value.fields) == {"salt"}
    assert "pipeline" not in info.value.message
    with pytest.raises(KitaruUsageError):
        basic.value_flow.run("str")  # a missing input
    assert run_count(zenml_client) == before


# --- call ids ------------------------------------------------------------------------------


def test_call_ids_are_readable_and_can_be_pinned(zenml_client: Any) -> None:
    salt = new_salt()
    handle = basic.call_ids_flow.run(salt)
    assert handle.wait(timeout=60) == [
        f"data from https://a.example/{salt}",
        f"data from https://b.example/{salt}",
        f"data from https://c.example/{salt}",
    ]
    calls = execution(handle.exec_id).checkpoints
    assert [call.call_id for call in calls] == ["fetch_data", "fetch_data_2", "fetch"]
    assert {call.name for call in calls} == {"fetch_data"}
    assert {call.type for call in calls} == {"checkpoint"}


# --- retries -------------------------------------------------------------------------------


def test_checkpoint_retries_record_every_attempt(zenml_client: Any, workdir: str) -> None:
    handle = basic.retry_flow.run(workdir)
    assert handle.wait(timeout=60) == "succeeded on attempt 2"
    call = checkpoint_calls(handle.exec_id)["flaky_step"]
    assert call.attempts == 2
    assert call.status == ExecutionStatus.COMPLETED


def test_flow_retries_are_the_default_for_its_checkpoints(zenml_client: Any, workdir: str) -> None:
    handle = basic.flow_retries_flow.run(workdir)
    assert handle.wait(timeout=60) == "succeeded on attempt 3"
    assert checkpoint_calls(handle.exec_id)["flaky_plain_step"].attempts == 3
    assert execution(handle.exec_id).frozen_spec["retries"] == {"value": 2, "source": "flow"}


def test_without_retries_the_first_failure_fails_the_flow(zenml_client: Any, workdir: str) -> None:
    handle = basic.no_retries_flow.run(workdir)
    with pytest.raises(KitaruExecutionError):
        handle.wait(timeout=60)
    call = checkpoint_calls(handle.exec_id)["flaky_plain_step"]
    assert call.attempts == 1
    assert call.status == ExecutionStatus.FAILED
    assert basic.calls(workdir, "flaky_plain_step") == 1


def test_retries_at_run_override_the_flow(zenml_client: Any, workdir: str) -> None:
    handle = basic.no_retries_flow.run(workdir, retries=2)
    assert handle.wait(timeout=60) == "succeeded on attempt 3"
    assert checkpoint_calls(handle.exec_id)["flaky_plain_step"].attempts == 3


def test_the_flaky_example_succeeds_on_retry(zenml_client: Any, workdir: str) -> None:
    from kitaru_core.runtime.loader import load_flow

    flow, _ = load_flow(str(REPO_ROOT / "examples" / "flaky.py") + ":flaky_flow")
    handle = flow.run(workdir, request=new_salt())
    assert handle.wait(timeout=60).startswith("response to ")
    assert checkpoint_calls(handle.exec_id)["call_unreliable_service"].attempts == 2


# --- caching -------------------------------------------------------------------------------


def test_caching_is_on_by_default(zenml_client: Any, workdir: str) -> None:
    salt = new_salt()
    first = basic.cache_flow.run(workdir, salt)
    second = basic.cache_flow.run(workdir, salt)
    assert first.wait(timeout=60) == second.wait(timeout=60) == f"computed {salt}"
    assert checkpoint_calls(first.exec_id)["counted_step"].cached is False
    cached = checkpoint_calls(second.exec_id)["counted_step"]
    assert cached.cached is True
    assert cached.status == ExecutionStatus.COMPLETED
    assert basic.calls(workdir, "counted_step") == 1
    assert execution(second.exec_id).frozen_spec["cache"] == {"value": True, "source": "default"}


def test_cache_false_at_run_runs_every_checkpoint_again(zenml_client: Any, workdir: str) -> None:
    salt = new_salt()
    basic.cache_flow.run(workdir, salt).wait(timeout=60)
    second = basic.cache_flow.run(workdir, salt, cache=False)
    assert second.wait(timeout=60) == f"computed {salt}"
    assert checkpoint_calls(second.exec_id)["counted_step"].cached is False
    assert basic.calls(workdir, "counted_step") == 2
    assert execution(second.exec_id).frozen_spec["cache"] == {
        "value": False,
        "source": "invocation",
    }


def test_a_different_input_is_not_a_cache_hit(zenml_client: Any, workdir: str) -> None:
    basic.cache_flow.run(workdir, new_salt()).wait(timeout=60)
    other = basic.cache_flow.run(workdir, new_salt())
    other.wait(timeout=60)
    assert checkpoint_calls(other.exec_id)["counted_step"].cached is False
    assert basic.calls(workdir, "counted_step") == 2


# --- precedence and the frozen spec --------------------------------------------------------


def _spec(handle: Any) -> dict[str, Any]:
    handle.wait(timeout=60)
    return execution(handle.exec_id).frozen_spec


def test_frozen_spec_records_each_value_with_its_source(zenml_client: Any, clean_env: Any) -> None:
    spec = _spec(basic.plain_flow.run(new_salt()))
    assert spec["stack"] == {"value": "default", "source": "active_stack"}
    assert spec["cache"] == {"value": True, "source": "default"}
    assert spec["retries"] == {"value": 0, "source": "default"}
    assert spec["image"] == {"value": None, "source": "default"}
    assert spec["flow"] == "plain_flow"


def test_invocation_beats_flow(zenml_client: Any, clean_env: Any) -> None:
    spec = _spec(basic.configured_flow.run(new_salt(), cache=True, stack="default"))
    assert spec["cache"] == {"value": True, "source": "invocation"}
    assert spec["stack"] == {"value": "default", "source": "invocation"}
    assert spec["retries"] == {"value": 1, "source": "flow"}


def test_flow_beats_configure(zenml_client: Any, clean_env: Any, fresh_configure: None) -> None:
    from kitaru_core import configure

    configure(retries=3, cache=True, stack="default")
    spec = _spec(basic.configured_flow.run(new_salt()))
    assert spec["retries"] == {"value": 1, "source": "flow"}
    assert spec["cache"] == {"value": False, "source": "flow"}
    assert spec["stack"] == {"value": "default", "source": "configure"}


def test_configure_beats_env(zenml_client: Any, clean_env: Any, fresh_configure: None) -> None:
    from kitaru_core import configure

    clean_env.setenv("KITARU_CACHE", "true")
    clean_env.setenv("KITARU_RETRIES", "2")
    clean_env.setenv("KITARU_STACK", "default")
    configure(cache=False)
    handle = basic.plain_flow.run(new_salt())
    spec = _spec(handle)
    assert spec["cache"] == {"value": False, "source": "configure"}
    assert spec["retries"] == {"value": 2, "source": "env"}
    assert spec["stack"] == {"value": "default", "source": "env"}
    assert checkpoint_calls(handle.exec_id)["ok_step"].cached is False


def test_the_frozen_spec_masks_secrets(zenml_client: Any, clean_env: Any) -> None:
    secret = "sk-" + new_salt()
    environment = {"OPENAI_API_KEY": secret, "TZ": "UTC"}
    image = {"base_image": "python:3.11-slim", "environment": environment}
    spec = _spec(basic.plain_flow.run(new_salt(), image=image))
    assert spec["image"]["source"] == "invocation"
    assert spec["image"]["value"]["base_image"] == "python:3.11-slim"
    environment = spec["image"]["value"]["environment"]
    assert environment["TZ"] == "UTC"
    assert environment["OPENAI_API_KEY"] != secret
    assert secret not in str(spec)


def test_an_unknown_stack_is_refused_before_anything_runs(
    zenml_client: Any, clean_env: Any
) -> None:
    before = run_count(zenml_client)
    with pytest.raises(KitaruNotFoundError) as info:
        basic.plain_flow.run(new_salt(), stack=f"no-such-stack-{new_salt()[:6]}")
    assert info.value.code == "not_found"
    assert "default" in info.value.details["available"]
    assert run_count(zenml_client) == before


# --- failures ------------------------------------------------------------------------------


def test_a_failing_flow_raises_an_execution_error_with_the_failure(zenml_client: Any) -> None:
    salt = new_salt()
    handle = basic.failing_flow.run(salt)
    assert handle.status == ExecutionStatus.FAILED
    with pytest.raises(KitaruExecutionError) as info:
        handle.wait(timeout=60)
    error = info.value
    assert error.code == "execution_failed"
    assert error.exec_id == handle.exec_id
    assert error.failure["checkpoint"] == "explode"
    assert error.failure["exception_type"] == "BrokenDataError"
    assert error.failure["message"] == f"boom {salt}"
    traceback = error.failure["traceback"]
    assert 'raise BrokenDataError(f"boom {salt}")' in traceback
    assert "/zenml/" not in traceback and "__kitaru_" not in traceback
    assert "explode" in str(error) and "BrokenDataError" in str(error)
    ex = execution(handle.exec_id)
    assert ex.failure is not None and ex.failure.checkpoint == "explode"
    assert checkpoint_calls(handle.exec_id)["ok_step"].status == ExecutionStatus.COMPLETED


def test_a_failure_in_the_flow_body_is_carried_too(zenml_client: Any) -> None:
    salt = new_salt()
    handle = basic.body_failing_flow.run(salt)
    with pytest.raises(KitaruExecutionError) as info:
        handle.wait(timeout=60)
    failure = info.value.failure
    assert failure["checkpoint"] is None
    assert failure["exception_type"] == "BrokenDataError"
    assert failure["message"] == f"body says no to {salt}"
    assert 'raise BrokenDataError(f"body says no to {salt}")' in failure["traceback"]
    assert "/zenml/" not in failure["traceback"]
    assert "/kitaru_core/runtime/" not in failure["traceback"]


def test_calling_a_failing_flow_directly_raises(zenml_client: Any) -> None:
    with pytest.raises(KitaruExecutionError) as info:
        basic.failing_flow(new_salt())
    assert info.value.failure["exception_type"] == "BrokenDataError"


def test_the_traceback_ends_with_the_exception_line(zenml_client: Any) -> None:
    # The failing frame is Kitaru's own (wait() raising inside a checkpoint): its frames are
    # hidden, but the line that names the exception must stay.
    from flows.waiting import wait_in_checkpoint_flow

    handle = wait_in_checkpoint_flow.run(new_salt())
    with pytest.raises(KitaruExecutionError) as info:
        handle.wait(timeout=60)
    traceback = info.value.failure["traceback"]
    assert (
        traceback.rstrip()
        .splitlines()[-1]
        .startswith(
            "kitaru_core.errors.KitaruContextError: wait() cannot be called inside a checkpoint"
        )
    )
    assert "/kitaru_core/runtime/" not in traceback


# --- log, save, load ----------------------------------------------------------------------


def test_log_attaches_metadata_to_the_execution_and_the_checkpoint(zenml_client: Any) -> None:
    from kitaru_core.backend.runs import get_run

    salt = new_salt()
    handle = basic.logging_flow.run(salt)
    assert handle.wait(timeout=60) == 7
    run = get_run(handle.exec_id)
    assert run.run_metadata["stage"] == "start"
    assert run.run_metadata["salt"] == salt
    step = run.steps["logged_step"]
    assert step.run_metadata["tokens"] == 42
    assert step.run_metadata["model"] == "mock"
    assert "tokens" not in run.run_metadata


def test_save_and_load_round_trip(zenml_client: Any) -> None:
    from kitaru_core import load

    salt = new_salt()
    handle = basic.saving_flow.run(salt)
    assert handle.wait(timeout=60) == f"report {salt}"
    assert load(handle.exec_id, "report") == {"salt": salt, "rows": [1, 2, 3]}
    summary = load(handle.exec_id, "summary")
    assert isinstance(summary, basic.Point) and summary == basic.Point(x=3, y=4)
    # A checkpoint's output is reachable by its call id too.
    assert load(handle.exec_id, "produce_report") == f"report {salt}"


def test_load_finds_what_a_cached_checkpoint_saved(zenml_client: Any) -> None:
    from kitaru_core import load

    salt = new_salt()
    basic.saving_flow.run(salt).wait(timeout=60)
    second = basic.saving_flow.run(salt)
    second.wait(timeout=60)
    assert checkpoint_calls(second.exec_id)["produce_report"].cached is True
    assert load(second.exec_id, "report") == {"salt": salt, "rows": [1, 2, 3]}


def test_load_of_an_unknown_name_lists_what_exists(zenml_client: Any) -> None:
    from kitaru_core import load

    handle = basic.saving_flow.run(new_salt())
    handle.wait(timeout=60)
    with pytest.raises(KitaruNotFoundError) as info:
        load(handle.exec_id, "nothing-here")
    assert info.value.code == "not_found"
    assert {"report", "summary", "produce_report"} <= set(info.value.details["available"])


# --- the example ---------------------------------------------------------------------------


def test_the_basic_agent_example_runs(zenml_client: Any) -> None:
    from kitaru_core.runtime.loader import load_flow

    flow, _ = load_flow(str(REPO_ROOT / "examples" / "basic_agent.py") + ":research_agent")
    topic = f"topic {new_salt()}"
    handle = flow.run(topic)
    result = handle.wait(timeout=60)
    assert result["topic"] == topic and result["sources"] == 3
    assert result["summary"].startswith(f"Summary of {topic} (3 sources)")
    calls = checkpoint_calls(handle.exec_id)
    # The three gathers run concurrently, so their order in the list is not fixed.
    assert set(calls) == {"plan", "gather", "gather_2", "gather_3", "summarise"}
    assert calls["summarise"].type == "llm_call"
    assert calls["gather"].type == "checkpoint"


# --- terminal output -----------------------------------------------------------------------

ZENML_INTERNALS = ("Step ", "Pipeline run has finished", "__kitaru_", "dynamic pipeline")


def _run_terminal_demo(salt: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **env}
    result = subprocess.run(
        [sys.executable, "-m", "flows.terminal_demo", salt],
        cwd=TESTS_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_terminal_shows_kitaru_lines_only(zenml_client: Any, clean_env: Any) -> None:
    salt = new_salt()
    result = _run_terminal_demo(salt)
    assert f"result: ok {salt}" in result.stdout
    assert "status: waiting" in result.stdout
    lines = result.stderr.splitlines()
    kitaru = [line for line in lines if line.startswith("[kitaru] ")]
    assert any("flow 'plain_flow' started on stack 'default'" in line for line in kitaru)
    assert "[kitaru] checkpoint 'ok_step' started" in kitaru
    assert any(line.startswith("[kitaru] checkpoint 'ok_step' finished in ") for line in kitaru)
    assert any(line.startswith("[kitaru] flow 'plain_flow' completed") for line in kitaru)
    assert "[kitaru] waiting for input 'gate': Continue?" in kitaru
    assert any(line.startswith("[kitaru] flow 'gate_flow' waiting") for line in kitaru)
    for internal in ZENML_INTERNALS:
        assert internal not in result.stderr + result.stdout, internal
    assert set(lines) == set(kitaru), [line for line in lines if line not in kitaru]


def test_a_parameter_named_schema_prints_no_zenml_warning(zenml_client: Any) -> None:
    import warnings

    salt = new_salt()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert basic.schema_param_flow("json", salt) == f"json {salt}"
    leaked = [str(w.message) for w in caught if "PipelineInput" in str(w.message)]
    assert leaked == []


def test_kitaru_debug_shows_zenml_lines(zenml_client: Any, clean_env: Any) -> None:
    result = _run_terminal_demo(new_salt(), KITARU_DEBUG="1")
    assert "[kitaru] checkpoint 'ok_step' started" in result.stderr
    # ZenML logs to stdout.
    output = result.stdout + result.stderr
    assert "Pipeline run has finished" in output
    assert "Step " in output
