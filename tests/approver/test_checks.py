"""The approver's system checks."""

from __future__ import annotations

from approver.checks import webauthn_config, webpush_config


def ids(problems):
    return [p.id for p in problems]


def test_webauthn_check__matching_rp_and_origins__clean(settings):
    settings.MFA_WEBAUTHN_RP_ID = "example.com"
    settings.MFA_WEBAUTHN_ORIGINS = ["https://example.com", "https://mfa.example.com"]
    assert webauthn_config() == []


def test_webauthn_check__origin_outside_rp_id__error(settings):
    settings.MFA_WEBAUTHN_RP_ID = "example.com"
    settings.MFA_WEBAUTHN_ORIGINS = ["https://example.com.evil.net", "https://notexample.com"]
    assert ids(webauthn_config()) == ["approver.E001", "approver.E001"]


def test_webauthn_check__plain_http_outside_localhost__warning(settings):
    settings.DEBUG = False
    settings.MFA_WEBAUTHN_RP_ID = "example.com"
    settings.MFA_WEBAUTHN_ORIGINS = ["http://mfa.example.com", "http://localhost:8000"]
    assert ids(webauthn_config()) == ["approver.W001", "approver.E001"]


def test_webauthn_check__unknown_attestation__error(settings):
    settings.MFA_WEBAUTHN_ATTESTATION = "maybe"
    assert "approver.E002" in ids(webauthn_config())


def test_webpush_check__garbage_key__error_and_valid_key_clean(settings):
    settings.MFA_WEBPUSH_VAPID_PRIVATE_KEY = "not a key"
    assert ids(webpush_config()) == ["approver.E003"]
    from py_vapid import Vapid02

    key = Vapid02()
    key.generate_keys()
    settings.MFA_WEBPUSH_VAPID_PRIVATE_KEY = key.private_pem().decode()
    assert webpush_config() == []
