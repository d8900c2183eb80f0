"""``manage.py backup [--output DIR]``: the database and the stored files in one folder (core.backup)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.backup import FILES_ARCHIVE, BackupError, backup_dir, create_backup


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            break
        value /= 1024
    return f"{value:.1f} {unit}"


class Command(BaseCommand):
    help = (
        "Back up the database and the stored files (MEDIA_ROOT) into a new folder named by the UTC time, "
        "with a manifest of their sha256. docs/operations.md, 'Backups and restore'."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            type=Path,
            help=f"The folder to create the backup folder in (default: BACKUP_DIR, {backup_dir()}).",
        )

    def handle(self, *args, **options):
        try:
            result = create_backup(options["output"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Backup written: {result.path}"))
        for name, size in sorted(result.sizes.items()):
            count = result.stored_files
            note = f" ({count} stored file{'' if count == 1 else 's'})" if name == FILES_ARCHIVE else ""
            self.stdout.write(f"  {name:<20} {human_size(size):>12}{note}")
        self.stdout.write(f"  {'total':<20} {human_size(sum(result.sizes.values())):>12}")
        for path in result.skipped:
            self.stderr.write(self.style.WARNING(f"Not backed up (a link or special file): {path}"))
