"""``manage.py backup`` / ``restore`` (core/backup.py): a backup brings back exactly the rows and stored
files it was made of; a backup that fails a check (a hash, the engine, migrations, an unsafe archive)
is refused before anything changes.

Against the run's real database (PostgreSQL in CI: pg_dump and pg_restore on the test database) and
transactional, because a restore replaces the whole database, the committed rows included.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from accounts.models import Organization
from core import backup
from core.partitions import ensure_partitions
from tests.factories import PayerFactory, ProviderFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROSTER = b"member_id,month,status\nM001,2025-01,enrolled\n"
STATEMENT = b"%PDF-1.4 not really a pdf\x00\x01\x02"


@pytest.fixture
def media(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = str(root)
    (root / "rosters" / "2025").mkdir(parents=True)
    (root / "rosters" / "2025" / "january.csv").write_bytes(ROSTER)
    (root / "statement.pdf").write_bytes(STATEMENT)
    return root


def organizations() -> list[dict]:
    return list(Organization.objects.order_by("pk").values())


def make_backup(tmp_path: Path) -> Path:
    out = io.StringIO()
    call_command("backup", "--output", str(tmp_path / "backups"), stdout=out)
    (folder,) = (tmp_path / "backups").iterdir()
    assert f"Backup written: {folder}" in out.getvalue()
    return folder


def rewrite_manifest(folder: Path, change) -> None:
    manifest = json.loads((folder / backup.MANIFEST).read_text())
    change(manifest)
    (folder / backup.MANIFEST).write_text(json.dumps(manifest))


def test_restore_brings_back_the_rows_and_files_of_the_backup(media, tmp_path):
    kept = PayerFactory(legal_name="Golden Coast Health Plan")
    deleted = ProviderFactory(legal_name="Bayview Home Palliative Care")
    before = organizations()

    folder = make_backup(tmp_path)
    manifest = json.loads((folder / backup.MANIFEST).read_text())
    assert manifest["database"]["vendor"] == connections["default"].vendor
    assert manifest["migrations"]["accounts"] == backup.applied_migrations(connections["default"])["accounts"]
    assert manifest["stored_files"]["count"] == 2
    assert sorted(manifest["files"]) == sorted([manifest["database"]["file"], backup.FILES_ARCHIVE])

    Organization.objects.filter(pk=kept.pk).update(legal_name="Renamed after the backup")
    deleted.delete()
    ProviderFactory(legal_name="Created after the backup")
    (media / "rosters" / "2025" / "january.csv").write_bytes(b"overwritten")
    (media / "statement.pdf").unlink()
    (media / "new-upload.csv").write_bytes(b"made after the backup")

    out = io.StringIO()
    call_command("restore", str(folder), "--yes", stdout=out)

    assert "Restored the database and the stored files" in out.getvalue()
    assert organizations() == before
    assert (media / "rosters" / "2025" / "january.csv").read_bytes() == ROSTER
    assert (media / "statement.pdf").read_bytes() == STATEMENT
    assert not (media / "new-upload.csv").exists()
    assert sorted(p.name for p in media.parent.iterdir() if p.name.startswith(backup.WORK_PREFIX)) == []


def test_a_mount_point_keeps_its_folder_and_gets_the_files_of_the_backup(media, tmp_path, monkeypatch):
    # The compose file mounts a volume at MEDIA_ROOT: its folder cannot be renamed, its entries are.
    folder = make_backup(tmp_path)
    (media / "statement.pdf").write_bytes(b"after")
    (media / "new-upload.csv").write_bytes(b"made after the backup")
    inode = media.stat().st_ino
    is_mount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda path: Path(path) == media or is_mount(path))

    call_command("restore", str(folder), "--yes", stdout=io.StringIO())

    assert media.stat().st_ino == inode
    assert sorted(p.relative_to(media).as_posix() for p in media.rglob("*")) == [
        "rosters",
        "rosters/2025",
        "rosters/2025/january.csv",
        "statement.pdf",
    ]
    assert (media / "statement.pdf").read_bytes() == STATEMENT


def test_a_changed_file_fails_the_hash_check_and_nothing_changes(media, tmp_path):
    org = ProviderFactory(legal_name="Before")
    folder = make_backup(tmp_path)
    archive = folder / backup.FILES_ARCHIVE
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other content
    archive.write_bytes(bytes(data))
    Organization.objects.filter(pk=org.pk).update(legal_name="After")
    (media / "statement.pdf").write_bytes(b"after")

    with pytest.raises(CommandError, match=r"files\.tar\.gz does not match its sha256"):
        call_command("restore", str(folder), "--yes")

    assert Organization.objects.get(pk=org.pk).legal_name == "After"
    assert (media / "statement.pdf").read_bytes() == b"after"


def test_a_backup_of_another_engine_is_refused(media, tmp_path):
    folder = make_backup(tmp_path)
    other = {"sqlite": "postgresql", "postgresql": "sqlite"}[connections["default"].vendor]

    def change(manifest):
        manifest["database"]["vendor"] = other
        manifest["database"]["engine"] = f"django.db.backends.{other}"

    rewrite_manifest(folder, change)
    with pytest.raises(CommandError, match=f"backup is of a django.db.backends.{other} database"):
        call_command("restore", str(folder), "--yes")


def test_a_backup_from_newer_code_is_refused(media, tmp_path):
    folder = make_backup(tmp_path)
    rewrite_manifest(folder, lambda manifest: manifest["migrations"].update(accounts="9999_from_the_future"))
    with pytest.raises(CommandError, match=r"newer code.*accounts\.9999_from_the_future"):
        call_command("restore", str(folder), "--yes")


def test_a_table_made_after_the_backup_goes_on_sqlite_and_is_refused_on_postgresql(media, tmp_path):
    # pg_restore --clean replaces only what the dump holds: the newer table would stay and stop migrate.
    connection = connections["default"]
    folder = make_backup(tmp_path)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE made_after_the_backup (id integer)")
    try:
        if connection.vendor == "postgresql":
            with pytest.raises(CommandError, match="tables the backup does not: made_after_the_backup"):
                call_command("restore", str(folder), "--yes")
            assert "made_after_the_backup" in connection.introspection.table_names()
        else:  # the backup API replaces the whole file
            call_command("restore", str(folder), "--yes", stdout=io.StringIO())
            assert "made_after_the_backup" not in connection.introspection.table_names()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS made_after_the_backup")


def test_a_partition_made_after_the_backup_does_not_stop_a_restore(media, tmp_path):
    # Restoring drops each partitioned table with every partition it has now; the months are made again.
    connection = connections["default"]
    if connection.vendor != "postgresql":
        pytest.skip("partitions are PostgreSQL's")
    folder = make_backup(tmp_path)
    made = ensure_partitions(connection, months_ahead=24).created
    try:
        assert made
        call_command("restore", str(folder), "--yes", stdout=io.StringIO())
        assert not set(made) & set(connection.introspection.table_names())
        assert ensure_partitions(connection, months_ahead=24).created == made
    finally:
        with connection.cursor() as cursor:
            for name in made:
                cursor.execute(f'DROP TABLE IF EXISTS "{name}"')


def _member(name: str, kind: bytes = tarfile.REGTYPE, content: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(content) if kind == tarfile.REGTYPE else 0
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    return info, content


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (_member("media/../../escaped.txt"), "leaves its folder"),
        (_member("{tmp}/absolute.txt"), "absolute path"),
        (_member("media/passwd", tarfile.SYMTYPE), "link or special file"),
        (_member("elsewhere/file.txt"), "outside the stored folders"),
    ],
)
def test_an_archive_with_an_unsafe_member_is_refused(media, tmp_path, member, reason):
    org = ProviderFactory(legal_name="Before")
    folder = make_backup(tmp_path)
    archive = folder / backup.FILES_ARCHIVE
    info, content = member
    info.name = info.name.format(tmp=tmp_path)
    with tarfile.open(archive, "w:gz") as tar:
        tar.addfile(backup._directory_entry("media"))
        tar.addfile(info, io.BytesIO(content) if info.isfile() else None)

    def change(manifest):  # a hash that matches: the member check is what refuses it
        manifest["files"][backup.FILES_ARCHIVE] = {
            "sha256": backup.sha256_of(archive),
            "size": archive.stat().st_size,
        }

    rewrite_manifest(folder, change)
    Organization.objects.filter(pk=org.pk).update(legal_name="After")

    with pytest.raises(CommandError, match=reason):
        call_command("restore", str(folder), "--yes")

    assert Organization.objects.get(pk=org.pk).legal_name == "After"
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "absolute.txt").exists()
    assert (media / "statement.pdf").read_bytes() == STATEMENT


def test_restore_asks_first_and_a_no_changes_nothing(media, tmp_path, monkeypatch):
    org = ProviderFactory(legal_name="Before")
    folder = make_backup(tmp_path)
    Organization.objects.filter(pk=org.pk).update(legal_name="After")
    questions = []
    monkeypatch.setattr("builtins.input", lambda prompt: questions.append(prompt) or "no")

    with pytest.raises(CommandError, match="Restore cancelled"):
        call_command("restore", str(folder), stdout=io.StringIO())

    assert questions == ["Type 'yes' to restore: "]
    assert Organization.objects.get(pk=org.pk).legal_name == "After"


def test_a_missing_folder_is_a_message_not_a_traceback(tmp_path):
    with pytest.raises(CommandError, match="is not a backup folder"):
        call_command("restore", str(tmp_path / "nowhere"), "--yes")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="has no manifest.json"):
        call_command("restore", str(tmp_path / "empty"), "--yes")


def test_the_postgresql_password_goes_in_the_environment_never_on_the_command_line(tmp_path, monkeypatch):
    fake = tmp_path / "pg_dump"  # only its path is looked up: the arguments are what is checked
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    db = {"NAME": "carebundle", "USER": "app", "PASSWORD": "s3cret", "HOST": "db", "PORT": 5433}
    db["OPTIONS"] = {"sslmode": "require"}

    args, env = backup.pg_command("pg_dump", db)

    assert args == [str(fake), "--no-password", "--host", "db", "--port", "5433", "--username", "app"]
    assert not any("s3cret" in arg for arg in args)
    assert (env["PGPASSWORD"], env["PGSSLMODE"]) == ("s3cret", "require")


def test_a_missing_pg_dump_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(backup.BackupError, match="pg_dump was not found on the PATH"):
        backup.pg_command("pg_dump", {"NAME": "carebundle"})


def test_the_backup_is_readable_by_its_owner_only(media, tmp_path):
    folder = make_backup(tmp_path)
    assert folder.stat().st_mode & 0o077 == 0
    assert all(path.stat().st_mode & 0o077 == 0 for path in folder.iterdir())
