"""Policies: a tenant default, optionally overridden per application."""

from __future__ import annotations

from django.db import models

FACTOR_CHOICES = ["push", "webauthn", "passcode", "session_code", "sms", "bypass_code"]
DEFAULT_FACTORS = ["push", "webauthn", "passcode", "session_code", "sms"]


def default_factors() -> list[str]:
    return list(DEFAULT_FACTORS)


class Policy(models.Model):
    """Which factors are allowed (in fallback order) and how approvals behave.

    A row with ``application`` empty is the tenant default; a row with ``application`` set overrides it.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="policies")
    application = models.OneToOneField(
        "approvals.Application", null=True, blank=True, on_delete=models.CASCADE, related_name="policy"
    )
    factors = models.JSONField(default=default_factors, help_text=f"Allowed factors in fallback order, of {FACTOR_CHOICES}.")
    require_user_verification = models.BooleanField(default=True, help_text="Approvals need a biometric proof.")
    number_matching = models.BooleanField(default=True)
    allow_plain_push = models.BooleanField(
        default=False, help_text="Allow a push without number matching for clients that cannot show a number (weaker)."
    )
    approval_timeout_seconds = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "policies"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(application__isnull=True), name="one_default_policy_per_tenant"
            )
        ]

    def __str__(self) -> str:
        return f"policy of {self.application or self.tenant}"
