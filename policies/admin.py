"""Policy admin: tenant defaults and application overrides, every change audited, and a dry-run page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path

from approvals.models import Application
from mfa_server.admin_tools import TenantScopedAdmin, admin_actor
from mfa_server.net import PresentedCertificate
from policies import engine
from policies.facts import RequestFacts
from policies.models import Policy
from policies.selectors import effective_policy
from policies.services import policy_change_record, policy_evaluate, policy_snapshot


class PolicyTestForm(forms.Form):
    """What to try the policy with; nothing is created."""

    username = forms.CharField(max_length=150)
    application = forms.ModelChoiceField(queryset=Application.objects.none())
    end_user_ip = forms.GenericIPAddressField(required=False, label="End user's IP")
    service_ip = forms.GenericIPAddressField(required=False, label="Relying service's source IP")
    certificate_pem = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}), label="Client certificate (PEM)"
    )
    phase = forms.ChoiceField(choices=[(p.value, p.value) for p in (engine.Phase.PUSH, engine.Phase.PREAUTH)])


@admin.register(Policy)
class PolicyAdmin(TenantScopedAdmin):
    list_display = [
        "__str__",
        "tenant",
        "application",
        "number_matching",
        "require_user_verification",
        "client_cert_required",
        "unknown_user",
        "updated_at",
    ]
    list_filter = ["tenant", "client_cert_required", "unknown_user"]
    change_list_template = "admin/policies/policy/change_list.html"
    fieldsets = [
        (None, {"fields": ["tenant", "application"]}),
        (
            "Factors",
            {
                "fields": [
                    "factors",
                    "require_user_verification",
                    "number_matching",
                    "allow_plain_push",
                    "approval_timeout_seconds",
                ]
            },
        ),
        (
            "Allowed networks",
            {
                "fields": [
                    "user_networks_allow",
                    "user_networks_deny",
                    "service_networks_allow",
                    "service_networks_deny",
                ]
            },
        ),
        (
            "Client certificate",
            {
                "fields": [
                    "client_cert_required",
                    "client_cert_binding",
                    "client_cert_ca",
                    "client_cert_ca_pem",
                    "client_cert_crl_pem",
                ]
            },
        ),
        (
            "Push fatigue and unknown users (empty: the MFA_POLICY_* setting; 0: off)",
            {
                "fields": [
                    "push_limit",
                    "push_window_seconds",
                    "cooldown_seconds",
                    "fraud_lockout_count",
                    "new_device_minutes",
                    "unknown_user",
                ]
            },
        ),
    ]

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        before = policy_snapshot(Policy.objects.filter(pk=obj.pk).first()) if change else {}
        super().save_model(request, obj, form, change)
        policy_change_record(before=before, policy=obj, actor=admin_actor(request))  # type: ignore[arg-type]

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        before = policy_snapshot(obj)  # type: ignore[arg-type]
        super().delete_model(request, obj)
        policy_change_record(before=before, policy=obj, actor=admin_actor(request), deleted=True)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in list(queryset):
            self.delete_model(request, obj)

    def get_urls(self) -> list[Any]:
        urls = [path("test/", self.admin_site.admin_view(self.test_view), name="policies_policy_test")]
        return urls + super().get_urls()

    def test_view(self, request: HttpRequest) -> HttpResponse:
        """Show each rule's verdict for a user, application, addresses and certificate; writes nothing."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        applications = Application.objects.select_related("tenant")
        if not request.user.is_superuser:
            applications = applications.filter(tenant__memberships__user=request.user).distinct()
        form = PolicyTestForm(request.POST or None)
        form.fields["application"].queryset = applications  # type: ignore[attr-defined]
        result = None
        if request.method == "POST" and form.is_valid():
            application = get_object_or_404(applications, pk=form.cleaned_data["application"].pk)
            pem = form.cleaned_data["certificate_pem"].strip()
            facts = RequestFacts(
                end_user_ip=form.cleaned_data["end_user_ip"] or None,
                service_ip=form.cleaned_data["service_ip"] or None,
                # Pasted by an admin, so there is no proxy verdict: treat it as the proxy accepted it.
                certificate=PresentedCertificate(pem=pem, proxy_verify="SUCCESS") if pem else None,
            )
            policy = effective_policy(application=application)
            result = policy_evaluate(
                policy=policy,
                tenant_id=application.tenant_id,
                username=form.cleaned_data["username"],
                facts=facts,
                phase=engine.Phase(form.cleaned_data["phase"]),
                application_id=application.pk,  # as on the relying API: certificates bound to this application
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Test a policy",
            "opts": self.model._meta,
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/policies/policy/test.html", context)
