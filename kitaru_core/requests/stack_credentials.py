"""Parsing of the ``credentials`` stack field, one small format per cloud provider.

Formats (the method keyword is case-insensitive; no value at all means ``implicit``)::

    aws    implicit | profile:NAME | role:ROLE_ARN | access-key:KEY_ID:SECRET_KEY
    gcp    implicit | service-account:PATH_TO_KEY.json | PATH_TO_KEY.json
    azure  implicit | service-principal:TENANT_ID:CLIENT_ID:CLIENT_SECRET

``implicit`` uses whatever the machine running the flow already has (instance roles, workload
identity, environment variables). Secrets are kept as :class:`~pydantic.SecretStr`, so neither
``repr`` nor a JSON dump shows them, and error messages never quote the raw value.
Pure: a GCP key file is only named here; the backend reads it.
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from kitaru_core.config.masking import mask_value
from kitaru_core.requests.stack_fields import CloudProvider, oxford_join


class CredentialMethod(StrEnum):
    IMPLICIT = "implicit"
    PROFILE = "profile"
    ROLE = "role"
    ACCESS_KEY = "access-key"
    SERVICE_ACCOUNT = "service-account"
    SERVICE_PRINCIPAL = "service-principal"


FORMATS: dict[CloudProvider, tuple[str, ...]] = {
    CloudProvider.AWS: (
        "implicit",
        "profile:NAME",
        "role:ROLE_ARN",
        "access-key:KEY_ID:SECRET_KEY",
    ),
    CloudProvider.GCP: ("implicit", "service-account:PATH_TO_KEY.json", "PATH_TO_KEY.json"),
    CloudProvider.AZURE: ("implicit", "service-principal:TENANT_ID:CLIENT_ID:CLIENT_SECRET"),
}

IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_PROFILE_NAME = re.compile(r"^[\w.+@-]+$")


class StackCredentials(BaseModel):
    """Parsed credentials: the method, its plain settings and its secrets (masked in output)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: CloudProvider
    method: CredentialMethod = CredentialMethod.IMPLICIT
    settings: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, SecretStr] = Field(default_factory=dict)

    def secret(self, key: str) -> str:
        """The real value of one secret (for the backend only)."""
        return self.secrets[key].get_secret_value()

    def describe(self) -> dict[str, Any]:
        """A rendering-safe view: settings in clear, each secret masked."""
        masked = {key: mask_value(value.get_secret_value()) for key, value in self.secrets.items()}
        return {"method": self.method.value, **self.settings, **masked}


class CredentialsFormatError(ValueError):
    """Raised with a message that names the accepted formats and never the raw value."""


def formats_phrase(provider: CloudProvider) -> str:
    return oxford_join(FORMATS[provider], "or")


def parse_credentials(raw: str | None, provider: CloudProvider) -> StackCredentials:
    """Parse one ``credentials`` value for ``provider`` (``None`` means implicit)."""
    text = (raw or "").strip()
    if not text or text.lower() == CredentialMethod.IMPLICIT:
        return StackCredentials(provider=provider)
    keyword, _, rest = text.partition(":")
    method = keyword.strip().lower()
    if provider is CloudProvider.AWS:
        return _parse_aws(method, rest)
    if provider is CloudProvider.GCP:
        return _parse_gcp(method, rest, text)
    return _parse_azure(method, rest)


def _bad_format(provider: CloudProvider, detail: str = "") -> CredentialsFormatError:
    prefix = f"{detail} " if detail else ""
    return CredentialsFormatError(
        f"{prefix}Accepted formats for {provider.value} stacks: {formats_phrase(provider)}."
    )


def _parse_aws(method: str, rest: str) -> StackCredentials:
    aws = CloudProvider.AWS
    if method == CredentialMethod.PROFILE:
        name = rest.strip()
        if not _PROFILE_NAME.match(name):
            raise _bad_format(aws, "profile: needs an AWS profile name.")
        return StackCredentials(
            provider=aws, method=CredentialMethod.PROFILE, settings={"profile_name": name}
        )
    if method == CredentialMethod.ROLE:
        arn = rest.strip()
        if not IAM_ROLE_ARN.match(arn):
            raise _bad_format(aws, "role: needs an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME).")
        return StackCredentials(
            provider=aws, method=CredentialMethod.ROLE, settings={"role_arn": arn}
        )
    if method == CredentialMethod.ACCESS_KEY:
        key_id, _, secret = rest.partition(":")
        if not key_id.strip() or not secret.strip():
            raise _bad_format(aws, "access-key: needs both a key id and a secret key.")
        return StackCredentials(
            provider=aws,
            method=CredentialMethod.ACCESS_KEY,
            secrets={
                "aws_access_key_id": SecretStr(key_id.strip()),
                "aws_secret_access_key": SecretStr(secret.strip()),
            },
        )
    raise _bad_format(aws, "Unknown credentials method.")


def _parse_gcp(method: str, rest: str, text: str) -> StackCredentials:
    gcp = CloudProvider.GCP
    if method == CredentialMethod.SERVICE_ACCOUNT:
        path = rest.strip()
    elif text.lower().endswith(".json"):
        # A bare key-file path is the common case; "C:\\key.json" must not read as a method.
        path = text
    else:
        raise _bad_format(gcp, "Unknown credentials method.")
    if not path:
        raise _bad_format(gcp, "service-account: needs the path of a JSON key file.")
    return StackCredentials(
        provider=gcp,
        method=CredentialMethod.SERVICE_ACCOUNT,
        settings={"service_account_file": path},
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _parse_azure(method: str, rest: str) -> StackCredentials:
    azure = CloudProvider.AZURE
    if method != CredentialMethod.SERVICE_PRINCIPAL:
        raise _bad_format(azure, "Unknown credentials method.")
    # The secret is last and may itself contain ':'.
    parts = rest.split(":", 2)
    if len(parts) != 3 or not all(part.strip() for part in parts):
        raise _bad_format(azure, "service-principal: needs a tenant id, a client id and a secret.")
    tenant, client, secret = (part.strip() for part in parts)
    if not (_is_uuid(tenant) and _is_uuid(client)):
        raise _bad_format(azure, "service-principal: tenant and client ids must be UUIDs.")
    return StackCredentials(
        provider=azure,
        method=CredentialMethod.SERVICE_PRINCIPAL,
        settings={"tenant_id": tenant, "client_id": client},
        secrets={"client_secret": SecretStr(secret)},
    )
