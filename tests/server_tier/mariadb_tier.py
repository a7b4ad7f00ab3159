"""A private MariaDB and a real ZenML server on it: the set-up of the server tier on MariaDB.

Nothing here imports ZenML: the database and the server are daemons started as subprocesses,
and the server is reached over HTTP, as a remote user reaches a team's server. Used by
``tests/test_server_mariadb.py``; see ``docs/server.md`` ("Tested against a server on MariaDB").
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Start-up deadlines. They bound a hang; no test asserts on how long anything took.
DB_START_TIMEOUT = 60.0
SERVER_START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0
CLIENT_HTTP_TIMEOUT = 120

DB_NAME = "zenml"
DB_USER = "kitaru"
DB_PASSWORD = "tier-db-secret"
ADMIN_NAME = "default"
ADMIN_PASSWORD = "tier-admin-secret"
# Fixed, so every token the server signs stays valid for the whole module.
JWT_SECRET = "kitaru-server-tier-jwt-secret-0123456789"
PROJECT = "default"


def mariadbd() -> str | None:
    """The ``mariadbd`` on PATH, or ``None`` (the tier is then skipped)."""
    return shutil.which("mariadbd")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    # A stale daemon on the port would answer for ours, which would die with "address in use".
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _check_alive(process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    if process.poll() is not None:
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise RuntimeError(f"{what} exited with {process.returncode}:\n{tail}")


def _stop(process: subprocess.Popen[bytes], pid: int) -> None:
    """SIGTERM the daemon we started (by the pid we read before stopping), then wait for it."""
    if process.poll() is not None:
        return
    os.kill(pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


# --- MariaDB -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MariaDB:
    """A running ``mariadbd`` on a private datadir, with ZenML's database and user."""

    port: int
    datadir: Path

    @property
    def store_url(self) -> str:
        """The URL ZenML opens the database with (TCP: the URL takes no socket parameter)."""
        return f"mysql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self.port}/{DB_NAME}"


def _init_sql() -> str:
    # The user exists for both hosts: a TCP login from 127.0.0.1 may resolve to "localhost".
    users = "\n".join(
        f"CREATE USER IF NOT EXISTS '{DB_USER}'@'{host}' IDENTIFIED BY '{DB_PASSWORD}';\n"
        f"GRANT ALL PRIVILEGES ON {DB_NAME}.* TO '{DB_USER}'@'{host}';"
        for host in ("localhost", "127.0.0.1")
    )
    return f"CREATE DATABASE IF NOT EXISTS {DB_NAME};\n{users}\nFLUSH PRIVILEGES;\n"


def _wait_for_database(db: MariaDB, process: subprocess.Popen[bytes], log: Path) -> None:
    """Ready means ZenML's user can log in over TCP and run a query (``mariadb-admin ping``
    also succeeds on "access denied", so it proves nothing)."""
    import pymysql  # ZenML's MySQL driver, installed with zenml[server]

    deadline = time.monotonic() + DB_START_TIMEOUT
    while True:
        _check_alive(process, "mariadbd", log)
        try:
            connection = pymysql.connect(
                host="127.0.0.1",
                port=db.port,
                user=DB_USER,
                password=DB_PASSWORD,
                database=DB_NAME,
                connect_timeout=2,
            )
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"mariadbd did not accept logins:\n{log.read_text()[-3000:]}"
                ) from None
            time.sleep(0.2)
            continue
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
        return


@contextmanager
def running_mariadb(root: Path) -> Iterator[MariaDB]:
    """Initialise a datadir under ``root``, run ``mariadbd`` on a free loopback port, create
    ZenML's database and user, and stop the daemon afterwards."""
    root.mkdir(parents=True, exist_ok=True)
    datadir = root / "data"
    log = root / "mariadbd.log"
    init_file = root / "init.sql"
    init_file.write_text(_init_sql())
    # --no-defaults everywhere: /etc/mysql/my.cnf puts the socket in a folder that may not exist.
    subprocess.run(
        [
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    command = [
        str(mariadbd()),
        "--no-defaults",
        f"--datadir={datadir}",
        f"--socket={root / 'mariadbd.sock'}",
        f"--pid-file={root / 'mariadbd.pid'}",
        f"--log-error={log}",
        "--bind-address=127.0.0.1",
        f"--port={port}",
        "--skip-name-resolve",
        f"--init-file={init_file}",
        # A small daemon: the tier holds a few hundred rows.
        "--innodb-buffer-pool-size=64M",
    ]
    if os.geteuid() == 0:
        command.append("--user=root")  # mariadbd refuses to run as root without it
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = MariaDB(port=port, datadir=datadir)
    try:
        _wait_for_database(db, process, log)
        yield db
    finally:
        # mariadbd removes its pid file while it shuts down: read the pid first.
        pid_file = root / "mariadbd.pid"
        pid = int(pid_file.read_text().strip()) if pid_file.exists() else process.pid
        assert pid == process.pid, "the pid file names another mariadbd"
        _stop(process, pid)


# --- the ZenML server --------------------------------------------------------------------------


@dataclass(frozen=True)
class ZenServer:
    """A ZenML server (uvicorn) on the MariaDB store, and the API key of a service account."""

    url: str
    api_key: str
    stores_path: Path  # ZENML_LOCAL_STORES_PATH shared by the server and every client


def _server_env(db: MariaDB, root: Path, stores_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KITARU_", "ZENML_"))}
    env.update(
        {
            "ZENML_CONFIG_PATH": str(root / "server-config"),
            "ZENML_STORE_URL": db.store_url,
            "ZENML_LOCAL_STORES_PATH": str(stores_path),
            # Without auto-activation there is no user, and every login is refused.
            "ZENML_SERVER_AUTO_ACTIVATE": "true",
            "ZENML_DEFAULT_USER_NAME": ADMIN_NAME,
            "ZENML_DEFAULT_USER_PASSWORD": ADMIN_PASSWORD,
            "ZENML_SERVER_JWT_SECRET_KEY": JWT_SECRET,
            "ZENML_ANALYTICS_OPT_IN": "false",
            "ZENML_AUTO_OPEN_DASHBOARD": "false",
        }
    )
    return env


def _request(url: str, *, data: bytes | None = None, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait_for_health(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        _check_alive(process, "the ZenML server", log)
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    _check_alive(process, "the ZenML server", log)  # ours, not a stale one
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the ZenML server never got healthy:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def create_api_key(url: str) -> str:
    """Log in as the admin, create a service account and return its new API key — what a team
    admin hands to a user of Kitaru."""
    form = urllib.parse.urlencode({"username": ADMIN_NAME, "password": ADMIN_PASSWORD})
    token = _request(
        f"{url}/api/v1/login",
        data=form.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    account = _request(
        f"{url}/api/v1/service_accounts",
        data=json.dumps({"name": "kitaru-tier", "active": True}).encode(),
        headers=headers,
    )
    key = _request(
        f"{url}/api/v1/service_accounts/{account['id']}/api_keys",
        data=json.dumps({"name": "tier"}).encode(),
        headers=headers,
    )
    return str(key["body"]["key"])


@contextmanager
def running_server(db: MariaDB, root: Path) -> Iterator[ZenServer]:
    """Migrate the database once, run one uvicorn worker on it, and stop it afterwards."""
    root.mkdir(parents=True, exist_ok=True)
    stores_path = root / "local_stores"
    stores_path.mkdir()
    env = _server_env(db, root, stores_path)
    log = root / "zen-server.log"
    # Migrating first: workers that race to create the schema kill the server after /health.
    subprocess.run(
        [sys.executable, "-m", "zenml.zen_server.database_migration"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    port = free_port()
    assert _port_is_free(port)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "zenml.zen_server.zen_server_api:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, process, log)
        yield ZenServer(url=url, api_key=create_api_key(url), stores_path=stores_path)
    finally:
        _stop(process, process.pid)


@dataclass(frozen=True)
class ServerTier:
    """The running tier: the database, the server, and how to make a client for it."""

    db: MariaDB
    server: ZenServer
    root: Path

    def client_env(self, name: str, *, via_env: bool) -> dict[str, str]:
        """The environment of one client process in its own config dir ``name``.

        ``via_env`` connects through ``KITARU_SERVER_URL`` / ``KITARU_AUTH_TOKEN`` /
        ``KITARU_PROJECT``; otherwise the client must ``kitaru login`` first. Every client
        shares the server's local stores path, so a run written by one is readable by all.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KITARU_", "ZENML_"))}
        env["KITARU_CONFIG_PATH"] = str(self.root / "clients" / name)
        env["ZENML_LOCAL_STORES_PATH"] = str(self.server.stores_path)
        env["ZENML_ANALYTICS_OPT_IN"] = "false"
        if via_env:
            env["KITARU_SERVER_URL"] = self.server.url
            env["KITARU_AUTH_TOKEN"] = self.server.api_key
            env["KITARU_PROJECT"] = PROJECT
            # ZenML's 30 s per request: the server shares a 2-core machine with every client
            # and test process, and one stalled read must not fail a run. Bounds a hang only.
            env["ZENML_STORE_HTTP_TIMEOUT"] = str(CLIENT_HTTP_TIMEOUT)
        return env


@contextmanager
def server_tier(root: Path) -> Iterator[ServerTier]:
    """MariaDB, then the ZenML server on it; both stopped in reverse order on exit."""
    with ExitStack() as stack:
        db = stack.enter_context(running_mariadb(root / "mariadb"))
        server = stack.enter_context(running_server(db, root / "server"))
        yield ServerTier(db=db, server=server, root=root)
