#!/usr/bin/env python3
"""Validates a FHIR R4 (4.0.1) Bundle in JSON with an implementation independent of ours.

    validate.py [FILE]        # stdin when FILE is absent or "-"

Exit 0 and a one-line summary when the bundle is valid; exit 1 and every problem found, each
with its path (entry[3].resource.status), when it is not; exit 2 when it cannot be read or the
validator is not set up (install tests/fhir/requirements.txt, which `make deps` does).

Two passes:

1. fhir.resources parses the whole Bundle into its R4 models, every entry's resource into its
   own class: unknown elements, missing required elements, wrong types, two choices of one
   `value[x]`, cardinality.
2. A strict walk of the JSON against those same models, for what pass 1 lets through: values
   of FHIR's primitive types must match the specification's regular expressions in full (pass 1
   accepts `2026-03-29T08:00+02:00` and `1.5` for an integer), codes with a required binding
   must be in their value set, FHIR JSON has no null, empty string, empty array or empty object,
   fullUrls are unique, and every `urn:uuid:` reference resolves to an entry of a type the
   element allows.
"""

import json
import re
import sys
import typing
from collections import Counter

FHIR_VERSION = "4.0.1"
REQUIREMENTS = "tests/fhir/requirements.txt"

try:
    import fhir.resources
    from fhir.resources import fhirtypes, get_fhir_model_class
    from fhir.resources.bundle import Bundle
    from pydantic import ValidationError
    from pydantic.fields import SHAPE_SINGLETON
except ImportError as error:
    sys.exit(f"validate.py: fhir.resources is not installed ({error}); install {REQUIREMENTS}")

if fhir.resources.__fhir_version__ != FHIR_VERSION:
    sys.exit(
        f"validate.py: the installed fhir.resources {fhir.resources.__version__} has FHIR "
        f"{fhir.resources.__fhir_version__} models, not R4 ({FHIR_VERSION}); install {REQUIREMENTS}"
    )

# Required bindings whose code list fhir.resources gives only in part (it ends in "+", as the
# specification's short description does): the whole R4 value set, from the specification.
FULL_CODE_LISTS = {
    # http://hl7.org/fhir/R4/valueset-observation-status.html
    ("Observation", "status"): [
        "registered", "preliminary", "final", "amended",
        "corrected", "cancelled", "entered-in-error", "unknown",
    ],
}

UUID_URL = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INT32 = range(-(2**31), 2**31)


class Checker:
    def __init__(self):
        self.problems = []
        # (path, reference, declared type, allowed types) of every Reference met.
        self.references = []

    def problem(self, path, message):
        self.problems.append(f"{path}: {message}")

    def element(self, value, klass, path, allowed=None):
        """`value`, a JSON object, as an instance of model `klass` (a Reference: to `allowed`)."""
        if not isinstance(value, dict):
            self.problem(path, f"must be a JSON object ({klass.__name__}), not {json.dumps(value)[:60]}")
            return
        if not value:
            self.problem(path, "empty object (FHIR JSON has none)")
            return
        # `fhir_comments` and `resource_type` are the library's, not FHIR elements.
        fields = {f.alias: f for f in klass.__fields__.values() if f.alias not in ("fhir_comments", "resource_type")}
        for key, item in value.items():
            here = f"{path}.{key}" if path else key
            if key == "resourceType":
                continue
            field = fields.get(key)
            if field is None:
                self.problem(here, f"no such element in {klass.__name__}")
                continue
            if field.shape == SHAPE_SINGLETON:
                self.value(item, field, klass, here)
            elif not isinstance(item, list):
                self.problem(here, "must be a JSON array (the element repeats)")
            elif not item:
                self.problem(here, "empty array (FHIR JSON has none)")
            else:
                for i, each in enumerate(item):
                    # Only the `_element` arrays of repeating primitives may hold nulls.
                    if each is None and key.startswith("_"):
                        continue
                    self.value(each, field, klass, f"{here}[{i}]")
        if klass.__name__ == "Reference":
            self.references.append((path, value.get("reference"), value.get("type"), allowed))
        if klass.__name__ == "Period":
            start, end = value.get("start"), value.get("end")
            if isinstance(start, str) and isinstance(end, str) and len(start) == len(end) and end < start:
                self.problem(path, f"per-1: start {start} is after end {end}")
        if klass.__name__ == "ContactPoint" and "value" in value and "system" not in value:
            self.problem(path, "cpt-2: a value needs a system")

    def value(self, item, field, owner, path):
        if item is None or item == "" or item == {} or item == []:
            self.problem(path, f"empty value {json.dumps(item)} (FHIR JSON has none)")
            return
        kind = field.type_
        # Optional[T] in lists of primitives that may have gaps (`line`, `_line`): T.
        kind = next((a for a in typing.get_args(kind) if a is not type(None)), kind)
        if kind is bool:
            # Some booleans (asNeededBoolean …) are typed as Python's bool, which takes "yes".
            if not isinstance(item, bool):
                self.problem(path, f"must be true or false, not {json.dumps(item)}")
        elif isinstance(kind, type) and issubclass(kind, fhirtypes.Primitive):
            self.primitive(item, kind, field, owner, path)
        elif isinstance(kind, type) and issubclass(kind, fhirtypes.AbstractBaseType):
            # Resource or Element: the JSON says which.
            name = item.get("resourceType") if isinstance(item, dict) else None
            try:
                klass = get_fhir_model_class(name)
            except (KeyError, TypeError):
                self.problem(path, f"unknown resourceType {name!r}")
                return
            self.element(item, klass, path)
        elif isinstance(kind, type) and issubclass(kind, fhirtypes.AbstractType):
            klass = get_fhir_model_class(kind.__resource_type__)
            self.element(item, klass, path, field.field_info.extra.get("enum_reference_types"))
        else:
            self.problem(path, f"unexpected element type {kind!r}")

    def primitive(self, item, kind, field, owner, path):
        name = kind.__name__
        if name == "Boolean":
            if not isinstance(item, bool):
                self.problem(path, f"must be true or false, not {json.dumps(item)}")
            return
        if name in ("Integer", "UnsignedInt", "PositiveInt"):
            low = {"Integer": -(2**31), "UnsignedInt": 0, "PositiveInt": 1}[name]
            if isinstance(item, bool) or not isinstance(item, int) or item not in INT32 or item < low:
                self.problem(path, f"must be a JSON number that is an {name[0].lower()}{name[1:]}, not {json.dumps(item)}")
            return
        if name == "Decimal":
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                self.problem(path, f"must be a JSON number, not {json.dumps(item)}")
            return
        if not isinstance(item, str):
            self.problem(path, f"must be a JSON string ({name}), not {json.dumps(item)}")
            return
        if item != item.strip() and name not in ("Markdown", "Xhtml"):
            self.problem(path, "has leading or trailing whitespace")
        regex = getattr(kind, "regex", None)
        if regex is not None and not re.fullmatch(regex.pattern.lstrip("^").rstrip("$"), item):
            self.problem(path, f"{item!r} is not a valid FHIR {name[0].lower()}{name[1:]}")
        if name == "Id" and len(item) > 64:
            self.problem(path, "an id has at most 64 characters")
        codes = field.field_info.extra.get("enum_values")
        if codes:
            if "+" in codes:
                codes = FULL_CODE_LISTS.get((owner.__name__, field.name))
                if codes is None:
                    self.problem(path, f"no complete code list known for {owner.__name__}.{field.alias}: add it to FULL_CODE_LISTS")
                    return
            if item not in codes:
                self.problem(path, f"{item!r} is not one of {' | '.join(codes)}")

    def bundle(self, bundle):
        self.element(bundle, get_fhir_model_class("Bundle"), "")
        types = {}
        for i, entry in enumerate(bundle.get("entry") or []):
            if not isinstance(entry, dict):
                continue
            url = entry.get("fullUrl")
            resource = entry.get("resource") if isinstance(entry.get("resource"), dict) else {}
            if url is None:
                self.problem(f"entry[{i}]", "has no fullUrl")
                continue
            if url in types:
                self.problem(f"entry[{i}].fullUrl", f"{url} is not unique (bdl-7)")
            if url.startswith("urn:uuid:") and not UUID_URL.fullmatch(url):
                self.problem(f"entry[{i}].fullUrl", f"{url} is not urn:uuid: and a lower-case UUID")
            types[url] = resource.get("resourceType")
        for path, reference, declared, allowed in self.references:
            if not isinstance(reference, str):
                continue
            if reference.startswith("urn:uuid:"):
                target = types.get(reference)
                if target is None:
                    self.problem(path, f"{reference} is not the fullUrl of any entry")
                    continue
                if allowed and "Resource" not in allowed and target not in allowed:
                    self.problem(path, f"refers to a resource of type {target}; this element allows {' | '.join(allowed)}")
                if declared is not None and declared != target:
                    self.problem(path, f"says type {declared} but refers to a resource of type {target}")


def loc(parts):
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "__root__":
            out += f".{part}" if out else str(part)
    return out or "(bundle)"


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source = argv[1] if len(argv) == 2 and argv[1] != "-" else "<stdin>"
    try:
        text = sys.stdin.read() if source == "<stdin>" else open(source, encoding="utf-8").read()
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        print(f"{source}: cannot read a JSON document: {error}", file=sys.stderr)
        return 2
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        print(f"{source}: not a FHIR Bundle (resourceType must be \"Bundle\")", file=sys.stderr)
        return 1

    problems = []
    try:
        Bundle.parse_obj(data)
    except ValidationError as error:
        for e in error.errors():
            problems.append(f"{loc(e['loc'])}: {e['msg']} [fhir.resources]")
    checker = Checker()
    checker.bundle(data)
    problems += checker.problems
    if problems:
        print(f"{source}: not a valid FHIR R4 ({FHIR_VERSION}) Bundle, {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1

    entries = data.get("entry") or []
    counts = Counter(e["resource"]["resourceType"] for e in entries if "resource" in e)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    print(
        f"valid FHIR R4 ({FHIR_VERSION}) Bundle ({data.get('type')}), {len(entries)} entries: "
        f"{summary or 'none'} [fhir.resources {fhir.resources.__version__}]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
