"""ZenML's server deployment and login internals: the local server daemon, saved credentials,
and the configuration of a connection to a server.

ZenML names used: ``zenml.zen_server.deploy.deployer.LocalServerDeployer``,
``zenml.zen_server.deploy.deployment.LocalServerDeploymentConfig``,
``zenml.login.credentials_store.get_credentials_store`` and
``zenml.zen_stores.rest_zen_store.RestZenStoreConfiguration``.
"""

from __future__ import annotations

from typing import Any


def local_server_deployer() -> Any:
    """ZenML's deployer of the local server (``get_server``, ``deploy_server``,
    ``connect_to_server``, ``remove_server``)."""
    from zenml.zen_server.deploy.deployer import LocalServerDeployer

    return LocalServerDeployer()


def daemon_server_config(port: int) -> Any:
    """The deployment config of a local server running as a daemon on ``port``."""
    from zenml.enums import ServerProviderType
    from zenml.zen_server.deploy.deployment import LocalServerDeploymentConfig

    # The daemon provider's config takes the port as an extra field.
    options: dict[str, Any] = {"provider": ServerProviderType.DAEMON, "port": port}
    return LocalServerDeploymentConfig(**options)


def credentials_store() -> Any:
    """ZenML's store of server credentials (``get_credentials``, ``set_api_key``,
    ``clear_credentials``)."""
    from zenml.login.credentials_store import get_credentials_store

    return get_credentials_store()


def server_store_config(url: str) -> Any:
    """The store configuration of a connection to the server at ``url`` (TLS verified)."""
    from zenml.zen_stores.rest_zen_store import RestZenStoreConfiguration

    return RestZenStoreConfiguration(url=url, verify_ssl=True)
