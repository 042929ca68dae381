"""The four signature vectors of specs/duo-compat.md §1.3, pinned against approvals/signing.py."""

from __future__ import annotations

import hashlib

from approvals.signing import EMPTY_SHA512, canonical_string, sign, signature_matches

SKEY = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
DATE = "Tue, 21 Aug 2012 17:29:18 -0000"
HOST = "api-xxxxxxxx.duosecurity.com"
PARAMS = [("username", "alice smith"), ("factor", "push"), ("device", "auto")]
CANONICAL_AB = (
    "Tue, 21 Aug 2012 17:29:18 -0000\nPOST\napi-xxxxxxxx.duosecurity.com\n/auth/v2/auth\n"
    "device=auto&factor=push&username=alice%20smith"
)
VECTOR_A = "5d5447a72f65957e589bd97a8ad50c8a776c1569"
VECTOR_B = "146e1251604a4ae74d9a7c10d848c3e8bb8499ba1c2fa4f0620611c2982f45f0905e389115be5537b6eefab61c7b64755cf7bd2ce4799fc80bb6ddff99891e91"  # noqa: E501
VECTOR_C = "0f58bf2ca7a47976f430e8c8cfe9a7b4ac9b9aff77bc7b8ec57743474faa231b7592e446634ee9a5e945c7c9f5b90b578713c5e2bb45a717db4c2a41da5688c5"  # noqa: E501
VECTOR_D = "f88fc2e68ddd844d03251be8c6ff85bd32ec85ec446038491b6a3b87399e44ca98a50d101b4cb8ab3e3acd8d2ba357e051941ef4621f3a8e8da343aa29792e71"  # noqa: E501
BODY_C = b'{"device":"auto","factor":"push","username":"alice smith"}'
TXID = "45f7c92b-f45f-4862-8545-e0f58e78075a"


def _v2() -> str:
    return canonical_string(version=2, date=DATE, method="POST", host=HOST, path="/auth/v2/auth", params=PARAMS)


def test_signing__vector_a__v2_hmac_sha1():
    assert _v2() == CANONICAL_AB
    assert sign(SKEY, _v2(), "sha1") == VECTOR_A


def test_signing__vector_b__v2_hmac_sha512():
    assert sign(SKEY, _v2(), "sha512") == VECTOR_B


def test_signing__vector_c__v5_json_body():
    canonical = canonical_string(
        version=5, date=DATE, method="POST", host=HOST, path="/auth/v2/auth", params=[], body=BODY_C
    )
    lines = canonical.split("\n")
    assert lines[4] == ""
    assert lines[5].startswith("647d1ec1")
    assert lines[5].endswith("5b2f")
    assert lines[5] == hashlib.sha512(BODY_C).hexdigest()
    assert lines[6] == EMPTY_SHA512
    assert sign(SKEY, canonical) == VECTOR_C


def test_signing__vector_d__v5_get_with_query():
    canonical = canonical_string(
        version=5, date=DATE, method="GET", host=HOST, path="/auth/v2/auth_status", params=[("txid", TXID)]
    )
    assert canonical.split("\n")[4:] == [f"txid={TXID}", EMPTY_SHA512, EMPTY_SHA512]
    assert sign(SKEY, canonical) == VECTOR_D


def test_signature_matches__all_four_vectors__accepted_and_tampering_refused():
    common = {"secret": SKEY, "date": DATE, "host": HOST, "x_duo_headers": {}}
    form = {"method": "POST", "path": "/auth/v2/auth", "form_params": PARAMS, "query_params": [], "body": b""}
    assert signature_matches(signature=VECTOR_A, **common, **form)
    assert signature_matches(signature=VECTOR_B, **common, **form)
    json_post = {"method": "POST", "path": "/auth/v2/auth", "form_params": [], "query_params": [], "body": BODY_C}
    assert signature_matches(signature=VECTOR_C, **common, **json_post)
    get = {
        "method": "GET",
        "path": "/auth/v2/auth_status",
        "form_params": [("txid", TXID)],
        "query_params": [("txid", TXID)],
        "body": b"",
    }
    assert signature_matches(signature=VECTOR_D, **common, **get)
    assert not signature_matches(
        signature=VECTOR_C, **common, **{**json_post, "body": BODY_C.replace(b"alice", b"mallory")}
    )
    assert not signature_matches(signature=VECTOR_A, **{**common, "secret": SKEY[:-1] + "q"}, **form)
