"""Django admin for the CA: list CAs and certificates, create/import CAs, issue from a CSR, revoke, renew,
download chains. Everything is tenant-scoped; private keys are never displayed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from mfa_server.admin_tools import TenantScopedAdmin, admin_actor
from mfa_server.errors import DomainError
from pki import services
from pki.forms import CaCreateForm, CaImportForm, IssueFromCsrForm, IssuePkcs12Form, RevokeActionForm
from pki.models import CertificateAuthority, IssuedCertificate
from pki.selectors import cas_chain_pem
from tenants.models import Tenant


def _tenants_for(request: HttpRequest) -> QuerySet[Tenant]:
    if request.user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=request.user).distinct()


def chain_download(cas: Iterable[CertificateAuthority], filename: str) -> HttpResponse:
    """A PEM bundle of the CAs' chains, each certificate once (for nginx ``ssl_client_certificate``)."""
    response = HttpResponse(cas_chain_pem(cas), content_type="application/x-pem-file")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _form_page(request: HttpRequest, *, title: str, form: Any, submit_label: str, intro: str = "") -> TemplateResponse:
    context = {**admin.site.each_context(request), "title": title, "form": form, "submit_label": submit_label}
    context["intro"] = intro
    return TemplateResponse(request, "admin/pki/form.html", context)


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(TenantScopedAdmin):
    list_display = ["name", "tenant", "kind", "algorithm", "serial", "not_after", "ca_status", "crl_next_update"]
    list_filter = ["tenant", "kind", "is_issuing", "is_imported"]
    search_fields = ["name", "serial", "subject"]
    exclude = ["encrypted_private_key", "crl_der"]
    readonly_fields = [
        "public_id",
        "tenant",
        "name",
        "kind",
        "parent",
        "algorithm",
        "serial",
        "subject",
        "not_before",
        "not_after",
        "is_issuing",
        "is_imported",
        "crl_number",
        "crl_this_update",
        "crl_next_update",
        "certificate_pem",
        "issuer_chain_pem",
        "created_by",
        "created_at",
        "crl_links",
    ]
    actions = ["download_chain", "publish_crl"]

    @admin.display(description="status")
    def ca_status(self, obj: CertificateAuthority) -> str:
        return "expired" if obj.is_expired else "active"

    @admin.display(description="CRL and chain")
    def crl_links(self, obj: CertificateAuthority) -> str:
        from django.utils.html import format_html

        return format_html(
            '<a href="{}">CRL (DER)</a> · <a href="{}">CRL (PEM)</a> · <a href="{}">chain</a>',
            reverse("pki-crl-der", kwargs={"public_id": obj.public_id}),
            reverse("pki-crl-pem", kwargs={"public_id": obj.public_id}),
            reverse("pki-chain-pem", kwargs={"public_id": obj.public_id}),
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        extra = [
            path("import/", self.admin_site.admin_view(self.import_view), name="pki_certificateauthority_import"),
        ]
        return extra + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """ "Add" creates a root + issuing CA pair for a tenant."""
        if not self.has_add_permission(request):  # a custom add view: Django's own check is not reached
            return HttpResponse(status=403)
        form = CaCreateForm(request.POST or None, tenants=_tenants_for(request))
        if request.method == "POST" and form.is_valid():
            root, issuing = services.ca_create_hierarchy(
                tenant=form.cleaned_data["tenant"],
                algorithm=form.cleaned_data["algorithm"],
                name=form.cleaned_data["name"] or None,
                actor=admin_actor(request),
            )
            self.message_user(request, f"Created {root} and {issuing}.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:pki_certificateauthority_changelist"))
        intro = "Creates a root CA and an issuing CA signed by it. "
        intro += (
            f"To bring an existing CA instead, use the import page: {reverse('admin:pki_certificateauthority_import')}"
        )
        return _form_page(request, title="Create a CA hierarchy", form=form, submit_label="Create", intro=intro)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = CaImportForm(request.POST or None, tenants=_tenants_for(request))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                ca = services.ca_import(
                    tenant=data["tenant"],
                    certificate_pem=data["certificate"],
                    private_key_pem=data["private_key"],
                    key_password=data["key_password"] or None,
                    chain_pem=data["chain"],
                    actor=admin_actor(request),
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                self.message_user(request, f"Imported {ca}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:pki_certificateauthority_changelist"))
        return _form_page(request, title="Import a CA certificate and key", form=form, submit_label="Import")

    @admin.action(description="Download CA chain (PEM bundle for nginx ssl_client_certificate)")
    def download_chain(self, request: HttpRequest, queryset: QuerySet[CertificateAuthority]) -> HttpResponse:
        return chain_download(list(queryset.order_by("pk")), "ca-chain.pem")

    @admin.action(description="Publish a fresh CRL now", permissions=["add"])
    def publish_crl(self, request: HttpRequest, queryset: QuerySet[CertificateAuthority]) -> None:
        for ca in queryset:
            services.crl_publish(ca=ca)
        self.message_user(request, f"Published {queryset.count()} CRL(s).", messages.SUCCESS)


@admin.register(IssuedCertificate)
class IssuedCertificateAdmin(TenantScopedAdmin):
    list_display = ["serial", "subject", "holder", "tenant", "ca", "not_before", "not_after", "cert_status"]
    list_filter = ["tenant", "source", "revocation_reason"]
    search_fields = ["serial", "holder", "subject", "san_uri"]
    readonly_fields = [
        "tenant",
        "ca",
        "subscriber",
        "device",
        "application",
        "holder",
        "serial",
        "subject",
        "san_uri",
        "source",
        "not_before",
        "not_after",
        "revoked_at",
        "revocation_reason",
        "renewed_from",
        "public_key_sha256",
        "certificate_pem",
        "created_by",
        "created_at",
    ]
    action_form = RevokeActionForm
    actions = ["revoke", "renew", "download_chain"]

    @admin.display(description="status")
    def cert_status(self, obj: IssuedCertificate) -> str:
        return obj.status

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """ "Add" issues a certificate from a CSR pasted by the admin."""
        if not self.has_add_permission(request):  # a custom add view: Django's own check is not reached
            return HttpResponse(status=403)
        form = IssueFromCsrForm(request.POST or None, tenants=_tenants_for(request))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                issued = services.certificate_issue_from_csr(
                    tenant=data["tenant"],
                    subscriber=data["subscriber"],
                    device=data["device"],
                    application=data["application"],
                    csr=data["csr"],
                    validity_days=data["validity_days"],
                    actor=admin_actor(request),
                )
            except DomainError as exc:
                form.add_error("csr" if exc.code.startswith(("csr", "key")) else None, exc.message)
            else:
                self.message_user(request, f"Issued certificate {issued.serial}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:pki_issuedcertificate_change", args=[issued.pk]))
        intro = f"To generate the key here and download a PKCS#12 instead: {reverse('admin:pki_issuedcertificate_p12')}"
        return _form_page(
            request, title="Issue a client certificate from a CSR", form=form, submit_label="Issue", intro=intro
        )

    def get_urls(self) -> list[Any]:
        extra = [
            path("issue-p12/", self.admin_site.admin_view(self.issue_p12_view), name="pki_issuedcertificate_p12"),
        ]
        return extra + super().get_urls()

    def issue_p12_view(self, request: HttpRequest) -> HttpResponse:
        """Generate a key server-side and hand the PKCS#12 over once, as this response; nothing keeps the key."""
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = IssuePkcs12Form(request.POST or None, tenants=_tenants_for(request))
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                bundle = services.certificate_issue_pkcs12(
                    tenant=data["tenant"],
                    subscriber=data["subscriber"],
                    device=data["device"],
                    application=data["application"],
                    password=data["password"],
                    algorithm=data["algorithm"],
                    validity_days=data["validity_days"],
                    actor=admin_actor(request),
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                response = HttpResponse(bundle.pkcs12, content_type="application/x-pkcs12")
                filename = f"{bundle.certificate.holder}-{bundle.certificate.serial[:8]}.p12".replace(" ", "-")
                response["Content-Disposition"] = f'attachment; filename="{filename}"'
                response["Cache-Control"] = "no-store"
                return response
        intro = "The key is generated here and delivered once in the downloaded file; it is not stored."
        return _form_page(
            request, title="Issue a certificate as a PKCS#12 bundle", form=form, submit_label="Issue", intro=intro
        )

    @admin.action(description="Revoke (with the reason chosen above)", permissions=["add"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[IssuedCertificate]) -> None:
        reason = request.POST.get("reason") or IssuedCertificate.Reason.UNSPECIFIED
        done, skipped = 0, 0
        for certificate in queryset:
            try:
                services.certificate_revoke(certificate=certificate, reason=reason, actor=admin_actor(request))
                done += 1
            except DomainError:
                skipped += 1
        self.message_user(request, f"Revoked {done}; {skipped} already revoked.", messages.SUCCESS)

    @admin.action(description="Renew (same key, new serial, current issuing CA)", permissions=["add"])
    def renew(self, request: HttpRequest, queryset: QuerySet[IssuedCertificate]) -> None:
        renewed, failed = [], []
        for certificate in queryset:
            try:
                renewed.append(services.certificate_renew(certificate=certificate, actor=admin_actor(request)).serial)
            except DomainError as exc:
                failed.append(f"{certificate.serial}: {exc.code}")
        if renewed:
            self.message_user(request, f"Renewed as {', '.join(renewed)}.", messages.SUCCESS)
        if failed:
            self.message_user(request, f"Not renewed: {'; '.join(failed)}.", messages.WARNING)

    @admin.action(description="Download CA chain (PEM bundle for nginx ssl_client_certificate)")
    def download_chain(self, request: HttpRequest, queryset: QuerySet[IssuedCertificate]) -> HttpResponse:
        cas = CertificateAuthority.objects.filter(pk__in=queryset.values("ca_id")).order_by("pk")
        return chain_download(list(cas), "ca-chain.pem")
