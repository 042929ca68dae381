"""Reading the policy that applies to an application."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from approvals.models import Application
from policies.models import DEFAULT_FACTORS, Policy


@dataclass(frozen=True)
class EffectivePolicy:
    """The merged policy for one application (application override, else tenant default, else built-in)."""

    factors: tuple[str, ...]
    require_user_verification: bool
    number_matching: bool
    allow_plain_push: bool
    approval_timeout_seconds: int
    source: str  # "application", "tenant" or "default"

    @property
    def sms_allowed(self) -> bool:
        return "sms" in self.factors

    def allows(self, factor: str) -> bool:
        return factor in self.factors


def effective_policy(*, application: Application) -> EffectivePolicy:
    """The policy in force for ``application``."""
    policy = Policy.objects.filter(application=application).first()
    source = "application"
    if policy is None:
        policy = Policy.objects.filter(tenant_id=application.tenant_id, application__isnull=True).first()
        source = "tenant"
    if policy is None:
        return EffectivePolicy(
            factors=tuple(DEFAULT_FACTORS),
            require_user_verification=True,
            number_matching=True,
            allow_plain_push=False,
            approval_timeout_seconds=application.approval_timeout_seconds or settings.MFA_APPROVAL_TIMEOUT_SECONDS,
            source="default",
        )
    return EffectivePolicy(
        factors=tuple(policy.factors),
        require_user_verification=policy.require_user_verification,
        number_matching=policy.number_matching,
        allow_plain_push=policy.allow_plain_push,
        approval_timeout_seconds=policy.approval_timeout_seconds or application.approval_timeout_seconds,
        source=source,
    )
