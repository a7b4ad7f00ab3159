"""The saved source of a local deployment version.

Seed 004 calls a deployment version a saved copy of the flow. A remote version gets that from
ZenML (its snapshot points at a build or a code upload); a local version would otherwise
re-import the live file on every invocation, so editing or deleting the file would change what
every saved version runs. At deploy time the flow's source root is archived with ZenML's
``CodeArchive`` (only files git does not ignore, when the root is in a git repository) into the
stack's artifact store, named by the archive's content hash. An invocation unpacks that archive
once per machine into the config dir and runs the flow from the unpacked copy.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from kitaru_core.config.paths import config_dir
from kitaru_core.config.project import init_project_root
from kitaru_core.errors import KitaruNotFoundError, KitaruUsageError

# The archive is read back by every invocation and kept in the artifact store for good: a
# source root this large is almost always a folder that holds more than the flow's code.
MAX_SOURCE_BYTES = 25 * 1024 * 1024
_ARCHIVE_NAME = re.compile(r"^([0-9a-f]{8,64})\.tar\.gz$")


def copies_dir() -> Path:
    """Where unpacked copies live: one folder per archive hash."""
    return config_dir() / "deployments" / "source"


def save(root: Path, stack_id: str) -> str:
    """Archive ``root`` into the artifact store of ``stack_id``; returns the archive's path.

    An archive with the same content is stored once (ZenML names it by its hash).
    """
    from zenml.utils.code_utils import upload_code_if_necessary

    from kitaru_core.backend.stack_lookup import temporary_stack

    archive = _archive(root)
    try:
        files = archive.get_files()
    except RuntimeError as exc:  # every file under the root is git-ignored
        raise KitaruUsageError(
            f"The source root {root} has no files to save with the deployment: {exc}",
            hint="Deploy from a folder whose flow files are not listed in .gitignore.",
            details={"source_root": str(root)},
        ) from exc
    check_size(root, sum(_size(path) for path in files.values()))
    with temporary_stack(stack_id):
        return str(upload_code_if_necessary(archive))


def _archive(root: Path) -> Any:
    """ZenML's code archive of ``root``, without bytecode caches and without Kitaru's own state
    (a config dir inside the project holds the store, its artifacts and earlier copies)."""
    from zenml.utils.code_utils import CodeArchive

    state = config_dir().resolve()
    top = root.resolve()

    class SourceArchive(CodeArchive):
        def get_files(self) -> dict[str, str]:
            return {
                inside: path
                for inside, path in super().get_files().items()
                if "__pycache__" not in Path(inside).parts
                and not Path(path).resolve().is_relative_to(state)
                and not _links_out(Path(path), top)
            }

    return SourceArchive(root=str(root))


def _links_out(path: Path, top: Path) -> bool:
    """A symlink to somewhere outside the source root (a shared ``node_modules``, a venv): the
    copy could not follow it, and unpacking refuses links that leave the tree."""
    return path.is_symlink() and not path.resolve().is_relative_to(top)


def check_size(root: Path, size: int) -> None:
    """Refuse a source root above :data:`MAX_SOURCE_BYTES` before anything is saved."""
    if size <= MAX_SOURCE_BYTES:
        return
    raise KitaruUsageError(
        f"The source root {root} holds {_megabytes(size)} of files; a local deployment saves "
        f"its source with the version and takes at most {_megabytes(MAX_SOURCE_BYTES)}.",
        hint="Mark a smaller folder that holds only the flow's code as the project root "
        "(`kitaru init` there), or list large files in a .gitignore.",
        details={"source_root": str(root), "bytes": size, "limit_bytes": MAX_SOURCE_BYTES},
    )


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:  # removed while listing; it will not be archived either
        return 0


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def unpack(archive_path: str, stack: str | None) -> Path:
    """The unpacked copy of a saved archive, unpacking it first if this machine has none.

    The copy is marked as a Kitaru project root, so a flow loaded from it takes the copy as its
    source root (and its module keeps the name it had at deploy time).
    """
    match = _ARCHIVE_NAME.match(Path(archive_path).name)
    if match is None:
        raise KitaruNotFoundError(
            f"'{archive_path}' is not a saved deployment source archive.",
            hint="Deploy the flow again to save a new version.",
            details={"archive": archive_path},
        )
    target = copies_dir() / match.group(1)
    if target.is_dir():  # only ever created by an atomic rename of a complete copy
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{match.group(1)}-"))
    try:
        local_archive = scratch / "source.tar.gz"
        _download(archive_path, local_archive, stack)
        tree = scratch / "tree"
        with tarfile.open(local_archive) as tar:
            tar.extractall(tree, filter="data")  # no absolute paths, links out, devices
        init_project_root(tree)
        try:
            tree.rename(target)
        except OSError:
            if not target.is_dir():  # not a concurrent invocation that won the race
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _download(archive_path: str, destination: Path, stack: str | None) -> None:
    from zenml.io import fileio

    if not Path(archive_path).is_file() and stack:
        # A remote artifact store's filesystem is registered when the store is instantiated.
        from zenml.stack import Stack

        from kitaru_core.backend.stack_lookup import stack_model

        Stack.from_model(stack_model(stack)).artifact_store  # noqa: B018
    if not fileio.exists(archive_path):
        raise KitaruNotFoundError(
            f"The saved source of this deployment version is missing ({archive_path}).",
            hint="Deploy the flow again to save a new version, and invoke that one.",
            details={"archive": archive_path},
        )
    fileio.copy(archive_path, str(destination), overwrite=True)
