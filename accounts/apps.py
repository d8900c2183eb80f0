from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organisations and users"

    def ready(self) -> None:
        from accounts import middleware, time_zone  # noqa: F401 - connect their user_logged_in receivers
