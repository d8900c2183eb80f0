from django.apps import AppConfig


class PerformanceConfig(AppConfig):
    name = "performance"
    verbose_name = "Performance"

    def ready(self) -> None:
        # Settlements (payments, the app below) get a period's performance from us (ADR 0006).
        from claims import hooks
        from payments import settlement_source
        from performance import selectors, services

        settlement_source.register(selectors)
        # Utilisation is derived from a plan's claims as they load (claims sits below us).
        hooks.on_claims_loaded(services.utilization_from_claims)
