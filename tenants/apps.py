from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants and subscribers"

    def ready(self) -> None:
        from mfa_server.config_cache import watch
        from tenants.models import Tenant

        watch(Tenant)
