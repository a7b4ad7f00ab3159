"""Worker jobs are typed (issue 18, item 5): each kind survives its trip over the wire
unchanged, and anything malformed is refused with a validation error naming the field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from kitaru_core.errors import KitaruValidationError
from kitaru_core.jobs import (
    PoolRequest,
    RerunJob,
    ResumeJob,
    RunJob,
    parse_job,
    parse_pool_request,
)
from kitaru_core.runtime.zygote import _read_request

EVERY_KIND = [
    pytest.param(RunJob(target="flows/basic.py:value_flow"), id="run-minimal"),
    pytest.param(
        RunJob(
            target="pkg.module:agent",
            inputs={"topic": "cats", "limits": [1, 2], "nested": {"a": None}},
            stack="local",
            image={"base_image": "python:3.11"},
            extra={"kitaru_deployment_version": 3},
            cwd="/tmp/somewhere",
        ),
        id="run-full",
    ),
    pytest.param(ResumeJob(exec_id="0b1c"), id="resume"),
    pytest.param(RerunJob(exec_id="0b1c", skip=["a", "b_2"], live=False), id="retry"),
    pytest.param(
        RerunJob(
            exec_id="0b1c",
            skip=["fetch"],
            overrides={"summarise": {"text": "given"}},
            flow_inputs={"topic": "dogs"},
            live=True,
            replay_from="summarise",
        ),
        id="replay",
    ),
]


@pytest.mark.parametrize("job", EVERY_KIND)
def test_every_kind_round_trips_over_the_wire(job: Any) -> None:
    wire = job.to_wire()
    assert "\n" not in wire  # one line: the warm pool reads its stdin line by line
    assert json.loads(wire)["kind"] == job.kind
    back = parse_job(wire)
    assert type(back) is type(job)
    assert back == job
    assert parse_job(wire.encode()) == job
    assert parse_job(json.loads(wire)) == job


@pytest.mark.parametrize("job", EVERY_KIND)
def test_a_pool_request_carries_its_job_unchanged(job: Any) -> None:
    request = PoolRequest(job_id="j1", log_file="/tmp/w.log", job=job)
    back = parse_pool_request(request.to_wire())
    assert back == request
    assert type(back.job) is type(job)


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        pytest.param("", "job", "not JSON", id="empty"),
        pytest.param("{not json", "job", "not JSON", id="garbled"),
        pytest.param("[1, 2]", "job", "JSON object", id="a-list"),
        pytest.param({}, "kind", "discriminator 'kind'", id="no-kind"),
        pytest.param({"kind": "explode"}, "kind", "'explode'", id="unknown-kind"),
        pytest.param({"kind": "run"}, "target", "Field required", id="run-without-target"),
        pytest.param({"kind": "run", "target": ""}, "target", "at least 1", id="empty-target"),
        pytest.param(
            {"kind": "run", "target": "a.py:f", "inputs": ["x"]},
            "inputs",
            "JSON object of parameter names",
            id="inputs-not-an-object",
        ),
        pytest.param({"kind": "resume", "exec_id": 5}, "exec_id", "valid string", id="int-id"),
        pytest.param(
            {"kind": "rerun", "exec_id": "e", "live": "yes"}, "live", "valid boolean", id="live"
        ),
        pytest.param(
            {"kind": "rerun", "exec_id": "e", "skip": "a"}, "skip", "valid list", id="skip-str"
        ),
        pytest.param(
            {"kind": "resume", "exec_id": "e", "target": "a.py:f"},
            "target",
            "Extra inputs",
            id="field-of-another-kind",
        ),
    ],
)
def test_a_malformed_job_is_refused_naming_the_field(
    data: str | dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(KitaruValidationError) as caught:
        parse_job(data)
    assert caught.value.code == "validation_error"
    assert field in caught.value.fields, caught.value.fields
    assert words in caught.value.fields[field]
    assert caught.value.message.startswith("Malformed worker job")


def test_a_job_cannot_be_changed_after_it_is_built() -> None:
    job = ResumeJob(exec_id="e1")
    with pytest.raises(ValueError):
        job.exec_id = "e2"  # type: ignore[misc]
    assert job.exec_id == "e1"


def test_the_pool_refuses_a_malformed_request_on_its_report_pipe() -> None:
    read_fd, write_fd = os.pipe()
    try:
        line = json.dumps({"job_id": "j9", "log_file": "/tmp/x.log", "job": {"kind": "run"}})
        assert _read_request(line, write_fd) is None
        reply = json.loads(os.read(read_fd, 65536))
        assert reply["job"] == "j9"
        assert reply["error"]["code"] == "validation_error"
        assert "job.target" in reply["error"]["message"]
        # Without a readable job_id nobody waits for the answer: nothing is written.
        assert _read_request("garbage\n", write_fd) is None
        os.set_blocking(read_fd, False)
        with pytest.raises(BlockingIOError):
            os.read(read_fd, 65536)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_a_spawned_worker_reports_a_malformed_job_and_starts_nothing() -> None:
    read_fd, write_fd = os.pipe()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "kitaru_core.runtime.worker", str(write_fd)],
            input=b'{"kind": "rerun", "exec_id": "e", "live": "maybe"}',
            pass_fds=(write_fd,),
            capture_output=True,
            timeout=120,
        )
        os.close(write_fd)
        write_fd = -1
        report = json.loads(os.read(read_fd, 65536))
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    assert done.returncode == 1, done.stderr[-2000:]
    assert report["error"]["code"] == "validation_error"
    assert "live" in report["error"]["message"]
    assert "zenml" not in done.stderr.decode().lower()  # refused before any backend work
