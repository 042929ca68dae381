"""The OpenAPI 3 document of the relying-service and device APIs, and its browsable page."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

RELYING = {
    "/api/v1/check": {"get", "post"},
    "/api/v1/preauth": {"post"},
    "/api/v1/auth": {"post"},
    "/api/v1/auth/{txid}": {"get"},
    "/api/v1/auth/{txid}/cancel": {"post"},
}
DEVICE = {
    "/api/v1/device/activate": {"post"},
    "/api/v1/device/me": {"get"},
    "/api/v1/device/push-token": {"put"},
    "/api/v1/device/approvals": {"get"},
    "/api/v1/device/approvals/{approval_id}": {"get"},
    "/api/v1/device/approvals/{approval_id}/decision": {"post"},
}


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_schema__valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # the OpenAPI 3 JSON Schema bundled with drf-spectacular


def test_schema__lists_relying_and_device_endpoints(schema):
    for path, methods in {**RELYING, **DEVICE}.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), (path, set(schema["paths"][path]))


def test_schema__documents_both_authentication_schemes(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["signedRequest"]["scheme"] == "basic"
    assert (schemes["deviceToken"]["type"], schemes["deviceToken"]["name"]) == ("apiKey", "Authorization")
    for path, methods in RELYING.items():
        for method in methods:
            assert schema["paths"][path][method]["security"] == [{"signedRequest": []}], (path, method)
    assert schema["paths"]["/api/v1/device/approvals"]["get"]["security"] == [{"deviceToken": []}]


def test_schema__documents_inputs_and_outputs(schema):
    auth = schema["paths"]["/api/v1/auth"]["post"]
    request_schema = auth["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"username", "factor", "context", "async"} <= set(
        schema["components"]["schemas"][request_schema]["properties"]
    )
    status = schema["paths"]["/api/v1/auth/{txid}"]["get"]
    assert any(p["name"] == "wait" for p in status["parameters"])
    decision = schema["paths"]["/api/v1/device/approvals/{approval_id}/decision"]["post"]
    assert "mfa-decision-v1" in decision["description"]


def test_schema__yaml_by_default(client):
    response = client.get("/api/schema")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["openapi"].startswith("3.")


def test_docs__renders_from_local_assets(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    assert "/api/schema" in html
    assert "cdn." not in html
    assert "unpkg" not in html


def test_schema__every_operation_documents_its_failures_as_problem_details(schema):
    problem = schema["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for statuses in ("4XX", "5XX"):
                content = operation["responses"][statuses]["content"]
                assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}, (
                    path,
                    method,
                )


@pytest.mark.parametrize(
    ("method", "path", "request_kwargs", "status", "code"),
    [
        ("get", "/api/v1/check", {}, 401, "signature_invalid"),
        ("get", "/api/v1/device/me", {"HTTP_AUTHORIZATION": "Device not-a-token"}, 401, "not_authenticated"),
        ("post", "/api/v1/device/activate", {"data": "{", "content_type": "application/json"}, 400, "invalid_input"),
    ],
)
def test_schema__a_real_failure_matches_the_documented_problem(
    client, schema, method, path, request_kwargs, status, code
):
    response = getattr(client, method)(path, **request_kwargs)
    assert (response.status_code, response["Content-Type"]) == (status, "application/problem+json")
    body = response.json()
    jsonschema.validate(body, schema["components"]["schemas"]["Problem"])
    assert body["code"] == code
    operation = schema["paths"][path][method]
    assert f"{status}: " in operation["responses"]["4XX"]["description"]
    assert f"`{code}`" in operation["responses"]["4XX"]["description"].split(f"{status}: ", 1)[1].split(";")[0]


def test_schema__lists_no_code_of_the_duo_surface(schema):
    listing = schema["paths"]["/api/v1/auth"]["post"]["responses"]["4XX"]["description"]
    assert "`approval_already_decided`" in listing
    assert "duo_" not in listing
    assert "`csrf_failed`" not in listing


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/v1/auth/null,null"), ("post", "/api/v1/auth/null,null/cancel"), ("get", "/api/v2/nothing")],
)
def test_an_api_path_that_matches_nothing__problem_details_even_under_debug(settings, debug, method, path):
    settings.DEBUG = debug
    response = getattr(Client(enforce_csrf_checks=True), method)(path)  # a relying service sends no CSRF token
    assert (response.status_code, response["Content-Type"]) == (404, "application/problem+json")
    assert response.json()["code"] == "not_found"


def test_schema__generates_without_warnings(tmp_path):
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_schema__ip_fields_are_ipv4_or_ipv6(schema):
    login_context = schema["components"]["schemas"]["LoginContextRequest"]["properties"]["ip"]
    assert login_context["anyOf"] == [{"format": "ipv4"}, {"format": "ipv6"}]


def test_schema__session_codes_take_the_device_token_or_the_approver_session(schema, settings):
    assert schema["paths"]["/api/v1/device/codes"]["get"]["security"] == [{"deviceToken": []}, {"approverSession": []}]
    cookie = schema["components"]["securitySchemes"]["approverSession"]
    assert (cookie["in"], cookie["name"]) == ("cookie", settings.MFA_APPROVER_COOKIE_NAME)
