from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "contracts"
    verbose_name = "Contracts"

    def ready(self) -> None:
        # What a contract lets each party see of organisations, markets and bundles (lower apps).
        from contracts import visibility

        visibility.register()

        # The zip of every contract's rate sheets: one bulk item per contract, the zip when all are done.
        from contracts.services.rate_sheets import (
            RATE_SHEETS,
            rate_sheet_export_finish,
            rate_sheet_export_item,
        )
        from core.bulk import register

        register(RATE_SHEETS, rate_sheet_export_item, on_finished=rate_sheet_export_finish)
