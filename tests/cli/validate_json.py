#!/usr/bin/python3
"""Validates tool reports against formats/schema/ (JSON Schema draft 2020-12).

    validate_json.py SCHEMA.json REPORT.json...

Each REPORT must be exactly one JSON object that the schema accepts. Prints
every error with its path and exits 1 when any report fails; exit 2 when the
schema itself is not a valid draft 2020-12 schema. Needs Debian's
python3-jsonschema (scripts/deps).
"""
import json
import sys

import jsonschema


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 64
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        print(f"{argv[1]}: not a valid draft 2020-12 schema: {e.message}", file=sys.stderr)
        return 2
    validator = jsonschema.Draft202012Validator(schema)
    failed = 0
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            report = json.loads(text)
        except json.JSONDecodeError as e:
            print(f"{path}: not JSON: {e}", file=sys.stderr)
            failed = 1
            continue
        errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
        for e in errors:
            where = "/".join(str(p) for p in e.absolute_path) or "(top)"
            print(f"{path}: {where}: {e.message}", file=sys.stderr)
        failed |= bool(errors)
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv))
