from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Organisations and users"

    def ready(self) -> None:
        from accounts import middleware  # noqa: F401 - connects the session clocks to user_logged_in
