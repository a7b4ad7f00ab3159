"""``llm()``: one model call through LiteLLM, recorded as a checkpoint of type ``llm_call``.

Inside a flow body the call is the module-level checkpoint :data:`llm_call` (so ZenML can
reload it on resume, replay and remote runs): the prompt, the resolved model and the call's
parameters are its inputs, the response text its output, and token usage, cost, model and
alias are logged as its metadata. Retries follow the checkpoint/flow retry settings. Anywhere
else (outside a flow, or inside another checkpoint) ``llm()`` is a plain call.

LiteLLM is imported on the first call only, with its remote cost-map fetch turned off, so
``import kitaru_core`` never pays for it and never touches the network.

Credentials come from the environment or from the Kitaru secret named by the model alias. A
secret's values are handed to LiteLLM for that one call — as keyword arguments where LiteLLM
takes them (``api_key``, ``api_base``, ``aws_*``, …), else as environment variables set only
while the call runs — and are never logged, stored as metadata or artifacts, or put in errors.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from kitaru_core.config.env import debug_enabled, read_env
from kitaru_core.errors import KitaruBackendError, KitaruError, KitaruUsageError
from kitaru_core.requests.models import (
    REGISTER_HINT,
    build_messages,
    check_call_name,
    check_max_tokens,
    check_prompt,
    check_temperature,
)
from kitaru_core.runtime import context
from kitaru_core.runtime.checkpoint import checkpoint

CHECKPOINT_TYPE = "llm_call"
COST_MAP_ENV = "LITELLM_LOCAL_MODEL_COST_MAP"
_MAX_ERROR_TEXT = 600

# Secret keys LiteLLM accepts as keyword arguments of ``completion()`` (matched lowercased).
_CREDENTIAL_KWARGS = frozenset(
    {
        "api_key",
        "api_base",
        "api_version",
        "organization",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_region_name",
        "aws_profile_name",
        "aws_role_name",
        "aws_session_name",
        "aws_web_identity_token",
        "aws_bedrock_runtime_endpoint",
        "vertex_project",
        "vertex_location",
        "vertex_credentials",
        "azure_ad_token",
        "tenant_id",
        "client_id",
        "client_secret",
        "azure_username",
        "azure_password",
    }
)
_KWARG_RENAMES = {"base_url": "api_base"}
# ``<PROVIDER>_API_KEY`` and friends become keyword arguments when PROVIDER serves the model.
_PROVIDER_SUFFIXES = (
    ("_API_KEY", "api_key"),
    ("_API_BASE", "api_base"),
    ("_BASE_URL", "api_base"),
    ("_API_VERSION", "api_version"),
)

_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")
_import_lock = threading.Lock()
_litellm: Any = None


def load_litellm() -> Any:
    """Import LiteLLM once, without its remote cost-map fetch and without its help banners."""
    global _litellm
    if _litellm is not None:
        return _litellm
    with _import_lock:
        if _litellm is None:
            # Read at import time by LiteLLM: use the cost map bundled with the package instead
            # of downloading one. An explicit setting by the user is respected.
            os.environ.setdefault(COST_MAP_ENV, "True")
            try:
                import litellm
            except ImportError as exc:
                raise KitaruUsageError(
                    "llm() needs LiteLLM, which is not installed.",
                    hint="Install it with: pip install 'litellm>=1.60'",
                ) from exc
            # LiteLLM prints "Give Feedback / Get Help" banners on errors and logs every call at
            # INFO; Kitaru reports errors itself and keeps the terminal quiet unless debugging.
            litellm.suppress_debug_info = True
            if not debug_enabled() and "LITELLM_LOG" not in os.environ:
                for name in _LITELLM_LOGGERS:
                    logging.getLogger(name).setLevel(logging.WARNING)
            _litellm = litellm
    return _litellm


# --- the public call ------------------------------------------------------------------------


def llm(
    prompt_or_messages: str | list[dict[str, Any]],
    *,
    model: str | None = None,
    system: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    name: str | None = None,
) -> str:
    """Call a model through LiteLLM and return the response text.

    ``model`` is a registered alias or a raw LiteLLM model string; without it
    ``KITARU_DEFAULT_MODEL`` (alias first, then raw) and then the registry's default alias are
    used. Inside a flow the call is a checkpoint of type ``llm_call`` whose id is ``name`` when
    given (else ``llm_call``, ``llm_call_2``, …), with token usage and cost as metadata.
    ``KITARU_LLM_MOCK_RESPONSE`` makes every call answer with that text, without the network.

    Example::

        @flow
        def summarise(text: str) -> str:
            return llm(f"Summarise: {text}", model="fast", name="summary")
    """
    from kitaru_core.runtime.llm_resolution import resolve_model

    prompt = check_prompt(prompt_or_messages)
    temperature = check_temperature(temperature)
    max_tokens = check_max_tokens(max_tokens)
    call_id = check_call_name(name)
    build_messages(prompt, system)  # checks ``system`` before anything runs
    resolved = resolve_model(model)
    mock = read_env().llm_mock_response or None
    arguments: dict[str, Any] = {
        "system": system,
        "model": resolved.model,
        "alias": resolved.alias,
        "secret": resolved.secret,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "mock_response": mock,
    }
    if context.current_flow() is not None and context.current_checkpoint() is None:
        return str(llm_call(prompt, id=call_id, **arguments))
    text, _ = complete(prompt, **arguments)
    return text


@checkpoint(type=CHECKPOINT_TYPE)
def llm_call(
    prompt: str | list[dict[str, Any]],
    system: str | None = None,
    model: str = "",
    alias: str | None = None,
    secret: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    mock_response: str | None = None,
) -> str:
    """The recorded model call: inputs are what was asked, the output is the response text.

    The secret is passed by *name*; its values are read inside the call and never become an
    input, an output or metadata.
    """
    failure: KitaruError
    try:
        text, metadata = complete(
            prompt,
            system=system,
            model=model,
            alias=alias,
            secret=secret,
            temperature=temperature,
            max_tokens=max_tokens,
            mock_response=mock_response,
        )
    except KitaruError as exc:
        failure = exc
    else:
        if context.current_flow() is not None and context.current_checkpoint() is not None:
            from kitaru_core.runtime.primitives import log

            log(**metadata)
        return text
    # An execution's failure record keeps the message only, so the hint travels inside it.
    if failure.hint and failure.hint not in failure.message:
        failure.message = f"{failure.message} Hint: {failure.hint}"
        failure.args = (failure.message,)
    raise failure


# --- one LiteLLM call -----------------------------------------------------------------------


def complete(
    prompt: str | list[dict[str, Any]],
    *,
    system: str | None,
    model: str,
    alias: str | None,
    secret: str | None,
    temperature: float | None,
    max_tokens: int | None,
    mock_response: str | None,
) -> tuple[str, dict[str, Any]]:
    """Call LiteLLM once; returns the text and the usage metadata (no secret in either)."""
    messages = build_messages(prompt, system)
    values: dict[str, str] = {}
    if secret:
        from kitaru_core.backend.secrets import secret_values

        values = secret_values(secret)
    litellm = load_litellm()
    provider = provider_of(litellm, model)
    kwargs, environment = split_secret(values, provider)
    request: dict[str, Any] = {"model": model, "messages": messages, "drop_params": True}
    if temperature is not None:
        request["temperature"] = temperature
    if max_tokens is not None:
        request["max_tokens"] = max_tokens
    if mock_response is not None:
        request["mock_response"] = mock_response
    error: KitaruError | None = None
    with _secret_environment.applied(environment):
        try:
            response = litellm.completion(**request, **kwargs)
        except Exception as exc:
            # Translated while the call's environment is still set (the hint checks it).
            error = translate_llm_error(
                exc,
                litellm=litellm,
                model=model,
                alias=alias,
                secret=secret,
                provider=provider,
                values=values,
                kwargs=kwargs,
            )
    if error is not None:
        # Raised outside the handler, so LiteLLM's exception (whose text or attached response
        # may quote a key) is not kept as the error's __context__.
        raise error
    metadata: dict[str, Any] = {"model": model}
    if alias:
        metadata["model_alias"] = alias
    metadata.update(usage_of(litellm, response))
    if mock_response is not None:
        metadata["mocked"] = True
    return response_text(response), metadata


def response_text(response: Any) -> str:
    choices = getattr(response, "choices", None) or []
    if not choices:
        return ""
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    return content if isinstance(content, str) else ""


def usage_of(litellm: Any, response: Any) -> dict[str, Any]:
    """Token counts, cost in USD (when LiteLLM knows the model's price) and finish reason."""
    found: dict[str, Any] = {}
    usage = getattr(response, "usage", None)
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = getattr(usage, key, None)
        if isinstance(value, int) and not isinstance(value, bool):
            found[key] = value
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost") if isinstance(hidden, dict) else None
    if cost is None:
        try:
            cost = litellm.completion_cost(completion_response=response)
        except Exception:  # an unknown price is not an error; the cost is simply not recorded
            cost = None
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0:
        found["cost_usd"] = float(cost)
    choices = getattr(response, "choices", None) or []
    reason = getattr(choices[0], "finish_reason", None) if choices else None
    if isinstance(reason, str):
        found["finish_reason"] = reason
    return found


def provider_of(litellm: Any, model: str) -> str | None:
    """The LiteLLM provider serving ``model`` (``openai`` for ``gpt-4o`` too), if known."""
    try:
        return str(litellm.get_llm_provider(model=model)[1])
    except Exception:
        head, sep, _ = model.partition("/")
        return head if sep else None


def _squash(text: str) -> str:
    return "".join(char for char in text.upper() if char.isalnum())


def split_secret(
    values: Mapping[str, str], provider: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """Split a secret into LiteLLM keyword arguments and per-call environment variables.

    ``api_key``/``api_base``/``aws_access_key_id``… (any case) become keyword arguments;
    ``<PROVIDER>_API_KEY``, ``_API_BASE``, ``_BASE_URL`` and ``_API_VERSION`` do too when that
    provider serves the model (a key meant for another provider is never sent to this one).
    Everything else becomes an environment variable for the duration of the call.
    """
    kwargs: dict[str, str] = {}
    environment: dict[str, str] = {}
    provider_key = _squash(provider) if provider else None
    for key, value in values.items():
        upper = key.upper()
        target = None
        for suffix, name in _PROVIDER_SUFFIXES:
            if (
                upper.endswith(suffix)
                and provider_key
                and _squash(upper[: -len(suffix)]) == (provider_key)
            ):
                target = name
                break
        if target is not None:
            kwargs.setdefault(target, value)
        elif key.lower() not in _CREDENTIAL_KWARGS and key.lower() not in _KWARG_RENAMES:
            environment[key] = value
    # Explicit keyword-style keys win over provider-style ones.
    for key, value in values.items():
        lower = key.lower()
        if lower in _CREDENTIAL_KWARGS:
            kwargs[lower] = value
        elif lower in _KWARG_RENAMES:
            kwargs[_KWARG_RENAMES[lower]] = value
    return kwargs, environment


class _SecretEnvironment:
    """Environment variables set only while calls run.

    Calls that need the same variable with the same value run at the same time; a call that
    needs a different value for it waits until the others are done (the process environment
    is shared by every thread).
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._in_use: dict[str, tuple[str, int]] = {}
        self._saved: dict[str, str | None] = {}

    def _compatible(self, values: Mapping[str, str]) -> bool:
        return all(self._in_use.get(key, (value, 0))[0] == value for key, value in values.items())

    @contextlib.contextmanager
    def applied(self, values: Mapping[str, str]) -> Iterator[None]:
        if not values:
            yield
            return
        with self._condition:
            self._condition.wait_for(lambda: self._compatible(values))
            for key, value in values.items():
                _, users = self._in_use.get(key, (value, 0))
                if users == 0:
                    self._saved[key] = os.environ.get(key)
                    os.environ[key] = value
                self._in_use[key] = (value, users + 1)
        try:
            yield
        finally:
            with self._condition:
                for key in values:
                    value, users = self._in_use[key]
                    if users > 1:
                        self._in_use[key] = (value, users - 1)
                        continue
                    del self._in_use[key]
                    previous = self._saved.pop(key, None)
                    if previous is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = previous
                self._condition.notify_all()


_secret_environment = _SecretEnvironment()


# --- errors ---------------------------------------------------------------------------------

# Some providers report a missing key as a server error; these words give it away.
_LEADING_CLASS = re.compile(r"^(?:\s*[A-Za-z]+(?:Error|Exception):\s*)+")
_AUTH_WORDS = ("missing credentials", "api key", "api_key", "apikey")


def translate_llm_error(
    exc: BaseException,
    *,
    litellm: Any,
    model: str,
    alias: str | None,
    secret: str | None,
    provider: str | None,
    values: Mapping[str, str],
    kwargs: Mapping[str, str],
) -> KitaruError:
    """A LiteLLM/provider failure as a Kitaru error with a hint; no secret value in it."""
    from kitaru_core.backend.secrets import scrub

    raw = str(exc)
    text = scrub(raw, {**values, **kwargs})
    # "litellm.AuthenticationError: AuthenticationError: OpenAIException - ..." → the message.
    text = _LEADING_CLASS.sub("", text.replace("litellm.", "")).strip()
    if len(text) > _MAX_ERROR_TEXT:
        text = text[:_MAX_ERROR_TEXT] + "… (truncated)"
    subject = f"model '{model}'" + (f" (alias '{alias}')" if alias else "")
    details: dict[str, Any] = {"model": model, "exception_type": type(exc).__name__}
    if alias:
        details["alias"] = alias
    if secret:
        details["secret"] = secret
    status = getattr(exc, "status_code", None)
    lowered = raw.lower()

    def is_a(*names: str) -> bool:
        classes = tuple(getattr(litellm, name) for name in names if hasattr(litellm, name))
        return bool(classes) and isinstance(exc, classes)

    if "llm provider not provided" in lowered:
        return KitaruUsageError(
            f"'{model}' is neither a registered model alias nor a model LiteLLM recognises.",
            hint="Use a provider/model string such as 'openai/gpt-4o-mini', or an alias. "
            + REGISTER_HINT,
            details=details,
        )
    rate_limited = is_a("RateLimitError") or status == 429
    if (
        is_a("AuthenticationError", "PermissionDeniedError")
        or status in (401, 403)
        or (not rate_limited and any(word in lowered for word in _AUTH_WORDS))
    ):
        missing = _missing_keys(litellm, model, kwargs)
        details["missing_keys"] = missing
        return KitaruUsageError(
            f"The call to {subject} was refused for lack of valid credentials: {text}",
            hint=_credentials_hint(model, alias, secret, provider, missing, sorted(values)),
            details=details,
        )
    if is_a(
        "RateLimitError",
        "Timeout",
        "APIConnectionError",
        "ServiceUnavailableError",
        "InternalServerError",
    ) or (isinstance(status, int) and (status in (408, 409, 429) or status >= 500)):
        return KitaruBackendError(
            f"The call to {subject} failed: {text}",
            hint="A temporary provider failure: try again later, or give the checkpoint or "
            "flow retries=N so Kitaru retries the call.",
            retryable=True,
            details=details,
        )
    if is_a(
        "BadRequestError",
        "NotFoundError",
        "ContextWindowExceededError",
        "ContentPolicyViolationError",
        "UnsupportedParamsError",
        "UnprocessableEntityError",
    ) or (isinstance(status, int) and 400 <= status < 500):
        return KitaruUsageError(
            f"The provider rejected the call to {subject}: {text}",
            hint="Check the model name, the prompt's size and the call's parameters.",
            details=details,
        )
    return KitaruBackendError(
        f"The call to {subject} failed: {text}",
        hint="Re-run with KITARU_DEBUG=1 for more; check the provider's status page.",
        retryable=False,
        details=details,
    )


def _missing_keys(litellm: Any, model: str, kwargs: Mapping[str, str]) -> list[str]:
    """The environment variables LiteLLM expects for ``model`` and cannot find."""
    try:
        report = litellm.validate_environment(
            model=model, api_key=kwargs.get("api_key"), api_base=kwargs.get("api_base")
        )
    except Exception:
        return []
    missing = report.get("missing_keys") if isinstance(report, dict) else None
    return [str(key) for key in missing or []]


def _credentials_hint(
    model: str,
    alias: str | None,
    secret: str | None,
    provider: str | None,
    missing: list[str],
    secret_keys: list[str],
) -> str:
    variable = missing[0] if missing else f"{(provider or 'PROVIDER').upper()}_API_KEY"
    if secret:
        held = ", ".join(secret_keys) or "no keys"
        return (
            f"Check secret '{secret}' (it holds: {held}); the provider expects {variable}. "
            f"Recreate it with the right key: `kitaru secrets delete {secret}` then "
            f"`kitaru secrets create {secret} --{variable}=...`."
        )
    name = (provider or "llm").lower()
    target = alias or "ALIAS"
    wanted = " and ".join(missing) if missing else variable
    return (
        f"Set {wanted} in the environment, or keep it in a Kitaru secret attached to the "
        f"model alias: `kitaru secrets create {name} --{variable}=...` then "
        f"`kitaru model register {target} --model {model} --secret {name}`."
    )
