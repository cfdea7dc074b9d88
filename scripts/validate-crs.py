#!/usr/bin/env python3
"""Validates custom resources against the schemas of their CRDs, offline.

    scripts/validate-crs.py CRDS.yaml MANIFEST.yaml...

Reads the CustomResourceDefinitions in CRDS.yaml, turns each served
version's openAPIV3Schema into a JSON Schema with the API server's rules
(strict field validation: a field the schema does not declare is an error;
`nullable`; `x-kubernetes-preserve-unknown-fields`;
`x-kubernetes-int-or-string`; the ipv4 and ipv6 formats), and checks every
object of those CRDs' groups found in the manifests (several documents a
file, `v1` Lists unpacked). Objects of other groups are skipped. An object
of a known group with an unknown kind or version is an error.

Prints one line per problem, `FILE: document N: Kind/name: FIELD: MESSAGE`,
and exits 1 when there is any; prints a summary and exits 0 otherwise.
Exit 2 for bad usage or unreadable files.

Needs PyYAML and jsonschema (the virtual environment scripts/test.sh makes
in target/venv-k8s has both).
"""

import sys

import jsonschema
import yaml

# The fields of ObjectMeta, which the API server checks strictly too.
METADATA_FIELDS = {
    "annotations", "creationTimestamp", "deletionGracePeriodSeconds",
    "deletionTimestamp", "finalizers", "generateName", "generation", "labels",
    "managedFields", "name", "namespace", "ownerReferences",
    "resourceVersion", "selfLink", "uid",
}

METADATA_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 253},
        "namespace": {"type": "string", "minLength": 1, "maxLength": 63},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        **{field: {} for field in METADATA_FIELDS
           if field not in ("name", "namespace", "labels", "annotations")},
    },
    "required": ["name"],
    "additionalProperties": False,
}

KEPT_FORMATS = {"ipv4", "ipv6"}


def to_json_schema(schema):
    """An OpenAPI v3 structural schema as a JSON Schema (draft 4)."""
    if not isinstance(schema, dict):
        return schema
    out = {}
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    for key, value in schema.items():
        if key.startswith("x-kubernetes-") or key in ("nullable", "description", "default"):
            continue
        if key == "format" and value not in KEPT_FORMATS:
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(child) for name, child in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = (
                [to_json_schema(child) for child in value]
                if isinstance(value, list) else to_json_schema(value)
            )
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(child) for child in value]
        else:
            out[key] = value
    if schema.get("x-kubernetes-int-or-string") is True:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (out.get("type") == "object" and "additionalProperties" not in out
            and not preserve):
        # Strict field validation: undeclared fields are errors.
        out["additionalProperties"] = False
    if schema.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = list(out["enum"]) + [None]
    return out


def root_schema(schema):
    """The object's schema: the CRD's, plus apiVersion, kind and metadata."""
    converted = to_json_schema(schema)
    properties = dict(converted.get("properties", {}))
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = METADATA_SCHEMA
    converted["properties"] = properties
    converted["required"] = sorted(set(converted.get("required", [])) | {"metadata"})
    converted["additionalProperties"] = False
    return converted


def load_documents(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def crd_schemas(path):
    """{(group, version, kind): validator} for every served version."""
    validators = {}
    for crd in load_documents(path):
        if crd.get("kind") != "CustomResourceDefinition":
            continue
        spec = crd["spec"]
        for version in spec["versions"]:
            if not version.get("served", True):
                continue
            schema = version["schema"]["openAPIV3Schema"]
            validators[(spec["group"], version["name"], spec["names"]["kind"])] = (
                jsonschema.Draft4Validator(
                    root_schema(schema),
                    format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER,
                )
            )
    return validators


def field_path(error):
    path = ""
    for part in error.absolute_path:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


def objects(path):
    """(where, object) for every object, Lists unpacked."""
    for number, document in enumerate(load_documents(path), start=1):
        where = f"{path}: document {number}"
        if (isinstance(document, dict) and document.get("apiVersion") == "v1"
                and document.get("kind") == "List"):
            for item_number, item in enumerate(document.get("items") or [], start=1):
                yield f"{where}, item {item_number}", item
        else:
            yield where, document


def main(argv):
    if len(argv) < 3:
        print("usage: validate-crs.py CRDS.yaml MANIFEST...", file=sys.stderr)
        return 2
    try:
        validators = crd_schemas(argv[1])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
        print(f"validate-crs: cannot read the CRDs in {argv[1]}: {e}", file=sys.stderr)
        return 2
    groups = {group for group, _, _ in validators}
    problems = []
    checked = 0
    for path in argv[2:]:
        try:
            found = list(objects(path))
        except OSError as e:
            print(f"validate-crs: cannot read {path}: {e}", file=sys.stderr)
            return 2
        except yaml.YAMLError as e:
            problems.append(f"{path}: not valid YAML: {e}")
            continue
        for where, obj in found:
            if not isinstance(obj, dict):
                problems.append(f"{where}: not an object")
                continue
            api_version = str(obj.get("apiVersion", ""))
            group, _, version = api_version.partition("/")
            if group not in groups:
                continue
            kind = obj.get("kind")
            name = (obj.get("metadata") or {}).get("name", "(no name)")
            label = f"{where}: {kind}/{name}"
            validator = validators.get((group, version, kind))
            if validator is None:
                problems.append(f"{label}: no CRD serves {kind} in {api_version}")
                continue
            checked += 1
            errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
            for error in errors:
                field = field_path(error)
                problems.append(f"{label}: {field + ': ' if field else ''}{error.message}")
    for problem in problems:
        print(problem)
    if problems:
        print(f"validate-crs: {len(problems)} problem(s) in {checked} object(s)", file=sys.stderr)
        return 1
    print(f"validate-crs: {checked} object(s) in {len(argv) - 2} file(s) pass the CRD schemas")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
