"""State of the Duo-compatible front doors: Verified Push offers and the Universal Prompt (OIDC) flow."""

from __future__ import annotations

import uuid

from django.db import models


class RedirectUri(models.Model):
    """A redirect URI registered for an application's Universal Prompt (compared exactly, ≤ 256 chars)."""

    application = models.ForeignKey("approvals.Application", on_delete=models.CASCADE, related_name="duo_redirect_uris")
    uri = models.CharField(max_length=256)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "uri"], name="unique_duo_redirect_uri")]

    def __str__(self) -> str:
        return self.uri


class VerifiedPushOffer(models.Model):
    """A Verified Push code shown by the client after ``/preauth``; ``/auth`` with its txid sends the push.

    The transaction the push creates gets this id and this number, so txid and code stay the same end to end.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey("approvals.Application", on_delete=models.CASCADE, related_name="+")
    subscriber = models.ForeignKey("tenants.Subscriber", on_delete=models.CASCADE, related_name="+")
    number = models.CharField(max_length=8)
    request_digest = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"verified push offer {self.id}"


class PromptSession(models.Model):
    """One Universal Prompt login: the validated authorize request, its push, and the code it yields.

    The browser proves it owns the session with a cookie whose keyed hash is ``browser_hash``. The code is
    issued once, only after an approved second factor, and is stored as a keyed hash.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    application = models.ForeignKey("approvals.Application", on_delete=models.CASCADE, related_name="+")
    username = models.CharField(max_length=150, help_text="duo_uname, echoed byte for byte as preferred_username.")
    redirect_uri = models.CharField(max_length=256)
    state = models.CharField(max_length=1024)
    nonce = models.CharField(max_length=1024, blank=True)
    use_duo_code_attribute = models.BooleanField(default=True)
    browser_hash = models.CharField(max_length=64)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    approval = models.ForeignKey(
        "approvals.ApprovalRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    code_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"prompt {self.id} for {self.username}"


class UsedClientAssertion(models.Model):
    """The ``jti`` of every accepted client assertion, kept until it expires, so each is used once."""

    application = models.ForeignKey("approvals.Application", on_delete=models.CASCADE, related_name="+")
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "jti"], name="unique_duo_assertion_jti")]
