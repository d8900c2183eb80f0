"""Backups of the database and the stored files, and their restore (``manage.py backup`` / ``restore``).

A backup is one folder, named by the UTC time it was made: the database dump (``pg_dump
--format=custom`` on PostgreSQL; on SQLite a copy by its online backup API, consistent while the app
writes), a tar.gz of the stored files (MEDIA_ROOT) and ``manifest.json``, which says what a restore
checks before it changes anything: the engine, the latest migration applied per app, and each file's
sha256 and size. docs/operations.md, "Backups and restore".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from core.domain.canonical import sha256_of_chunks

FORMAT = "carebundle.backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES_ARCHIVE = "files.tar.gz"
DUMP_NAMES = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
#: Top-level names in a stored-files root that are a restore's own work in progress, never backed up.
WORK_PREFIX = ".carebundle-"
_CHUNK = 1024 * 1024
# libpq reads these from the environment; Django keeps them in OPTIONS (dj_database_url's ?sslmode=...).
_LIBPQ_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE",
}


class BackupError(Exception):
    """An expected failure (a missing folder, a bad hash, no pg_dump): the commands print its message."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    sizes: dict[str, int]  # file name in the folder -> bytes
    stored_files: int
    skipped: list[str] = field(default_factory=list)  # links and special files, which are not backed up


@dataclass(frozen=True)
class RestoreResult:
    manifest: dict[str, Any]
    needs_migrate: bool  # the backup is older than the code: `manage.py migrate` brings it up to date


def backup_dir() -> Path:
    """Where ``manage.py backup`` writes without ``--output``."""
    return Path(settings.BACKUP_DIR)


def stored_roots() -> dict[str, Path]:
    """Each directory of stored files, by its folder name in the archive.

    MEDIA_ROOT (the one FileSystemStorage) holds every upload: rosters and assessments, 834s, experience,
    utilisation and claims files. Rate sheet zips and 820s are kept in the database or built on demand.
    """
    return {"media": Path(settings.MEDIA_ROOT)}


def sha256_of(path: Path) -> str:
    with path.open("rb") as fh:
        return sha256_of_chunks(iter(lambda: fh.read(_CHUNK), b""))


# --- backup ---------------------------------------------------------------------------------------


def create_backup(output: Path | None = None, *, using: str = "default") -> BackupResult:
    """Writes one backup folder under ``output`` (default :func:`backup_dir`) and returns it.

    The folder is written as ``.<name>.partial`` and renamed when complete, so a folder with the
    timestamp's name is always a whole backup (a cron job killed half way leaves only the partial one).
    """
    connection = connections[using]
    vendor = _vendor(connection)
    created = datetime.now(UTC)
    parent = Path(output) if output is not None else backup_dir()
    try:
        parent.mkdir(parents=True, exist_ok=True)
        final = _free_name(parent, created.strftime("%Y%m%dT%H%M%SZ"))
        partial = parent / f".{final.name}.partial"
        partial.mkdir(mode=0o700)  # the dump holds members' health data: the operator's eyes only
    except OSError as exc:
        raise BackupError(f"Cannot create the backup folder in {parent}: {exc}") from exc
    try:
        try:
            migrations = applied_migrations(connection)
        except DatabaseError as exc:
            raise BackupError(f"The database cannot be read: {exc}".strip()) from exc
        dump = partial / DUMP_NAMES[vendor]
        if vendor == "postgresql":
            _pg_dump(connection.settings_dict, dump)
        else:
            _sqlite_copy(_sqlite_path(connection.settings_dict), dump)
        # After the database: files are only ever added, so every file a dumped row names is archived.
        stored, skipped = _archive_stored_files(partial / FILES_ARCHIVE)
        files: dict[str, dict[str, Any]] = {}
        for path in (dump, partial / FILES_ARCHIVE):
            path.chmod(0o600)
            files[path.name] = {"sha256": sha256_of(path), "size": path.stat().st_size}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "database": {
                "engine": connection.settings_dict["ENGINE"],
                "vendor": vendor,
                "file": dump.name,
            },
            "migrations": migrations,
            "stored_files": {"archive": FILES_ARCHIVE, "roots": sorted(stored_roots()), "count": stored},
            "files": files,
        }
        manifest_path = partial / MANIFEST
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        manifest_path.chmod(0o600)
        partial.rename(final)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise BackupError(f"Writing the backup in {parent} failed: {exc}") from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    sizes = {name: entry["size"] for name, entry in files.items()}
    sizes[MANIFEST] = (final / MANIFEST).stat().st_size
    return BackupResult(path=final, sizes=sizes, stored_files=stored, skipped=skipped)


def applied_migrations(connection: BaseDatabaseWrapper) -> dict[str, str]:
    """The latest migration applied per app, in the order they were applied."""
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return {}
    latest: dict[str, str] = {}
    for app, name in recorder.migration_qs.order_by("id").values_list("app", "name"):
        latest[app] = name
    return latest


def _vendor(connection: BaseDatabaseWrapper) -> str:
    if connection.vendor not in DUMP_NAMES:
        raise BackupError(
            f"Backups support PostgreSQL and SQLite; the database is {connection.settings_dict['ENGINE']}."
        )
    return connection.vendor


def _free_name(parent: Path, stamp: str) -> Path:
    candidate, n = parent / stamp, 1
    while candidate.exists() or (parent / f".{candidate.name}.partial").exists():
        candidate, n = parent / f"{stamp}-{n}", n + 1
    return candidate


def pg_command(program: str, db: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The arguments and environment to run ``pg_dump``/``pg_restore`` against ``db`` (a settings dict).

    The password goes in PGPASSWORD, never on the command line, where any user of the machine could
    read it in the process list; ``--no-password`` makes a missing one fail instead of waiting for a
    prompt that a cron job never answers.
    """
    executable = shutil.which(program)
    if executable is None:
        raise BackupError(
            f"{program} was not found on the PATH: install the PostgreSQL client tools (Debian: "
            "postgresql-client), of the server's major version or later."
        )
    args = [executable, "--no-password"]
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            args += [flag, str(db[key])]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    options = db.get("OPTIONS") or {}
    for option, variable in _LIBPQ_ENV.items():
        if options.get(option):
            env[variable] = str(options[option])
    return args, env


def _run(program: str, args: list[str], env: dict[str, str]) -> str:
    """Runs ``args``; its standard output, or BackupError with its standard error when it fails."""
    try:
        # A fixed argument list, no shell; the values come from the settings, not from a user.
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except OSError as exc:
        raise BackupError(f"{program} could not be started: {exc}") from exc
    if done.returncode != 0:
        raise BackupError(f"{program} failed (exit status {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _pg_dump(db: Mapping[str, Any], target: Path) -> None:
    args, env = pg_command("pg_dump", db)
    args += ["--format=custom", "--no-owner", "--file", str(target), "--dbname", str(db["NAME"])]
    _run("pg_dump", args, env)


def _sqlite_path(db: Mapping[str, Any]) -> Path:
    name = str(db.get("NAME") or "")
    if not name or name == ":memory:" or "mode=memory" in name or name.startswith("file::memory:"):
        raise BackupError("The SQLite database is in memory: there is no file to back up or restore.")
    return Path(name)


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database: the backup API reads one snapshot, while the web
    server and workers go on writing (WAL), which copying the file would not give."""
    if not source.is_file():
        raise BackupError(f"The SQLite database {source} does not exist.")
    try:
        src = sqlite3.connect(source, timeout=30)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            # One self-contained file: no -wal beside it to lose when the folder is copied elsewhere.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"Copying the SQLite database {source} failed: {exc}") from exc


def _archive_stored_files(target: Path) -> tuple[int, list[str]]:
    """Writes every regular file under each stored root; returns (files archived, paths skipped).

    Links and special files are skipped: a restore refuses them, and storage never makes them.
    """
    count, skipped = 0, []
    with tarfile.open(target, "w:gz") as tar:
        for name, root in sorted(stored_roots().items()):
            tar.addfile(_directory_entry(name))
            if not root.is_dir():
                continue
            for directory, subdirs, filenames in os.walk(root):
                here = Path(directory)
                if here == root:  # a restore's leftovers, not stored files
                    subdirs[:] = [d for d in subdirs if not d.startswith(WORK_PREFIX)]
                subdirs.sort()
                for entry in [*(here / d for d in subdirs), *(here / f for f in sorted(filenames))]:
                    arcname = f"{name}/{entry.relative_to(root).as_posix()}"
                    if entry.is_symlink() or not (entry.is_file() or entry.is_dir()):
                        skipped.append(str(entry))
                        continue
                    tar.add(entry, arcname=arcname, recursive=False, filter=_anonymous)
                    count += entry.is_file()
                subdirs[:] = [d for d in subdirs if not (here / d).is_symlink()]
    return count, skipped


def _directory_entry(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = int(datetime.now(UTC).timestamp())
    return info


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # The restoring machine's user owns the files; the backup machine's user names mean nothing there.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


# --- verify ---------------------------------------------------------------------------------------


def verify_backup(path: Path, *, using: str = "default") -> dict[str, Any]:
    """The backup's manifest, once every check passed; BackupError with every problem otherwise.

    Checks each file's size and sha256 (damage, an incomplete copy; the manifest is not signed, so
    keep backups where only operators can write), the engine, that no migration in it is unknown to
    this code (a backup from a newer release), and every archive member.
    """
    path = Path(path)
    if not path.is_dir():
        raise BackupError(f"{path} is not a backup folder: it does not exist or is not a directory.")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{path} has no {MANIFEST}: it is not a carebundle backup, or an unfinished one.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{manifest_path} cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{manifest_path} is not a carebundle backup manifest.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"The backup's format version is {manifest.get('format_version')!r}; this code restores "
            f"version {FORMAT_VERSION}."
        )
    try:
        database, files = manifest["database"], manifest["files"]
        required = {str(database["file"]), str(manifest["stored_files"]["archive"])}
        migrations = {str(app): str(name) for app, name in manifest["migrations"].items()}
        entries = {str(name): (int(entry["size"]), str(entry["sha256"])) for name, entry in files.items()}
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise BackupError(f"{manifest_path} is incomplete or malformed ({exc!r}).") from exc

    problems = [f"{name} is not listed in the manifest" for name in sorted(required - set(entries))]
    for name, (size, digest) in sorted(entries.items()):
        file = path / name
        if PurePosixPath(name).name != name or name in {".", ".."} or "\\" in name:
            problems.append(f"the manifest names {name!r}, which is not a file of the backup folder")
        elif not file.is_file():
            problems.append(f"{name} is missing")
        elif file.stat().st_size != size:
            problems.append(f"{name} has {file.stat().st_size} bytes, the manifest says {size}")
        elif sha256_of(file) != digest:
            problems.append(f"{name} does not match its sha256 in the manifest (changed or damaged)")
    if problems:
        raise BackupError("The backup fails its check: " + "; ".join(problems) + ".")

    connection = connections[using]
    vendor = _vendor(connection)
    if database.get("vendor") != vendor:
        raise BackupError(
            f"The backup is of a {database.get('engine')} database; this installation uses "
            f"{connection.settings_dict['ENGINE']}. A dump restores only into the engine it came from."
        )
    ahead = migrations_unknown_to_code(migrations)
    if ahead:
        raise BackupError(
            "The backup comes from newer code: these migrations are not in this code: "
            + ", ".join(ahead)
            + ". Restore it with the release that made it (or a later one)."
        )
    with _open_archive(path / manifest["stored_files"]["archive"]) as tar:
        safe_members(tar)
    if vendor == "postgresql":
        _refuse_tables_outside_dump(path / str(database["file"]), connection)
    return manifest


_DUMP_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE public (.+) \S+$")


def _refuse_tables_outside_dump(dump: Path, connection: BaseDatabaseWrapper) -> None:
    """``pg_restore --clean`` drops and recreates only what the dump holds: a table that newer
    migrations made since the backup would stay, with its rows, and stop ``migrate`` ("already exists")
    after the restore. Such a backup goes into an empty database instead."""
    args, env = pg_command("pg_restore", {})
    listing = _run("pg_restore", [*args, "--list", str(dump)], env)
    in_dump = {m.group(1) for line in listing.splitlines() if (m := _DUMP_TABLE.match(line))}
    try:
        with connection.cursor() as cursor:
            # Not the partitions (core.partitions): dropping their table drops them, whichever months
            # the backup had (ensure_partitions makes the missing ones again).
            current = {t.name for t in connection.introspection.get_table_list(cursor) if t.type != "p"}
    except DatabaseError as exc:
        raise BackupError(f"The database cannot be read: {exc}") from exc
    extra = sorted(current - in_dump)
    if extra:
        raise BackupError(
            "The database has tables the backup does not: "
            + ", ".join(extra)
            + " (the backup is older than the schema). A restore replaces only what the backup holds, "
            "so these would stay and `migrate` would fail on them. Restore into an empty database: drop "
            "and create it, run `manage.py restore` again, then `manage.py migrate`."
        )


def migrations_unknown_to_code(recorded: Mapping[str, str]) -> list[str]:
    """``app.migration`` of each recorded migration that this code's migration files do not have."""
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return [f"{app}.{name}" for app, name in sorted(recorded.items()) if (app, name) not in known]


def _open_archive(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{path.name} is not a readable tar.gz: {exc}") from exc


def safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Every member, once each is a plain file or directory inside a known stored root.

    Our own checks, whatever the Python: ``filter="data"`` (which refuses the same) is not in every
    3.11 patch release. An absolute name, ``..`` or a link could write outside the restored folder.
    """
    roots = set(stored_roots())
    try:
        members = tar.getmembers()
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"The stored files archive cannot be read: {exc}") from exc
    for member in members:
        name = member.name
        parts = PurePosixPath(name).parts
        if name.startswith(("/", "\\")) or (parts and ":" in parts[0]):
            raise BackupError(f"The stored files archive has a member with an absolute path: {name!r}.")
        if ".." in parts or "\\" in name:
            raise BackupError(f"The stored files archive has a member that leaves its folder: {name!r}.")
        if not (member.isfile() or member.isdir()):
            raise BackupError(
                f"The stored files archive has a link or special file, which a restore refuses: {name!r}."
            )
        if not parts or parts[0] not in roots:
            raise BackupError(f"The stored files archive has a member outside the stored folders: {name!r}.")
    return members


# --- restore --------------------------------------------------------------------------------------


def restore_backup(
    path: Path, *, using: str = "default", verified: dict[str, Any] | None = None
) -> RestoreResult:
    """Replaces the database and the stored files with the backup's, after :func:`verify_backup`.

    The files are unpacked beside their folder first, then the database is restored (in one
    transaction on PostgreSQL, one step on SQLite), then the folders are swapped: a failure before
    the swap leaves both as they were. ``verified``: the manifest :func:`verify_backup` just returned
    for this folder (the command checks before it asks), so a large backup is not hashed twice.
    """
    path = Path(path)
    manifest = verified if verified is not None else verify_backup(path, using=using)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    staged: dict[str, Path] = {}
    try:
        with _open_archive(path / manifest["stored_files"]["archive"]) as tar:
            members = safe_members(tar)
            for name, root in stored_roots().items():
                staged[name] = _unpack(
                    tar, [m for m in members if PurePosixPath(m.name).parts[0] == name], name, root, stamp
                )
        connection = connections[using]
        dump = path / manifest["database"]["file"]
        # pg_restore --clean waits for every lock on the tables it drops; this process's own sessions
        # must not be among them. Django opens a new connection at the next query.
        connections.close_all()
        if connection.vendor == "postgresql":
            _pg_restore(connection.settings_dict, dump)
        else:
            _sqlite_restore(dump, _sqlite_path(connection.settings_dict))
    except BaseException:
        for work in staged.values():
            shutil.rmtree(work, ignore_errors=True)
        raise
    for name, root in stored_roots().items():
        try:
            _swap_in(staged[name] / name, root, stamp)
        except OSError as exc:
            raise BackupError(
                f"The database was restored, but putting the stored files in {root} failed: {exc}. The "
                f"backup's files are unpacked in {staged[name] / name}; move them there by hand."
            ) from exc
        shutil.rmtree(staged[name], ignore_errors=True)
    try:
        executor = MigrationExecutor(connections[using])
        needs_migrate = bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    except DatabaseError as exc:
        raise BackupError(f"The backup was restored, but its migrations cannot be read: {exc}") from exc
    return RestoreResult(manifest=manifest, needs_migrate=needs_migrate)


def _work_dir(root: Path, kind: str, stamp: str) -> Path:
    # Beside the root, so that the swap is a rename on one file system; inside it when the root is a
    # mount point (a Docker volume), whose own directory cannot be renamed.
    base = root if os.path.ismount(root) else root.parent
    return base / f"{WORK_PREFIX}{kind}-{root.name}-{stamp}"


def _unpack(tar: tarfile.TarFile, members: list[tarfile.TarInfo], name: str, root: Path, stamp: str) -> Path:
    work = _work_dir(root, "restore", stamp)
    try:
        work.mkdir(parents=True, mode=0o700)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(work, members=members, filter="data")
        else:  # safe_members has refused what the filter would
            tar.extractall(work, members=members)  # noqa: S202
        (work / name).mkdir(exist_ok=True)
    except (OSError, tarfile.TarError) as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise BackupError(f"Unpacking the stored files into {work} failed: {exc}") from exc
    return work


def _swap_in(new: Path, root: Path, stamp: str) -> None:
    """Puts the unpacked folder ``new`` in the place of ``root``."""
    old = _work_dir(root, "replaced", stamp)
    if os.path.ismount(root):
        # The mount point stays; its entries are exchanged, each by a rename.
        old.mkdir(mode=0o700)
        for entry in root.iterdir():
            if entry != old and not entry.name.startswith(WORK_PREFIX):
                entry.rename(old / entry.name)
        for entry in new.iterdir():
            entry.rename(root / entry.name)
    else:
        root.parent.mkdir(parents=True, exist_ok=True)
        if root.exists() or root.is_symlink():
            root.rename(old)
        new.rename(root)
    shutil.rmtree(old, ignore_errors=True)


def _pg_restore(db: Mapping[str, Any], dump: Path) -> None:
    args, env = pg_command("pg_restore", db)
    args += [
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",  # all or nothing: a failed restore leaves the database as it was
        "--dbname",
        str(db["NAME"]),
        str(dump),
    ]
    _run("pg_restore", args, env)


def _sqlite_restore(dump: Path, target: Path) -> None:
    """Copies the backup over the live file through the backup API: it takes SQLite's write lock and
    writes through the WAL, so a process that still has the file open sees the old or the new
    database, never a torn one (copying the file over it would give that)."""
    try:
        src = sqlite3.connect(f"{dump.resolve().as_uri()}?mode=ro", uri=True)
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"Restoring the SQLite database {target} failed: {exc}") from exc
