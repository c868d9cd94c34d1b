"""The versioned JSON interface (issue 26.4): every --json document names its schema and version, and the
JSON Schema of that version ships in the package.  tests/support/launcher.py validates every JSON document
the suite's jenv runs print (the summary line counts them); these are the table's own checks."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from jenv.lite.schema import VERSIONS, document, schema_id

SCHEMAS = Path(__file__).resolve().parents[2] / "jenv" / "data" / "schemas"


def test_every_kind_has_its_schema_file_and_every_file_a_kind():
    files = {path.name for path in SCHEMAS.glob("*.json")}
    assert files == {f"jenv.{kind}.v{version}.json" for kind, version in VERSIONS.items()}
    for kind, version in VERSIONS.items():
        schema = json.loads((SCHEMAS / f"jenv.{kind}.v{version}.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == schema_id(kind) and schema["properties"]["schema"] == {"const": schema_id(kind)}


def test_the_schema_comes_first():
    assert list(document("token", {"results": []})) == ["schema", "results"]


def test_a_change_of_shape_without_a_new_version_fails():
    """The negative twins: a field added, one missing, one of another type, or an old version's name."""
    schema = json.loads((SCHEMAS / "jenv.token.v1.json").read_text())
    good = document("token", {"results": [{"tokencert": "/tmp/c", "tokenkey": "/tmp/k"}]})
    jsonschema.validate(good, schema)
    for bad in (dict(good, extra=1), {"schema": good["schema"]}, dict(good, results=[{"tokencert": 1, "tokenkey": None}]),
                dict(good, schema="jenv.token/0")):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
