from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Policies"

    def ready(self) -> None:
        from mfa_server.config_cache import watch
        from policies import checks  # noqa: F401  (registers system checks)
        from policies.models import Policy

        watch(Policy)
