from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from core.bulk import register
        from payments.models import SETTLE_ALL
        from payments.services.month_end import MONTH_END, month_end_item
        from payments.services.settlement_all import settlement_all_item

        register(MONTH_END, month_end_item)
        register(SETTLE_ALL, settlement_all_item)
