from django.apps import AppConfig


class FallbacksConfig(AppConfig):
    name = "fallbacks"
    verbose_name = "Fallback factors"

    def ready(self) -> None:
        from fallbacks import checks  # noqa: F401  (registers system checks)
