from django.apps import AppConfig


class PerformanceConfig(AppConfig):
    name = "performance"
    verbose_name = "Performance"

    def ready(self) -> None:
        # Settlements (payments, the app below) get a period's performance from us (ADR 0006).
        from payments import settlement_source
        from performance import selectors

        settlement_source.register(selectors)
