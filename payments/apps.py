from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from core.bulk import register
        from payments.services.month_end import MONTH_END, month_end_item

        register(MONTH_END, month_end_item)
