"""Stack tools: list, current, show, use, create, delete.

Each tool is arguments → request builder (with the MCP field labels, so messages name the
parameters as the assistant spelled them) → stack service → result model.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from kitaru_core.config.env import ENGINE
from kitaru_core.models import StackComponentInfo, StackDetails, StackInfo, StackListItem
from kitaru_mcp.results import DEFAULT_LIMIT, Cursor, Limit, Page, paginate

STACK_TYPES = ["local", "kubernetes", "vertex", "sagemaker", "azureml"]
_PAGE_KIND = "stacks"
_EXTRA_HELP = (
    f"Advanced {ENGINE} component settings: {{target: {{field: value}}}} or "
    "['target.field=value', …]; targets are orchestrator, artifact_store, "
    "container_registry (not for local stacks)."
)


class StackPage(Page[StackListItem]):
    """A page of stacks: ``id``, ``name``, ``is_active``, ``is_managed`` (created by Kitaru)."""


class StackDeleteResult(BaseModel):
    """What ``kitaru_stacks_delete`` removed, and which stack is active afterwards."""

    stack: StackDetails = Field(description="The deleted stack, as it was.")
    removed_components: list[StackComponentInfo] = Field(
        description="Kitaru-managed components removed with it (recursive=true only)."
    )
    removed_connectors: list[str] = Field(description="Service connectors removed with it.")
    active_stack: str = Field(description="The active stack after the deletion.")
    switched_to_default: bool = Field(
        description="True when the deleted stack was active and `default` became active."
    )


StackRef = Annotated[
    str,
    Field(description="Stack name or id (a unique id prefix works too).", examples=["default"]),
]


def _text(description: str, *examples: str) -> Any:
    """An optional text parameter (blank counts as omitted)."""
    return Field(description=description, examples=list(examples) or None)


def kitaru_stacks_list(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> StackPage:
    """List the stacks flows can run on, with the active one marked (`is_active`) and those
    Kitaru created marked `is_managed`.

    Use it to find a stack name for kitaru_stacks_show, for running a flow on a given stack,
    or to {tool:kitaru_stacks_use|switch stacks}. Paged: pass `next_cursor` back as `cursor`
    while it is not null."""
    from kitaru_core.services import stacks

    return paginate(StackPage, stacks.list_stacks(), kind=_PAGE_KIND, limit=limit, cursor=cursor)


def kitaru_stacks_current() -> StackInfo:
    """The active stack: the one new executions run on unless a stack is given explicitly.

    Next: kitaru_stacks_show for its components; {tool:kitaru_stacks_use|switch}."""
    from kitaru_core.services import stacks

    return stacks.current_stack()


def kitaru_stacks_show(
    name: Annotated[
        str | None,
        Field(description="Stack name or id; omit it for the active stack.", examples=["default"]),
    ] = None,
) -> StackDetails:
    """Details of one stack: its type, components (orchestrator, artifact store, container
    registry) with flavors and key configuration (secrets masked), and its service connector.

    Use it to check where a stack runs and stores artifacts, e.g. one from kitaru_stacks_list.
    Unknown names fail with not_found listing the stacks that exist."""
    from kitaru_core.services import stacks

    return stacks.show_stack(name)


def kitaru_stacks_use(name: StackRef) -> StackInfo:
    """Make a stack the active one (persisted: later executions and sessions use it).

    Use it when the user wants flows to run somewhere else by default. To run one execution
    elsewhere, pass its stack to the run instead. Next: kitaru_stacks_current to confirm."""
    from kitaru_core.requests.stacks import MCP_LABELS, normalize_stack_reference
    from kitaru_core.services import stacks

    return stacks.use_stack(normalize_stack_reference(name, labels=MCP_LABELS))


def kitaru_stacks_create(
    name: Annotated[
        str, Field(description="Name of the new stack (must be unique).", examples=["gpu-k8s"])
    ],
    activate: Annotated[
        bool, Field(description="Make the new stack the active one (default true).")
    ] = True,
    stack_type: Annotated[
        str,
        Field(
            description="Stack type; decides which other fields are required (default local).",
            json_schema_extra={"enum": STACK_TYPES},
        ),
    ] = "local",
    artifact_store: Annotated[
        str | None,
        _text(
            "Bucket URI for artifacts; its scheme picks the cloud (s3:// AWS, gs:// GCP, "
            "az:// / abfs:// / abfss:// Azure). Remote types only.",
            "s3://my-bucket/kitaru",
        ),
    ] = None,
    container_registry: Annotated[
        str | None,
        _text(
            "Container registry URI for flow images. Remote types only.",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        ),
    ] = None,
    cluster: Annotated[
        str | None, _text("Kubernetes cluster name (kubernetes only).", "prod-cluster")
    ] = None,
    region: Annotated[
        str | None,
        _text("Cloud region (kubernetes, vertex, sagemaker; optional for azureml).", "eu-west-1"),
    ] = None,
    subscription_id: Annotated[str | None, _text("Azure subscription id (azureml only).")] = None,
    resource_group: Annotated[
        str | None, _text("Azure resource group (azureml only).", "ml-rg")
    ] = None,
    workspace: Annotated[
        str | None, _text("Azure ML workspace (azureml only).", "ml-workspace")
    ] = None,
    execution_role: Annotated[
        str | None,
        _text(
            "IAM role ARN SageMaker runs as (sagemaker only).",
            "arn:aws:iam::123456789012:role/SageMakerRole",
        ),
    ] = None,
    namespace: Annotated[
        str | None, _text("Kubernetes namespace (kubernetes only; default 'default').")
    ] = None,
    credentials: Annotated[
        str | None,
        _text(
            "How the stack authenticates (remote types; default implicit = the machine's own "
            "credentials). AWS: implicit | profile:NAME | role:ROLE_ARN | "
            "access-key:KEY_ID:SECRET_KEY. GCP: implicit | service-account:PATH_TO_KEY.json. "
            "Azure: implicit | service-principal:TENANT_ID:CLIENT_ID:CLIENT_SECRET.",
            "profile:default",
        ),
    ] = None,
    verify: Annotated[
        bool,
        Field(
            description="Check the cloud credentials while creating (remote types; default true)."
        ),
    ] = True,
    extra: Annotated[
        dict[str, Any] | list[str] | None,
        Field(
            description=_EXTRA_HELP,
            examples=[{"orchestrator": {"synchronous": False}}],
        ),
    ] = None,
    async_mode: Annotated[
        bool,
        Field(
            description="Remote types: let runs proceed without the client waiting (default false)."
        ),
    ] = False,
) -> StackDetails:
    """Create a stack — the compute, storage and registry flows run on — and by default make
    it active. `stack_type` decides the fields; a field the type does not take is rejected:
    - local: nothing else.
    - kubernetes: artifact_store (s3:// or gs://), container_registry, cluster, region;
      optional namespace.
    - vertex: artifact_store (gs://), container_registry, region.
    - sagemaker: artifact_store (s3://), container_registry, region, execution_role.
    - azureml: artifact_store (az://, abfs://, abfss://), container_registry, subscription_id,
      resource_group, workspace; optional region.
    Remote types also take credentials, verify, async_mode and extra. Every problem is reported
    at once (validation_error with details.fields), and a failed creation leaves nothing
    behind. Next: kitaru_stacks_show to review it, kitaru_stacks_use to switch later."""
    from kitaru_core.requests.stacks import MCP_LABELS, build_stack_create_request
    from kitaru_core.services import stacks

    request = build_stack_create_request(
        name=name,
        activate=activate,
        stack_type=stack_type,
        artifact_store=artifact_store,
        container_registry=container_registry,
        cluster=cluster,
        region=region,
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace=workspace,
        execution_role=execution_role,
        namespace=namespace,
        credentials=credentials,
        verify=verify,
        extra=extra,
        async_mode=async_mode,
        labels=MCP_LABELS,
    )
    return stacks.create_stack(request)


def kitaru_stacks_delete(
    name: StackRef,
    recursive: Annotated[
        bool,
        Field(description="Also delete the Kitaru-managed components no other stack uses."),
    ] = False,
    force: Annotated[
        bool,
        Field(
            description="Allow deleting the active stack: switches to `default` first. Only "
            "with the user's consent."
        ),
    ] = False,
) -> StackDeleteResult:
    """Delete a stack record (and with recursive=true its unshared Kitaru-managed
    components). The `default` stack cannot be deleted; the active stack only with force=true,
    which switches to `default` first — otherwise invalid_state. Flows and past executions
    are kept.

    Confirm with the user before calling. Next: kitaru_stacks_list to check what remains."""
    from kitaru_core.requests.stacks import MCP_LABELS, build_stack_delete_request
    from kitaru_core.services import stacks

    request = build_stack_delete_request(name, recursive, force, labels=MCP_LABELS)
    return StackDeleteResult.model_validate(stacks.delete_stack(request).model_dump())


TOOLS = (
    kitaru_stacks_list,
    kitaru_stacks_current,
    kitaru_stacks_show,
    kitaru_stacks_use,
    kitaru_stacks_create,
    kitaru_stacks_delete,
)
