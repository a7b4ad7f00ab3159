"""The image rule where images are applied: a run on a remote stack from this source checkout.

The test venv installs Kitaru editable, so no container could install it: the run is refused
before anything is started, with what to do. The Kubernetes stack is registered without a
cloud (fake ``s3://`` store and ECR registry); nothing here ever reaches a cluster.
"""

from __future__ import annotations

from typing import Any

import pytest
from flows import basic
from stack_store_support import SEED_REMOTE, create

from kitaru_core import KitaruClient
from kitaru_core.config.image import REQUIREMENT_VAR
from kitaru_core.errors import KitaruUsageError


def test_a_remote_run_from_a_checkout_is_refused_before_it_starts(
    store: Any, clean_env: pytest.MonkeyPatch
) -> None:
    create("remote-img", activate=False, **SEED_REMOTE["prod-k8s"])
    before = [e.exec_id for e in KitaruClient().executions.list(limit=200)]
    with pytest.raises(KitaruUsageError) as info:
        basic.plain_flow.run("remote-image", stack="remote-img")
    assert "cannot install this Kitaru" in info.value.message
    assert "editable install" in info.value.message
    assert REQUIREMENT_VAR in info.value.hint
    assert [e.exec_id for e in KitaruClient().executions.list(limit=200)] == before


def test_a_local_run_with_image_settings_is_not_affected(
    zenml_client: Any, clean_env: pytest.MonkeyPatch
) -> None:
    # No container is built on the local stack, so an uninstallable Kitaru does not matter.
    handle = basic.plain_flow.run("local-image", image={"requirements": ["httpx"]})
    assert handle.wait(timeout=300) is not None
