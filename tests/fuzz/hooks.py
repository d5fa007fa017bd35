"""Schemathesis hooks for scripts/fuzz.sh: who the fuzzer is signed in as.

Three accounts, each a Bearer access token obtained through the API itself:

* ``user``: a freshly signed-up STUDENT (POST /v1/auth/signup, then POST /v1/auth/login); every
  bearer operation not listed below runs as this account.
* ``admin``: the dev seed's ``admin@example.com`` (SEED_DEMO_ACCOUNTS=true) for the ADMIN
  operations (``/v1/admin/...`` and the catalogue's writes).
* ``destructive``: a second fresh STUDENT for what ends its own sessions or account (sign out
  everywhere, revoke a session, change the password, delete the account), so the main account's
  token stays alive and the other operations reach past authentication.

Operations on one tracker entry (``/v1/tracker/<kind>/{id}``) get, in every other valid case, the
id of an entry the main account really has (created here through the API, again once deleted), so
that they reach past the 404 and replace, read or delete something.

The operations that prove the account's password (delete the account, change the password) get
the right one in their positive cases, so that they reach past the password check.

A token that stops working (its session was ended, the account disabled or deleted) answers 401;
Schemathesis then drops every cached token and replays the request once (``retry_on`` 401, its
default), and ``get`` below signs in again, or signs up a new account if signing in fails.
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid

import requests
import schemathesis

BASE_URL = os.environ.get("FUZZ_BASE_URL", "http://127.0.0.1:9100").rstrip("/")
# Strong enough for the password policy (length, classes, not the email, not common).
PASSWORD = "Fz-" + uuid.uuid4().hex[:12] + "-q7!K"
RUN = uuid.uuid4().hex[:8]
ADMIN = ("admin@example.com", "Admin123!")  # functions/auth/src/seed.rs

DESTRUCTIVE_OPERATIONS = ("logout_all", "revoke_session", "change_password", "delete_me")
ADMIN_OPERATIONS = (
    "list_users",
    "update_user",
    "add_catalog_entry",
    "edit_catalog_entry",
    "retire_catalog_entry",
)

_counter = itertools.count(1)
# The main account's current access token (for the fixtures below) and its entries, by kind.
_USER: dict[str, str] = {}
_FIXTURES: dict[str, str] = {}
_lock = threading.Lock()
# Signed in, signed up: for the figures scripts/fuzz.sh prints.
STATS = {"logins": 0, "signups": 0}


def _post(path: str, body: dict) -> requests.Response:
    return requests.post(f"{BASE_URL}{path}", json=body, timeout=30)


def _login(email: str, password: str) -> str | None:
    response = _post("/v1/auth/login", {"email": email, "password": password})
    with _lock:
        STATS["logins"] += 1
    if response.status_code != 200:
        return None
    body = response.json()
    # An account with MFA on gets `mfa_required` and no access token: not usable here.
    return body.get("access_token")


class _Account:
    """A fresh STUDENT account, signed up on first use and again whenever signing in fails."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.email: str | None = None

    def _signup(self) -> None:
        email = f"fuzz-{self.label}-{RUN}-{next(_counter)}@example.com"
        response = _post("/v1/auth/signup", {"name": f"Fuzz {self.label}", "email": email, "password": PASSWORD})
        if response.status_code != 201:
            raise RuntimeError(f"signup of {email} answered {response.status_code}: {response.text[:300]}")
        with _lock:
            STATS["signups"] += 1
        self.email = email

    def token(self) -> str:
        if self.email is not None:
            token = _login(self.email, PASSWORD)
            if token:
                return token
        # First use, or the account was deleted, disabled, locked or its password changed.
        self._signup()
        token = _login(self.email, PASSWORD)
        if not token:
            raise RuntimeError(f"cannot sign in as the new account {self.email}")
        return token


def _needs_bearer(ctx) -> bool:
    """Whether the operation documents a security requirement (public ones get no token)."""
    return bool(ctx.operation.definition.raw.get("security"))


def _set_bearer(case, token: str) -> None:
    case.headers = case.headers or {}
    case.headers["Authorization"] = f"Bearer {token}"


@schemathesis.auth().apply_to(operation_id=list(ADMIN_OPERATIONS))
class AdminAuth:
    def get(self, case, ctx):
        token = _login(*ADMIN)
        if not token:
            raise RuntimeError("cannot sign in as admin@example.com: is SEED_DEMO_ACCOUNTS=true?")
        return token

    def set(self, case, data, ctx):
        _set_bearer(case, data)


@schemathesis.auth().apply_to(operation_id=list(DESTRUCTIVE_OPERATIONS))
class DestructiveAuth:
    account = _Account("destructive")

    def get(self, case, ctx):
        return self.account.token()

    def set(self, case, data, ctx):
        _set_bearer(case, data)


@schemathesis.auth().apply_to(_needs_bearer).skip_for(operation_id=list(ADMIN_OPERATIONS + DESTRUCTIVE_OPERATIONS))
class UserAuth:
    account = _Account("user")

    def get(self, case, ctx):
        token = self.account.token()
        with _lock:
            _USER["token"] = token
            _FIXTURES.clear()
        return token

    def set(self, case, data, ctx):
        _set_bearer(case, data)


# Operation id → the body field that must hold the account's current password.
PASSWORD_FIELDS = {"delete_me": "password", "change_password": "current_password"}


# Entries of the main account that the `{id}` operations work on: kind → a valid body.
_DAY = "2024-03-01"
_FIXTURE_BODIES = {
    "medications": {
        "name": "Fuzz Metformin",
        "dose": 1,
        "unit": "tablet",
        "schedule": {"times": ["08:00"]},
        "start_date": _DAY,
    },
    "symptoms": {"name": "Headache", "severity": 3, "occurred_at": f"{_DAY}T08:00:00Z"},
    "allergies": {"substance": "Penicillin", "severity": "mild"},
    "conditions": {"name": "Asthma", "status": "active"},
    "doctors": {"name": "Dr Fuzz"},
}
_uses = itertools.count()


def _fixture(kind: str) -> str | None:
    """The id of an entry of `kind` the main account has, created when there is none."""
    token = _USER.get("token")
    if token is None:
        return None
    with _lock:
        if kind in _FIXTURES:
            return _FIXTURES[kind]
    body = _FIXTURE_BODIES.get(kind)
    if kind == "doses":
        medication = _fixture("medications")
        if medication is None:
            return None
        body = {"medication_id": medication, "taken_at": f"{_DAY}T08:05:00Z", "dose": 1, "status": "taken"}
    if body is None:
        return None
    response = requests.post(
        f"{BASE_URL}/v1/tracker/{kind}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    if response.status_code != 201:
        return None
    with _lock:
        _FIXTURES[kind] = response.json()["id"]
        return _FIXTURES[kind]


def _tracker_kind(case) -> str | None:
    parts = case.operation.path.strip("/").split("/")
    if len(parts) == 4 and parts[:2] == ["v1", "tracker"] and parts[3] == "{id}":
        return parts[2]
    return None


def _is_positive(case) -> bool:
    generation = getattr(getattr(case, "meta", None), "generation", None)
    return getattr(generation, "mode", None) == "positive"


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """Real ids and the right password where a valid case would give them.

    After a successful password change the account's password is no longer PASSWORD: the next
    call answers 401, Schemathesis signs in again, which fails, and a new account is signed up.
    """
    if not _is_positive(case):
        return
    kind = _tracker_kind(case)
    if kind is not None and kind in (*_FIXTURE_BODIES, "doses") and next(_uses) % 2 == 0:
        entry = _fixture(kind)
        if entry is not None:
            case.path_parameters = {**(case.path_parameters or {}), "id": entry}
    field = PASSWORD_FIELDS.get(case.operation.definition.raw.get("operationId"))
    if field is not None and isinstance(case.body, dict) and isinstance(case.body.get(field), str):
        case.body[field] = PASSWORD


@schemathesis.hook
def after_call(ctx, case, response):
    """A deleted fixture is created again on its next use."""
    kind = _tracker_kind(case)
    if kind is not None and case.method.upper() == "DELETE" and response.status_code == 204:
        with _lock:
            if _FIXTURES.get(kind) == (case.path_parameters or {}).get("id"):
                del _FIXTURES[kind]
