"""Policies: a tenant default, optionally overridden per application."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

FACTOR_CHOICES = ["push", "webauthn", "passcode", "session_code", "sms", "bypass_code"]
DEFAULT_FACTORS = ["push", "webauthn", "passcode", "session_code", "sms"]


def default_factors() -> list[str]:
    return list(DEFAULT_FACTORS)


CIDR_HELP = "One CIDR per line (IPv4 or IPv6)."


class CertBinding(models.TextChoices):
    NONE = "none", "Any valid certificate"
    SUBSCRIBER = "subscriber", "Issued to the subscriber"
    DEVICE = "device", "Issued to the device"


class CertAuthority(models.TextChoices):
    BUILTIN = "builtin", "The built-in CA (pki)"
    UPLOADED = "uploaded", "An uploaded external CA"


class UnknownUser(models.TextChoices):
    ENROLL = "enroll", "Offer enrolment"
    DENY = "deny", "Deny"
    ALLOW = "allow", "Allow without a second factor"


def cidr_lines(text: str) -> list[str]:
    """The non-empty, non-comment lines of a CIDR list field."""
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


class Policy(models.Model):
    """Which factors are allowed (in fallback order) and how approvals behave.

    A row with ``application`` empty is the tenant default; a row with ``application`` set overrides it.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="policies")
    application = models.OneToOneField(
        "approvals.Application", null=True, blank=True, on_delete=models.CASCADE, related_name="policy"
    )
    factors = models.JSONField(
        default=default_factors, help_text=f"Allowed factors in fallback order, of {FACTOR_CHOICES}."
    )
    require_user_verification = models.BooleanField(default=True, help_text="Approvals need a biometric proof.")
    number_matching = models.BooleanField(default=True)
    allow_plain_push = models.BooleanField(
        default=False, help_text="Allow a push without number matching for clients that cannot show a number (weaker)."
    )
    approval_timeout_seconds = models.PositiveIntegerField(null=True, blank=True)

    # --- networks: one CIDR (IPv4 or IPv6) per line; deny wins; an empty allow list allows all ---
    user_networks_allow = models.TextField(
        blank=True, help_text=CIDR_HELP + " End user's IP, as the relying service reports it."
    )
    user_networks_deny = models.TextField(blank=True, help_text=CIDR_HELP + " Deny wins over allow.")
    service_networks_allow = models.TextField(
        blank=True, help_text=CIDR_HELP + " The relying service's own source address (through trusted proxies)."
    )
    service_networks_deny = models.TextField(blank=True, help_text=CIDR_HELP + " Deny wins over allow.")

    # --- client TLS certificate (forwarded by the trusted mTLS proxy) ---
    client_cert_required = models.BooleanField(
        default=False,
        help_text="Connections must present a valid client certificate (relying API, device API, web client).",
    )
    client_cert_binding = models.CharField(
        max_length=10,
        choices=CertBinding.choices,
        default=CertBinding.NONE,
        help_text="On end-user connections (device API, web client), whom the certificate must name.",
    )
    client_cert_ca = models.CharField(max_length=10, choices=CertAuthority.choices, default=CertAuthority.BUILTIN)
    client_cert_ca_pem = models.TextField(
        blank=True, help_text="Uploaded CA bundle (PEM): the CAs that issue client certificates."
    )
    client_cert_crl_pem = models.TextField(blank=True, help_text="Optional CRL(s) of the uploaded CA (PEM).")

    # --- anti-abuse; empty = the MFA_POLICY_* setting, 0 = off ---
    new_device_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="A device enrolled less than this ago cannot approve from an unknown network."
    )
    push_limit = models.PositiveIntegerField(null=True, blank=True, help_text="Pushes per subscriber per window.")
    push_window_seconds = models.PositiveIntegerField(null=True, blank=True)
    cooldown_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Wait after an explicit denial or a fraud report before the next push."
    )
    fraud_lockout_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Fraud reports (since the last approval) that lock the subscriber."
    )
    unknown_user = models.CharField(
        max_length=10,
        choices=UnknownUser.choices,
        default=UnknownUser.ENROLL,
        help_text="What happens to a user we do not know.",
    )
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

    def clean(self) -> None:
        """Reject what the engine could not use: bad CIDRs, unknown factors, an unusable CA upload."""
        from mfa_server.addresses import parse_networks
        from policies.certificates import parse_certificates, parse_crls

        errors: dict[str, str] = {}
        for name in ("user_networks_allow", "user_networks_deny", "service_networks_allow", "service_networks_deny"):
            try:
                parse_networks(cidr_lines(getattr(self, name)))
            except ValueError as exc:
                errors[name] = f"Not a CIDR list: {exc}"
        if not isinstance(self.factors, list) or any(f not in FACTOR_CHOICES for f in self.factors):
            errors["factors"] = f"A list of {FACTOR_CHOICES}."
        try:
            if self.client_cert_ca_pem and not parse_certificates(self.client_cert_ca_pem):
                errors["client_cert_ca_pem"] = "No PEM certificate found."
        except ValueError:
            errors["client_cert_ca_pem"] = "A certificate in the bundle does not parse."
        try:
            parse_crls(self.client_cert_crl_pem)
        except ValueError:
            errors["client_cert_crl_pem"] = "A CRL does not parse."
        if self.client_cert_ca == CertAuthority.UPLOADED and not self.client_cert_ca_pem.strip():
            errors["client_cert_ca_pem"] = "Upload the CA bundle, or use the built-in CA."
        if self.application_id and self.application.tenant_id != self.tenant_id:
            errors["application"] = "The application belongs to another tenant."
        if errors:
            raise ValidationError(errors)
