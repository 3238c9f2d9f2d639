# Copyright: hisguard developers
# Apache License 2.0 (see galaxy.yml)
"""Compliance results and waivers: the pure logic shared by the `compliance_result` action plugin,
the `compliance` callback plugin and the hisguard Python package.

Plain functions over plain data (dicts, lists, strings, dates), no Ansible imports, so they can be
unit-tested and imported from anywhere. Runs on the controller only (PyYAML is needed only by
load_catalog_ids).
"""

from __future__ import annotations

import datetime
import fnmatch
import os

RESULTS_SCHEMA = "hisguard.results/1"

PASS = "pass"
FAIL = "fail"
ERROR = "error"
WAIVED = "waived"
NOT_APPLICABLE = "not_applicable"
STATUSES = (PASS, FAIL, ERROR, WAIVED, NOT_APPLICABLE)
# Statuses a role may report directly, besides passed=true/false.
DIRECT_STATUSES = (ERROR, NOT_APPLICABLE)
# Statuses a valid waiver turns into `waived`.
WAIVABLE = (FAIL, ERROR)
# When one (host, control) has several results, the first status in this order wins.
SEVERITY = (FAIL, ERROR, WAIVED, PASS, NOT_APPLICABLE)

WAIVER_REQUIRED = ("control", "reason", "approver", "ticket", "expires")
WAIVER_TARGETS = ("hosts", "groups")
WAIVER_OPTIONAL = ("id", "note")
WAIVER_FIELDS = WAIVER_REQUIRED + WAIVER_TARGETS + WAIVER_OPTIONAL


class ComplianceError(ValueError):
    """Bad input (catalog, waiver, result arguments); the message says what and where."""


# --------------------------------------------------------------------------- catalog


def _entry_ids(raw):
    """An entry's IDs: `id: P1.3.6`, or a shared entry's `id: {hospital: P3.1.1, agency: P4.1.1}`."""
    if isinstance(raw, str) and raw.strip():
        return [raw.strip()]
    if isinstance(raw, dict) and raw and all(isinstance(v, str) and v.strip() for v in raw.values()):
        return [value.strip() for value in raw.values()]
    return []


def catalog_ids_from_data(data, source="catalog"):
    """The control IDs of a parsed catalog: the `id` (or shared ids) of every entry in `controls:`."""
    if not isinstance(data, dict) or not isinstance(data.get("controls"), list):
        raise ComplianceError(f"{source}: expected a mapping with a `controls:` list")
    ids = set()
    for index, entry in enumerate(data["controls"], start=1):
        found = _entry_ids(entry.get("id")) if isinstance(entry, dict) else []
        if not found:
            raise ComplianceError(f"{source}: entry #{index} of `controls:` has no `id`")
        ids.update(found)
    return frozenset(ids)


def load_catalog_ids(path):
    """Read a catalog YAML file and return its control IDs; ComplianceError naming the file."""
    import yaml  # controller-side only

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: about 9x faster on the catalog
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=loader)  # a safe loader
    except FileNotFoundError:
        raise ComplianceError(f"control catalog {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ComplianceError(f"control catalog {path} cannot be read: {err}") from None
    except yaml.YAMLError as err:
        raise ComplianceError(f"control catalog {path} is not valid YAML: {err}") from None
    return catalog_ids_from_data(data, source=f"control catalog {path}")


_catalog_cache = {}


def catalog_ids(path):
    """load_catalog_ids, cached per file and modification time.

    The compliance callback calls this once in the controller's main process when the playbook starts;
    the workers Ansible forks for every result inherit the cache instead of parsing the catalog again.
    """
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        mtime = -1.0
    cached = _catalog_cache.get(str(path))
    if cached and cached[0] == mtime:
        return cached[1]
    ids = load_catalog_ids(path)
    _catalog_cache[str(path)] = (mtime, ids)
    return ids


def catalog_path(environ=None):
    """The catalog of this collection (controls/catalog.yml); HISGUARD_CATALOG overrides it."""
    environ = os.environ if environ is None else environ
    if environ.get("HISGUARD_CATALOG"):
        return environ["HISGUARD_CATALOG"]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    return os.path.join(root, "controls", "catalog.yml")


# --------------------------------------------------------------------------- tags


def selected_controls(controls, run_tags=None, skip_tags=None, role_tags=()):
    """The controls a role reports under --tags/--skip-tags, in the given order.

    A role reports all its controls in one looped task tagged with all of them; this keeps `--tags
    P1.4.14` reporting P1.4.14 only. Everything is selected when no tags were asked for (`all`),
    with `tagged`, or with one of the role's own tags; `--skip-tags` removes controls.
    """
    run = set(run_tags or ["all"])
    skip = set(skip_tags or [])
    whole = bool(run & ({"all", "tagged"} | set(role_tags or ())))
    return [control for control in controls or [] if (whole or control in run) and control not in skip]


def failed_checks(checks):
    """The messages of a role's failed input checks ({ok, msg} each), in order.

    Each `msg` is read only when its check failed: in Ansible 2.19 reading a value renders its
    template, and one task over the list costs a third of a loop that renders every message.
    """
    return [str(check["msg"]).strip() for check in checks or [] if not _true(check["ok"])]


def _true(value):
    """A check's `ok`: a bool, or the string a template rendered ("True", "false", "yes", ...)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "y", "t", "1")
    return bool(value)


# --------------------------------------------------------------------------- status


def compute_status(passed=None, status=None):
    """The status of one check: from `passed` (bool) or an explicit `status` (error|not_applicable)."""
    if passed is not None and status is not None:
        raise ComplianceError("give either `passed` or `status`, not both")
    if status is not None:
        if status not in DIRECT_STATUSES:
            raise ComplianceError(
                f"`status` must be one of {', '.join(DIRECT_STATUSES)} (got {status!r}); "
                "use `passed: true|false` for pass and fail"
            )
        return status
    if passed is None:
        raise ComplianceError("one of `passed` (true/false) or `status` (error|not_applicable) is required")
    if not isinstance(passed, bool):
        raise ComplianceError(f"`passed` must be true or false (got {passed!r})")
    return PASS if passed else FAIL


def combine_statuses(statuses):
    """One status for several results of the same (host, control): the most severe wins."""
    present = set(statuses)
    for status in SEVERITY:
        if status in present:
            return status
    return NOT_APPLICABLE


def compliance_percent(counts):
    """pass / (pass + fail + error) * 100; waived and not_applicable do not count. None if nothing counted."""
    judged = counts.get(PASS, 0) + counts.get(FAIL, 0) + counts.get(ERROR, 0)
    if not judged:
        return None
    return round(100.0 * counts.get(PASS, 0) / judged, 1)


# --------------------------------------------------------------------------- waivers


def describe_waiver(waiver, index=None):
    """How error messages name a waiver: `waiver #2 (control P1.3.6, ticket OA-118)`."""
    label = "waiver" if index is None else f"waiver #{index}"
    if not isinstance(waiver, dict):
        return label
    details = [f"{key} {waiver[key]}" for key in ("id", "control", "ticket") if waiver.get(key)]
    return f"{label} ({', '.join(details)})" if details else label


def parse_date(value):
    """A waiver's expiry: a date, or a string YYYY-MM-DD. Returns datetime.date or raises ValueError."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        return datetime.date.fromisoformat(value.strip())
    raise ValueError(f"not a date: {value!r}")


def _string_list(value):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        return None
    return [item.strip() for item in value]


def validate_waiver(waiver, index=None, known_ids=None):
    """Check one waiver and return it normalized (expires as 'YYYY-MM-DD', hosts/groups as lists).

    Raises ComplianceError naming the waiver: missing or empty field, neither hosts nor groups,
    a bad date, an unknown field, or a control ID not in known_ids (when given).
    """
    name = describe_waiver(waiver, index)
    if not isinstance(waiver, dict):
        raise ComplianceError(f"{name}: expected a mapping with fields {', '.join(WAIVER_REQUIRED)}")
    unknown = sorted(str(key) for key in waiver if key not in WAIVER_FIELDS)
    if unknown:
        raise ComplianceError(
            f"{name}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(WAIVER_FIELDS)}"
        )
    missing = [key for key in WAIVER_REQUIRED if waiver.get(key) in (None, "")]
    if missing:
        raise ComplianceError(f"{name}: missing field(s) {', '.join(missing)}")
    normalized = {}
    for key in ("control", "reason", "approver", "ticket"):
        value = waiver[key]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # ticket: 1234
        if not isinstance(value, str) or not value.strip():
            raise ComplianceError(f"{name}: `{key}` must be a non-empty string")
        normalized[key] = value.strip()
    if known_ids is not None and normalized["control"] not in known_ids:
        raise ComplianceError(
            f"{name}: unknown control ID {normalized['control']!r} (not in the control catalog)"
        )
    try:
        normalized["expires"] = parse_date(waiver["expires"]).isoformat()
    except ValueError:
        raise ComplianceError(
            f"{name}: `expires` must be a date YYYY-MM-DD (got {waiver['expires']!r})"
        ) from None
    targets = {}
    for key in WAIVER_TARGETS:
        if waiver.get(key) in (None, [], ""):
            continue
        values = _string_list(waiver[key])
        if values is None:
            raise ComplianceError(f"{name}: `{key}` must be a list of names")
        targets[key] = values
    if not targets:
        raise ComplianceError(f"{name}: give `hosts` and/or `groups` (whom the waiver covers)")
    normalized["hosts"] = targets.get("hosts", [])
    normalized["groups"] = targets.get("groups", [])
    for key in WAIVER_OPTIONAL:
        if waiver.get(key) not in (None, ""):
            normalized[key] = str(waiver[key])
    return normalized


def validate_waivers(waivers, known_ids=None):
    """Validate a list of waivers (None means none); returns the normalized list."""
    if waivers is None:
        return []
    if not isinstance(waivers, list):
        raise ComplianceError("waivers must be a list of mappings (hisguard_waivers: [...])")
    return [validate_waiver(waiver, index, known_ids) for index, waiver in enumerate(waivers, start=1)]


def waiver_covers(waiver, control, host, groups):
    """Does a (validated) waiver cover this control on this host? hosts and groups take shell globs."""
    if waiver["control"] != control:
        return False
    if any(fnmatch.fnmatchcase(host, pattern) for pattern in waiver.get("hosts", [])):
        return True
    groups = [*(groups or []), "all"]
    patterns = waiver.get("groups", [])
    return any(fnmatch.fnmatchcase(group, pattern) for pattern in patterns for group in groups)


def waiver_expired(waiver, today):
    """A waiver is valid through its `expires` day and expired from the day after."""
    return parse_date(waiver["expires"]) < today


def apply_waivers(status, control, host, groups, waivers, today):
    """Apply validated waivers to one result's status.

    Returns (status, waiver, expired_waiver): a covering unexpired waiver turns fail/error into
    `waived` and is returned as `waiver`; a covering expired waiver does not waive and is returned
    as `expired_waiver` (when no valid waiver covers the result), so reports can list it.
    """
    covering = [waiver for waiver in waivers if waiver_covers(waiver, control, host, groups)]
    valid = [waiver for waiver in covering if not waiver_expired(waiver, today)]
    expired = [waiver for waiver in covering if waiver_expired(waiver, today)]
    if valid:
        if status in WAIVABLE:
            return WAIVED, valid[0], None
        return status, None, None
    if expired:
        return status, None, expired[0]
    return status, None, None


def build_result(
    host,
    control,
    status,
    observed=None,
    expected=None,
    remediation=None,
    evidence=None,
    waiver=None,
    expired_waiver=None,
    task=None,
    role=None,
    time=None,
):
    """The result record, as the action plugin returns it in `hisguard_result`."""
    if status not in STATUSES:
        raise ComplianceError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    return {
        "host": host,
        "control": control,
        "status": status,
        "observed": observed,
        "expected": expected,
        "remediation": remediation,
        "evidence": dict(evidence or {}),
        "waiver": waiver,
        "expired_waiver": expired_waiver,
        "task": task,
        "role": role,
        "time": time,
    }
