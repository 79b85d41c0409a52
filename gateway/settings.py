"""Every setting the gateway reads from its environment, typed and described, in one place.

Settings are ``EHE_<NAME>`` environment variables, read by pydantic-settings into ``Settings``;
code reads them as ``settings().<name>``. No other module reads ``os.environ``. Two families of
settings are named per source, so they cannot be fields; each is read by one function here:
``EHE_SOURCE_<SOURCE>_<KEY>`` (``source_setting``: a source's path, URL or API settings) and
``EHE_STALE_AFTER_HOURS_<SOURCE>`` (``stale_after_hours_override``). ``docs/configuration.md``
lists them all (``ehe-gateway settings --markdown`` writes it; a test keeps it up to date).

``settings()`` builds the object once and again only when one of its variables has changed (a
test's ``monkeypatch.setenv``, say): a call costs a look-up per variable, not a validation.
"""

from __future__ import annotations

import functools
import os
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.errors import FatalConfigError

PREFIX = "EHE_"
SOURCE_PREFIX = "EHE_SOURCE_"
STALE_PREFIX = "EHE_STALE_AFTER_HOURS_"
# Environment variables the gateway sets for the libraries it uses (never read back).
LIBRARY_ENVIRONMENT = {"GX_ANALYTICS_ENABLED": "False"}
# The demo's own identity provider (``gateway.access.tokens.LocalIssuer``) and audience.
LOCAL_ISSUER = "urn:ehe-gateway:local-issuer"
DEFAULT_AUDIENCE = "ehe-gateway"
# The MLLP listener's limits when neither its caller nor the environment sets them.
MLLP_IDLE_TIMEOUT_S = 600.0
MLLP_MAX_CONNECTIONS = 32
# How much each caseload concern weighs (``gateway.lookup.caseload``), and why. A child's score
# is the sum of its concerns' weights; the bands are cut at ``caseload_act_now_score`` and
# ``caseload_check_score``. The concerns marked "act now" put a child in that band whatever the
# score (``caseload.ACT_NOW``).
CASELOAD_WEIGHTS = {
    # act now: a plan says a child is at risk or in need now; an officer must know first.
    "plan_now": 8,
    "looked_after_now": 8,
    # act now: taken off roll while social care had the case open (a known safeguarding risk).
    "removed_while_open": 8,
    # act now: no agency has seen the child for the act-now window and no GP is known.
    "unseen_no_gp": 8,
    # check: known to social care before leaving roll, the case now closed.
    "removed_while_known": 4,
    # check: nobody has seen the child for the page's window (GP known).
    "unseen": 4,
    # check: unseen in its own records, seen only in a possible match waiting for review.
    "possibly_seen": 4,
    # check: what an agency knows is held back (held record, possible match waiting).
    "held_record": 3,
    "review_pair": 2,
    "open_no_plan": 3,
    "missing_education": 3,
    # routine: history and gaps that matter only beside something else.
    "plan_before": 2,
    "looked_after_before": 1,
    "cin_before": 1,
    "no_gp": 1,
}


def _setting(default: Any, description: str, shown: str | None = None) -> Any:
    """A field with its description; ``shown`` is the default as the docs should say it."""
    if shown is None:
        return Field(default, description=description)
    return Field(default, description=description, json_schema_extra={"shown_default": shown})


class Settings(BaseSettings):
    """The gateway's settings: each field ``name`` is the variable ``EHE_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_ignore_empty=True, extra="ignore", frozen=True
    )

    # Where things live
    data_dir: Path | None = _setting(
        None,
        "The data folder: landing area, staging, extracts, keys, alerts, the SQLite index and "
        "Airflow's metadata of the demo.",
        "data/ in the checkout",
    )
    index_url: str | None = _setting(
        None,
        "SQLAlchemy URL of the index database (PostgreSQL in production).",
        "SQLite file index.sqlite in the data folder",
    )
    landing_dir: Path | None = _setting(
        None,
        "Where received files are kept byte-exact, one folder per source and batch.",
        "landing/ in the data folder",
    )
    staging_dir: Path | None = _setting(
        None,
        "Where validated canonical records wait, one file per batch, to be loaded.",
        "staging/ in the data folder",
    )
    inbox: Path | None = _setting(
        None,
        "Where agencies' files arrive: each file source reads its folder under it (the demo "
        "writes the synthetic population there).",
        "inbox/ in the data folder",
    )
    reports_dir: Path | None = _setting(
        None,
        "Where scheduled reports are written (the validation report in validation/).",
        "reports/ in the data folder",
    )
    mllp_dir: Path | None = _setting(
        None,
        "The MLLP listener's message store (HL7 v2 messages received over TCP).",
        "mllp/ in the data folder",
    )
    agreements_dir: Path | None = _setting(
        None,
        "The folder of data sharing agreements (YAML) the access policy reads.",
        "agreements/ in the checkout",
    )
    # Loading
    max_held_share: float = _setting(
        0.5,
        "A batch with more than this share of its records held for serious failures is stopped "
        "whole, nothing of it loaded.",
    )
    gate_min_records: int = _setting(
        20,
        "Batches with fewer records than this are judged record by record: the held-share and "
        "empty-column gates do not stop them (one right hold in a one-record file is not a "
        "broken delivery).",
    )
    db_pool_size: int = _setting(
        20, "Index database connections kept per process (the API's concurrent requests)."
    )
    log_level: str = _setting("INFO", "Log level of the gateway's own loggers (DEBUG, INFO...).")
    # Access
    oidc_issuer: str = _setting(
        LOCAL_ISSUER,
        "Issuer (iss) the API accepts in bearer tokens; the local issuer signs the demo's.",
    )
    oidc_audience: str = _setting(DEFAULT_AUDIENCE, "Audience (aud) the API requires in tokens.")
    oidc_jwks_url: str | None = _setting(
        None,
        "Identity provider's JWKS URL; unset, the gateway is its own local issuer (demo).",
    )
    oidc_client_id: str | None = _setting(
        None,
        "The gateway's client id at the identity provider (web sign-in by OpenID Connect "
        "authorisation code with PKCE; EHE_OIDC_ISSUER names the provider).",
        "unset (no OpenID Connect sign-in)",
    )
    oidc_client_secret: SecretStr | None = _setting(
        None, "The gateway's client secret at the identity provider (never logged).", "unset"
    )
    oidc_discovery_url: str | None = _setting(
        None,
        "Where the gateway reads the provider's discovery document when the issuer's URL is "
        "not reachable from it (a container network: http://keycloak:8080/realms/ehe/.well-"
        "known/openid-configuration); the document must still name EHE_OIDC_ISSUER.",
        "<EHE_OIDC_ISSUER>/.well-known/openid-configuration",
    )
    oidc_scopes: str = _setting("openid profile", "Scopes the web sign-in asks for.")
    oidc_redirect_url: str | None = _setting(
        None,
        "The sign-in callback URL registered at the identity provider (https://host/auth/"
        "callback); set it behind a proxy.",
        "derived from the request",
    )
    oidc_user_claim: str = _setting(
        "preferred_username",
        "Claim naming the person in the audit log (falls back to sub when absent).",
    )
    oidc_role_claim: str = _setting(
        "role",
        "Claim holding the person's role: a dotted path reaches a nested claim "
        "(realm_access.roles in Keycloak); a list must map to exactly one gateway role.",
    )
    oidc_role_map: dict[str, str] = _setting(
        {},
        'JSON map of the role claim\'s values to gateway roles ({"EHE.Officer": '
        '"ehe_officer"}); values not in it are refused. Empty: the claim holds role codes.',
        "empty (role codes as they are)",
    )
    oidc_organisation_claim: str = _setting(
        "organisation", "Claim holding the person's organisation (dotted path allowed)."
    )
    oidc_organisation_map: dict[str, str] = _setting(
        {},
        "JSON map of the organisation claim's values (a group, a tenant id) to the "
        "organisation names agreements use; values not in it are refused. Empty: as they are.",
        "empty (names as they are)",
    )
    demo_mode: bool = _setting(
        False,
        "Passwordless sign-in as a demo user (access/demo_users.yaml), non-Secure cookies; "
        "`ehe-gateway serve` refuses it on an address other than loopback.",
    )
    session_max_minutes: int = _setting(
        480,
        "Longest a token or web session is accepted, whatever its exp says: a token whose "
        "lifetime (exp - iat) or age since sign-in is longer is refused.",
    )
    session_idle_minutes: int = _setting(
        30, "A web session with no page shown for this long has ended (sign in again)."
    )
    break_glass_minutes: int = _setting(
        60, "How long a break-glass override stays open for its child and purpose."
    )
    rate_limit_per_minute: float = _setting(
        120.0, "API requests a user may make per minute (token bucket refill rate)."
    )
    rate_limit_burst: int = _setting(30, "API requests a user may make at once (bucket size).")
    rate_limit_storage: str = _setting(
        "",
        "Where rate limits are counted: redis://... for one count per user across API "
        "workers; empty or memory:// counts in each worker process.",
        "empty (each worker process)",
    )
    api_workers: int | None = _setting(
        None, "API worker processes of `ehe-gateway serve`.", "one per CPU core"
    )
    audit_signing_key: Path | None = _setting(
        None,
        "The PEM file of the Ed25519 key that signs audit checkpoints (`ehe-gateway audit "
        "keygen` makes one); kept outside the database. The hourly DAG audit__checkpoint "
        "fails, naming this setting, while it is unset.",
        "unset (no checkpoints signed)",
    )
    audit_checkpoints: Path | None = _setting(
        None,
        "The file signed audit checkpoints are appended to (put it on append-only storage); "
        "the hourly DAG audit__checkpoint and `ehe-gateway audit checkpoint` write it.",
        "unset",
    )
    mllp_idle_timeout_s: float = _setting(
        MLLP_IDLE_TIMEOUT_S,
        "Seconds without a byte before the MLLP listener closes a connection (0: never).",
    )
    mllp_max_connections: int = _setting(
        MLLP_MAX_CONNECTIONS,
        "Connections the MLLP listener serves at once; one more is closed when accepted.",
    )
    # The EHE caseload
    caseload_weights: dict[str, int] = _setting(
        CASELOAD_WEIGHTS,
        "Weight of each caseload concern (JSON object; a missing key keeps its default). Plans "
        "now, looked after now, removed from roll while open to social care, and unseen with "
        "no GP weigh 8: each alone means act now. Removed while known before, unseen, and "
        "unseen but seen in a possible match waiting for review weigh "
        "4, held records, open cases without a plan and missing education 3, a possible match "
        "waiting 2: together they call for a check. Past involvement and no GP weigh 1 or 2: "
        "routine unless something else is wrong.",
        "see gateway/settings.py CASELOAD_WEIGHTS",
    )
    caseload_act_now_score: int = _setting(
        8, "A caseload score at or above this puts the child in the band 'act now'."
    )
    caseload_check_score: int = _setting(
        3, "A caseload score at or above this (below act now) puts the child in the band 'check'."
    )
    caseload_act_now_unseen_months: int = _setting(
        6, "Months unseen by any agency that, with no GP known, put a child in 'act now'."
    )
    caseload_page_size: int = _setting(25, "Children on one page of the caseload.")
    # Orchestration
    dag_retries: int = _setting(
        3, "Retries of a DAG task after a retriable failure (`ehe-gateway run-dags` sets 0)."
    )
    dag_retry_delay_s: int = _setting(
        120, "First delay before a DAG task is retried, in seconds (then exponential backoff)."
    )
    extract_timeout_min: int = _setting(
        30, "Time limit of an ingest DAG's land task (reading the source), in minutes."
    )
    dag_workers: int | None = _setting(
        None,
        "Airflow processes `ehe-gateway run-dags` runs ingest DAGs in, side by side.",
        "one per CPU core, at most two",
    )
    arrival_deadline_hours: float = _setting(
        2.0,
        "Hours after an ingest DAG run's scheduled time by which it should have loaded its "
        "batches; a run later than this raises a `late_arrival` alert (Airflow deadline alert). "
        "0: no deadline (Airflow 3.3.2's `airflow dags test` fails a DAG that has one).",
    )
    run_dags_timeout_s: int = _setting(
        3600, "Time limit of a whole `ehe-gateway run-dags`, in seconds."
    )
    today: date | None = _setting(
        None,
        "Act as if it were this day (YYYY-MM-DD) in every decision that depends on the date "
        "(agreements in force, who counts as unseen), for a whole process: replays, and tests "
        "that start the gateway as a subprocess. Audit times stay on the real clock.",
        "unset (the real date)",
    )
    step_timings: Path | None = _setting(
        None,
        "A file each DAG step appends its start and duration to (JSON lines; the Airflow "
        "benchmark sets it).",
        "unset (not recorded)",
    )


# The variable of each field, in field order: what ``settings()`` compares between calls.
VARIABLES: tuple[str, ...] = tuple(PREFIX + name.upper() for name in Settings.model_fields)


def settings() -> Settings:
    """The settings in force: made again only if one of their variables changed."""
    return _settings_for(tuple(map(os.environ.get, VARIABLES)))


@functools.lru_cache(maxsize=8)
def _settings_for(values: tuple[str | None, ...]) -> Settings:
    try:
        return Settings()
    except ValidationError as exc:  # name the variable and the problem, never the value
        problems = "; ".join(
            f"{PREFIX}{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise FatalConfigError(f"invalid setting: {problems}") from None


def source_setting(source: str, key: str) -> str | None:
    """``EHE_SOURCE_<SOURCE>_<KEY>``: one setting of one source (``path``, ``url``, or a key
    an API connector names in ``env_config``, such as ``client_secret``); None if unset."""
    return os.environ.get(f"{SOURCE_PREFIX}{source.upper()}_{key.upper()}") or None


def stale_after_hours_override(source: str) -> float | None:
    """``EHE_STALE_AFTER_HOURS_<SOURCE>``: the source's freshness threshold, if overridden."""
    name = f"{STALE_PREFIX}{source.upper()}"
    hours = os.environ.get(name)
    if not hours:
        return None
    try:
        return float(hours)
    except ValueError:
        raise FatalConfigError(f"invalid setting: {name} is not a number of hours") from None


def set_library_environment() -> None:
    """Set what the libraries the gateway uses read from the environment (GX's telemetry off),
    unless the deployment set it."""
    for name, value in LIBRARY_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def process_environment() -> dict[str, str]:
    """A copy of this process's environment, for a child process (Airflow's CLI) to start in."""
    return dict(os.environ)
