from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "contracts"
    verbose_name = "Contracts"

    def ready(self) -> None:
        # What a contract lets each party see of organisations, markets and bundles (lower apps).
        from contracts import visibility

        visibility.register()
