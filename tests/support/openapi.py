"""Validate simulator responses against the vendors' official OpenAPI 3.0 descriptions.

    spec = OpenAPISpec.load(vendor_spec("github", "api.github.com.subset.json"))
    spec.validate("/repos/{owner}/{repo}/pulls", "get", 200, body)

Uses openapi-schema-validator's OAS 3.0 validator (plain jsonschema ignores `nullable`).
`$ref`s resolve against the whole document, so component schemas are found where they live.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

DOC_URI = "urn:vendor-spec"


class OpenAPISpec:
    """One loaded OpenAPI document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = DRAFT4.create_resource(document)
        self.registry: Registry = Registry().with_resource(DOC_URI, resource)

    @staticmethod
    @cache
    def load(path: Path) -> OpenAPISpec:
        """Load a JSON or YAML OpenAPI document (cached per path)."""
        text = path.read_text()
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        return OpenAPISpec(document)

    def response_schema(self, path: str, method: str, status: int | str) -> dict[str, Any]:
        """The JSON schema of a documented response (fails the test if undocumented)."""
        operation = self.document["paths"][path][method.lower()]
        responses = operation["responses"]
        response = responses.get(str(status)) or responses.get("default")
        assert response is not None, f"{method.upper()} {path} documents no {status} response"
        if "$ref" in response:
            response = self.resolve(response["$ref"])
        content = response.get("content", {})
        media = content.get("application/json") or next(iter(content.values()), None)
        assert media is not None, f"{method.upper()} {path} {status} has no JSON content"
        schema: dict[str, Any] = media["schema"]
        return schema

    def resolve(self, ref: str) -> dict[str, Any]:
        """Follow a local `#/…` reference."""
        node: Any = self.document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return dict(node)

    def schema(self, ref: str) -> dict[str, Any]:
        """A schema by its reference, e.g. '#/components/schemas/pull-request-simple'."""
        return {"$ref": DOC_URI + ref}

    def validate(self, path: str, method: str, status: int | str, body: Any) -> None:
        """Assert `body` is valid for the documented response (raises ValidationError)."""
        self.validate_schema(self.response_schema(path, method, status), body)

    def validate_schema(self, schema: dict[str, Any], body: Any) -> None:
        """Assert `body` is valid for a schema taken from this document."""
        rooted = {"$ref": DOC_URI + "#/__schema__"}
        document = dict(self.document)
        document["__schema__"] = schema
        registry = Registry().with_resource(DOC_URI, DRAFT4.create_resource(document))
        OAS30Validator(rooted, registry=registry).validate(body)
