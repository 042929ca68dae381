"""Admin forms: create or import a CA, issue a certificate from a CSR, revoke with a reason."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet

from approvals.models import Application
from devices.models import Device
from pki.keys import ALGORITHMS, EC_P256
from pki.models import IssuedCertificate
from tenants.models import Subscriber, Tenant


class CaCreateForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.none())
    algorithm = forms.ChoiceField(choices=[(a, a) for a in ALGORITHMS], initial=EC_P256)
    name = forms.CharField(max_length=120, required=False, help_text="Defaults to the tenant's name.")

    def __init__(self, *args: Any, tenants: QuerySet[Tenant], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants  # type: ignore[attr-defined]


class CaImportForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.none())
    certificate = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), help_text="PEM CA certificate.")
    private_key = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}), help_text="PEM private key; stored only encrypted."
    )
    key_password = forms.CharField(widget=forms.PasswordInput, required=False)
    chain = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}), required=False, help_text="PEM certificates above it, up to the root."
    )

    def __init__(self, *args: Any, tenants: QuerySet[Tenant], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants  # type: ignore[attr-defined]


class _HolderMixin:
    """Either a subscriber (optionally one of their devices) or an application (a relying service's mTLS)."""

    def _set_holder_querysets(self, tenants: QuerySet[Tenant]) -> None:
        fields = self.fields  # type: ignore[attr-defined]
        fields["subscriber"].queryset = Subscriber.objects.filter(tenant__in=tenants).select_related("tenant")
        fields["device"].queryset = Device.objects.filter(subscriber__tenant__in=tenants)
        fields["application"].queryset = Application.objects.filter(tenant__in=tenants).select_related("tenant")

    def _clean_holder(self, data: dict[str, Any]) -> None:
        device, subscriber, application = data.get("device"), data.get("subscriber"), data.get("application")
        if (subscriber is None) == (application is None):
            raise forms.ValidationError("Choose a subscriber or an application (exactly one).")
        if application is not None and device is not None:
            raise forms.ValidationError("An application's certificate is not bound to a device.")
        if device is not None and subscriber is not None and device.subscriber_id != subscriber.pk:
            raise forms.ValidationError("The device does not belong to this subscriber.")
        data["tenant"] = (subscriber or application).tenant


def _application_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=Application.objects.none(),
        required=False,
        help_text="Or: a relying service's own certificate (SAN urn:mfa:<tenant>:app:<integration key>).",
    )


class IssueFromCsrForm(_HolderMixin, forms.Form):
    subscriber = forms.ModelChoiceField(queryset=Subscriber.objects.none(), required=False)
    device = forms.ModelChoiceField(
        queryset=Device.objects.none(), required=False, help_text="Bind the certificate to one of their devices."
    )
    application = _application_field()
    csr = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12}),
        label="CSR",
        help_text="PEM PKCS#10 request; its subject and extensions are replaced by the CA's profile.",
    )
    validity_days = forms.IntegerField(min_value=1, max_value=3650, required=False)

    def __init__(self, *args: Any, tenants: QuerySet[Tenant], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_holder_querysets(tenants)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self._clean_holder(data)
        return data


class IssuePkcs12Form(_HolderMixin, forms.Form):
    subscriber = forms.ModelChoiceField(queryset=Subscriber.objects.none(), required=False)
    device = forms.ModelChoiceField(queryset=Device.objects.none(), required=False)
    application = _application_field()
    algorithm = forms.ChoiceField(choices=[(a, a) for a in ALGORITHMS], initial=EC_P256)
    validity_days = forms.IntegerField(min_value=1, max_value=3650, required=False)
    password = forms.CharField(widget=forms.PasswordInput, help_text="Protects the .p12; tell the user separately.")
    password_again = forms.CharField(widget=forms.PasswordInput)

    def __init__(self, *args: Any, tenants: QuerySet[Tenant], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_holder_querysets(tenants)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") != data.get("password_again"):
            raise forms.ValidationError("The passwords differ.")
        self._clean_holder(data)
        return data


class RevokeActionForm(ActionForm):
    reason = forms.ChoiceField(
        choices=IssuedCertificate.Reason.choices, required=False, initial=IssuedCertificate.Reason.UNSPECIFIED
    )
