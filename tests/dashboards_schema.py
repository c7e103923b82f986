"""Checks Grafana dashboard JSON files against the dashboard schema of
grafana-foundation-sdk (the Python types Grafana generates from its CUE
schema), as far as that library can: run by tests/dashboards.rs.

The SDK's `from_json` reads a dashboard into its model classes (panels by
type, Prometheus queries, field configs, variables) but neither rejects
an unknown key nor checks a value's type. So this script does both:

- Round trip: every key and value of the file must come back from
  `Dashboard.from_json(...).to_json()`. A key the schema does not know
  (a misspelt `gridpos`, an option a panel type does not have) is dropped
  by the model, and reported.
- Types: every attribute of every model object is checked against its
  type hint (str, int, float, bool, enums, literals, lists, unions,
  nested models); a wrong one is reported with its path.

Usage: python3 dashboards_schema.py FILE...; prints each problem and
exits 1 if there is one, prints one line per file checked otherwise.
"""

import enum
import json
import sys
import types
import typing

from grafana_foundation_sdk.cog import encoder, plugins, runtime, variants
from grafana_foundation_sdk.models import dashboard

plugins.register_default_plugins()


def dropped(original, round_trip, path):
    """Paths in `original` that `round_trip` lacks or holds otherwise."""
    if isinstance(original, dict):
        if not isinstance(round_trip, dict):
            return [f"{path}: an object became {round_trip!r}"]
        problems = []
        for key, value in original.items():
            if key not in round_trip:
                problems.append(f"{path}.{key}: not in the schema (dropped on reading)")
            else:
                problems += dropped(value, round_trip[key], f"{path}.{key}")
        return problems
    if isinstance(original, list):
        if not isinstance(round_trip, list) or len(round_trip) != len(original):
            return [f"{path}: a list of {len(original)} became {round_trip!r}"]
        problems = []
        for i, (a, b) in enumerate(zip(original, round_trip)):
            problems += dropped(a, b, f"{path}[{i}]")
        return problems
    if original != round_trip:
        return [f"{path}: {original!r} came back as {round_trip!r}"]
    return []


def type_problems(value, hint, path):
    """Where `value` does not fit the type hint `hint`."""
    origin = typing.get_origin(hint)
    if hint is typing.Any or hint is object:
        # A panel's options and custom field config: typed `object` here,
        # read into the panel type's own model, whose types still apply.
        return model_problems(value, path) if hasattr(value, "to_json") else []
    if origin in (typing.Union, types.UnionType):
        options = [type_problems(value, h, path) for h in typing.get_args(hint)]
        if any(not o for o in options):
            return []
        # The problems of the closest option (a model the value is an
        # instance of, else not null for a value), so that a wrong value
        # deep inside an optional field is named by its own path.
        hints = [h for h in typing.get_args(hint) if h is not type(None) or value is None]
        models = [h for h in hints if isinstance(h, type) and isinstance(value, h)]
        closest = models or hints
        return min((type_problems(value, h, path) for h in closest), key=len)
    if hint is type(None):
        return [] if value is None else [f"{path}: {value!r} is not null"]
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        return [] if value in allowed else [f"{path}: {value!r} is not one of {allowed}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        (item,) = typing.get_args(hint)
        return [p for i, v in enumerate(value) for p in type_problems(v, item, f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        _, item = typing.get_args(hint)
        return [p for k, v in value.items() for p in type_problems(v, item, f"{path}.{k}")]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            hint(value)
            return []
        except ValueError:
            return [f"{path}: {value!r} is not one of {[m.value for m in hint]}"]
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r} is not a number"]
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {value!r} is not an integer"]
    if hint in (str, bool):
        return [] if isinstance(value, hint) else [f"{path}: {value!r} is not a {hint.__name__}"]
    if hint is variants.Dataquery:
        if isinstance(value, runtime.UnknownDataquery):
            return [f"{path}: a query of no known datasource type"]
        return model_problems(value, path)
    if isinstance(hint, type):
        if not isinstance(value, hint):
            return [f"{path}: {value!r} is not a {hint.__name__}"]
        return model_problems(value, path)
    return []


def model_problems(obj, path):
    """Type problems of every annotated attribute of a model object."""
    if not hasattr(obj, "__dict__"):
        return []
    module = sys.modules[type(obj).__module__]
    hints = typing.get_type_hints(type(obj), vars(module))
    problems = []
    for name, hint in hints.items():
        if hasattr(obj, name):
            problems += type_problems(getattr(obj, name), hint, f"{path}.{name}")
    return problems


def check(file):
    with open(file, encoding="utf-8") as f:
        data = json.load(f)
    board = dashboard.Dashboard.from_json(data)
    round_trip = json.loads(json.dumps(board, cls=encoder.JSONEncoder))
    problems = dropped(data, round_trip, "$")
    problems += model_problems(board, "$")
    for i, panel in enumerate(data.get("panels", [])):
        if runtime.panelcfg_config(panel.get("type", "")) is None:
            problems.append(f"$.panels[{i}].type: {panel.get('type')!r} is no panel type of the schema")
    return problems


def main(files):
    failed = False
    for file in files:
        problems = check(file)
        for problem in problems:
            print(f"{file}: {problem}")
        if problems:
            failed = True
        else:
            print(f"{file}: fits the dashboard schema")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
