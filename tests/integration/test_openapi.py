"""The OpenAPI 3 document of the relying-service and device APIs, and its browsable page."""

from __future__ import annotations

import json

import pytest
import yaml
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
