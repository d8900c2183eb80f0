"""``manage.py restore DIR [--yes]``: replaces the database and the stored files with a backup's."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from core.backup import BackupError, restore_backup, stored_roots, verify_backup


class Command(BaseCommand):
    help = (
        "Restore a folder written by `manage.py backup`: checks every sha256, the engine and the "
        "migrations, then REPLACES the database and the stored files. Stop the web server and the "
        "workers first. docs/operations.md, 'Backups and restore'."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path, help="The backup folder (the one with manifest.json).")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, **options):
        folder: Path = options["folder"]
        try:
            # Checked before the question, so that nobody confirms a restore that would be refused.
            manifest = verify_backup(folder)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        database = connections["default"].settings_dict["NAME"]
        roots = ", ".join(str(root) for root in stored_roots().values())
        self.stdout.write(
            f"Backup {folder} made {manifest['created_at']}: checked.\n"
            f"Restoring it REPLACES the database {database} and the stored files in {roots}."
        )
        if not options["yes"]:
            try:
                answer = input("Type 'yes' to restore: ")
            except EOFError:  # no terminal (a script, cron): only --yes goes on
                self.stdout.write("")
                answer = ""
            if answer.strip().lower() != "yes":
                raise CommandError(
                    "Restore cancelled: nothing was changed (pass --yes to skip the question)."
                )
        try:
            result = restore_backup(folder, verified=manifest)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Restored the database and the stored files from {folder}."))
        if result.needs_migrate:
            self.stdout.write(
                self.style.WARNING(
                    "The backup is older than this code: run `manage.py migrate` before starting the app."
                )
            )
