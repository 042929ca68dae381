"""devices.webauthn with a software authenticator: real keys, real CBOR, py_webauthn unmodified (no database)."""

from __future__ import annotations

import os

import pytest

from devices import webauthn
from tests.authenticator import SoftAuthenticator, b64url

RP = webauthn.RelyingParty(rp_id="localhost", name="MFA", origins=("http://localhost",))


def creation_options(**overrides):
    options = webauthn.registration_options(
        rp=RP,
        user_id=os.urandom(16),
        user_name="alice",
        user_display_name="Alice",
        challenge=os.urandom(32),
        exclude_credential_ids=[],
        **overrides,
    )
    return options


def registered(authenticator: SoftAuthenticator) -> webauthn.RegisteredCredential:
    options = creation_options()
    challenge = webauthn.challenge_from_b64url(options["challenge"])
    return webauthn.verify_registration(rp=RP, credential=authenticator.create(options), expected_challenge=challenge)


def assert_with(authenticator, stored, *, challenge=None, **kwargs):
    challenge = challenge or os.urandom(32)
    options = webauthn.authentication_options(
        rp=RP, challenge=challenge, credential_id=stored.credential_id, transports=["internal"]
    )
    credential = authenticator.get(options, **kwargs)
    return webauthn.verify_assertion(
        rp=RP,
        credential=credential,
        expected_challenge=challenge,
        credential_id=stored.credential_id,
        public_key=stored.public_key,
        sign_count=stored.sign_count,
    )


def test_registration_options__platform_authenticator_and_uv_required():
    options = creation_options()
    assert options["authenticatorSelection"]["authenticatorAttachment"] == "platform"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert options["rp"] == {"id": "localhost", "name": "MFA"}


def test_registration_options__unknown_attestation_setting__refused():
    with pytest.raises(ValueError, match="MFA_WEBAUTHN_ATTESTATION"):
        creation_options(attestation="sometimes")


def test_verify_registration__user_verified__credential_returned():
    authenticator = SoftAuthenticator()
    stored = registered(authenticator)
    assert stored.credential_id == authenticator.credential_id_b64
    assert stored.user_verified is True
    assert stored.attestation_format == "none"
    assert stored.transports == ("internal",)
    assert stored.sign_count == 0


def test_verify_registration__no_user_verification__refused():
    with pytest.raises(webauthn.WebAuthnVerificationError) as error:
        registered(SoftAuthenticator(user_verified=False))
    assert error.value.code == "webauthn_verification_failed"


def test_verify_registration__other_origin__refused():
    options = creation_options()
    credential = SoftAuthenticator().create(options, origin="http://evil.example")
    with pytest.raises(webauthn.WebAuthnVerificationError):
        webauthn.verify_registration(
            rp=RP, credential=credential, expected_challenge=webauthn.challenge_from_b64url(options["challenge"])
        )


def test_verify_registration__other_challenge__refused():
    options = creation_options()
    with pytest.raises(webauthn.WebAuthnVerificationError):
        webauthn.verify_registration(
            rp=RP, credential=SoftAuthenticator().create(options), expected_challenge=b"x" * 32
        )


@pytest.mark.parametrize("garbage", [{}, {"id": "x"}, {"id": "x", "rawId": "x", "response": "nope"}, "[]"])
def test_verify_registration__malformed__refused_not_crashed(garbage):
    with pytest.raises(webauthn.WebAuthnVerificationError):
        webauthn.verify_registration(rp=RP, credential=garbage, expected_challenge=os.urandom(32))


def test_authentication_options__uv_required_and_only_this_credential():
    options = webauthn.authentication_options(
        rp=RP, challenge=os.urandom(32), credential_id=b64url(b"c" * 32), transports=["internal", "bogus"]
    )
    assert options["userVerification"] == "required"
    assert options["allowCredentials"] == [{"id": b64url(b"c" * 32), "type": "public-key", "transports": ["internal"]}]


def test_verify_assertion__user_verified__sign_count_reported():
    authenticator = SoftAuthenticator()
    stored = registered(authenticator)
    verified = assert_with(authenticator, stored)
    assert verified.user_verified is True
    assert verified.new_sign_count == 1


def test_verify_assertion__no_user_verification__refused():
    authenticator = SoftAuthenticator()
    stored = registered(authenticator)
    authenticator.user_verified = False
    with pytest.raises(webauthn.WebAuthnVerificationError):
        assert_with(authenticator, stored)


def test_verify_assertion__other_credential__refused():
    stored = registered(SoftAuthenticator())
    with pytest.raises(webauthn.WebAuthnVerificationError):
        assert_with(SoftAuthenticator(), stored)


def test_verify_assertion__same_credential_id_other_key__refused():
    authenticator = SoftAuthenticator()
    stored = registered(authenticator)
    impostor = SoftAuthenticator(credential_id=authenticator.credential_id)
    with pytest.raises(webauthn.WebAuthnVerificationError):
        assert_with(impostor, stored)


def test_verify_assertion__sign_count_not_increased__refused():
    authenticator = SoftAuthenticator()
    stored = registered(authenticator)
    stored = webauthn.RegisteredCredential(**{**stored.__dict__, "sign_count": 5})
    authenticator.sign_count = 4  # the next assertion reports 5: a clone or a replay
    with pytest.raises(webauthn.WebAuthnVerificationError):
        assert_with(authenticator, stored)


def test_verify_assertion__wrong_rp_id__refused():
    authenticator = SoftAuthenticator()
    stored = registered(authenticator)
    with pytest.raises(webauthn.WebAuthnVerificationError):
        assert_with(authenticator, stored, rp_id="evil.example")


def test_client_data_challenge__reads_challenge_or_none():
    options = creation_options()
    credential = SoftAuthenticator().create(options)
    assert webauthn.client_data_challenge(credential) == webauthn.challenge_from_b64url(options["challenge"])
    assert webauthn.client_data_challenge({"response": {"clientDataJSON": "!!"}}) is None
    assert webauthn.client_data_challenge(None) is None
