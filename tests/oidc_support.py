"""A real OpenID provider for the sign-in tests: panva's oidc-provider (tests/oidc/), started
on loopback with node, and a person signing in at it over HTTP (its login form).

``npm ci`` in tests/oidc installs it (``.ci/run`` does). Under CI=true a missing node or
package fails the test; elsewhere it skips with the command to run.
"""

from __future__ import annotations

import html
import json
import os
import re
import select
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
from api_server import free_port

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
IN_CI = os.environ.get("CI", "").lower() == "true"
CLIENT_ID = "ehe-gateway"
CLIENT_SECRET = "test-only-client-secret"
# How the test provider's claims map to the gateway's (as a deployment would configure them).
ROLE_MAP = {"ehe-officers": "ehe_officer", "information-governance": "ig_officer"}
ORGANISATION_MAP = {"nyorks": "North Yorkshire Council"}
_FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


@dataclass(frozen=True)
class ProviderUnderTest:
    issuer: str
    redirect_uri: str

    def settings(self) -> dict[str, str]:
        """The gateway's settings for this provider (role and organisation mapped)."""
        return {
            "EHE_OIDC_ISSUER": self.issuer,
            "EHE_OIDC_CLIENT_ID": CLIENT_ID,
            "EHE_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "EHE_OIDC_ROLE_CLAIM": "groups",
            "EHE_OIDC_ROLE_MAP": json.dumps(ROLE_MAP),
            "EHE_OIDC_ORGANISATION_MAP": json.dumps(ORGANISATION_MAP),
        }


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true the sign-in tests must run")
    pytest.skip(reason)


@contextmanager
def oidc_provider(redirect_uri: str) -> Iterator[ProviderUnderTest]:
    """The provider on a free loopback port, its one client redirecting to ``redirect_uri``."""
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        _unavailable("the test provider is not installed: run `npm ci` in tests/oidc")
    port = free_port()
    args = [str(port), CLIENT_ID, CLIENT_SECRET, redirect_uri]
    process = subprocess.Popen(
        [str(node), "provider.mjs", *args],
        cwd=OIDC_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        line = process.stdout.readline() if ready else ""
        assert line.startswith("ready "), f"the test provider did not start: {line!r}"
        yield ProviderUnderTest(line.split()[1], redirect_uri)
    finally:
        process.terminate()
        process.wait(timeout=10)


def log_in_at_provider(authorize_url: str, user: str, redirect_uri: str) -> str:
    """Follow the provider's pages as a browser would, log in as ``user`` on its login form,
    and return the URL it sends the browser back to (the gateway's callback, not opened)."""
    with httpx.Client(timeout=10) as browser:
        url = authorize_url
        for _ in range(10):
            answer = browser.get(url)
            if answer.status_code == 200 and (form := _FORM_ACTION.search(answer.text)):
                fields = {"prompt": "login", "login": user, "password": "any"}
                answer = browser.post(urljoin(url, html.unescape(form.group(1))), data=fields)
            location = answer.headers.get("location")
            assert location, f"the provider stopped at {answer.status_code}"
            url = urljoin(url, location)
            if url.startswith(redirect_uri):
                return url
    raise AssertionError("the provider never sent the browser back")
