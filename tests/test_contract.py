"""The connector contract, generated for every connector in the registry.

Each test is parametrised over ``connectors.registry.CONNECTORS``, so a connector added later is
covered without touching this file. A connector reads the synthetic inbox by default; one that
needs something else declares it with ``contract_config`` (and ``broken_config`` for a source
that cannot be read); an API source is served by its loopback fake (``SERVED``), configured
through the environment as on a deployment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from connectors.base import Connector, Extracted, SourceConfig
from connectors.registry import CONNECTORS
from gateway import config
from gateway.errors import FatalConfigError, GatewayError, RetriableSourceError
from gateway.sources import connector_config

SOURCES = sorted(CONNECTORS)


@contextmanager
def _fhir_api() -> Iterator[dict[str, Any]]:
    """A loopback FHIR server holding synthetic Patients and their Encounters."""
    from fakes.fhir_server import FakeFhirServer, encounters_for

    from gateway.synth import patient_resources

    fake = FakeFhirServer()
    patients = patient_resources(40, seed=3)
    fake.put(patients)
    fake.put([e for p in patients[:10] for e in encounters_for(p["id"], 2)])
    with fake.serving():
        yield fake.config()


# Sources that are servers, not files: each with the fake that speaks its protocol.
SERVED: dict[str, Callable[[], AbstractContextManager[dict[str, Any]]]] = {
    "health__fhir_api": _fhir_api,
}


def _connector(source: str, inbox: Path) -> Connector:
    cls = CONNECTORS[source]
    declared = cls.contract_config(inbox)
    return cls(declared if declared is not None else connector_config(source))


@pytest.fixture
def served(source: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Start the source's fake server, if it has one, and point its settings at it."""
    if source not in SERVED:
        yield
        return
    with SERVED[source]() as settings:
        for key, value in settings.items():
            monkeypatch.setenv(f"EHE_SOURCE_{source.upper()}_{key.upper()}", str(value))
        yield


def _run(connector: Connector, work: Path, bookmark: str | None) -> tuple[list[Extracted], Any]:
    extraction = connector.extract(work, bookmark)
    items = [item for path in extraction.files for item in connector.read(path)]
    return items, extraction


@pytest.fixture(params=SOURCES)
def source(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_check_passes_and_discover_declares_streams(source: str, inbox: Path, served: None) -> None:
    connector = _connector(source, inbox)
    connector.check()
    streams = connector.discover()
    assert streams, f"{source}: discover names at least one stream"
    for stream in streams:
        assert stream.name and stream.primary_key
        jsonschema.Draft202012Validator.check_schema(dict(stream.schema))
        assert stream.schema.get("type") == "object"
        assert stream.schema.get("required") or stream.schema.get("minProperties"), (
            f"{source}: a schema that requires nothing catches nothing"
        )


def test_records_match_schema_and_keys_are_unique(
    source: str, inbox: Path, tmp_path: Path, served: None
) -> None:
    connector = _connector(source, inbox)
    stream = connector.stream  # the stream ``parse`` yields (others may be folded into it)
    assert stream in connector.discover()
    validator = jsonschema.Draft202012Validator(dict(stream.schema))
    items, _ = _run(connector, tmp_path / "work", None)
    records = [item for item in items if item.record is not None]
    assert records, f"{source}: the fixture yields records"
    for item in items:
        assert (item.record is None) != (item.error is None), item.position
        if item.record is not None:
            problems = [e.message for e in validator.iter_errors(item.record)][:3]
            assert not problems, f"{source} {item.position}: {problems}"
    assert len({item.position for item in items}) == len(items), "positions identify items"
    keys = Counter(stream.key_of(item.record) for item in records if item.record)
    assert all(all(part not in ("", "null") for part in key) for key in keys), "keys present"
    # The synthetic sources repeat a child's record on purpose (duplicates for linkage), but a
    # source's own key never repeats within one extraction except where the source says so.
    repeated = {key: n for key, n in keys.items() if n > 1}
    assert not repeated, f"{source}: primary key repeated: {len(repeated)} keys"


def test_second_run_from_bookmark_adds_nothing(
    source: str, inbox: Path, tmp_path: Path, index_url: str, served: None
) -> None:
    from gateway.pipeline import land_source
    from gateway.store.engine import session_factory
    from gateway.store.tables import Batch

    connector = _connector(source, inbox)
    stream = connector.stream  # the stream ``parse`` yields (others may be folded into it)
    assert stream in connector.discover()
    first_items, first = _run(connector, tmp_path / "w1", None)
    second_items, second = _run(connector, tmp_path / "w2", first.bookmark)
    first_keys = {stream.key_of(i.record) for i in first_items if i.record}
    second_keys = [stream.key_of(i.record) for i in second_items if i.record]
    # A file source offers the same files again: landing must recognise them (same hash).
    new_keys = [key for key in second_keys if key not in first_keys]
    assert second.bookmark == first.bookmark or new_keys == []
    path, url = _path_and_url(connector)
    land_source(source, path=path, url=url, index_url=index_url)
    with session_factory(index_url)() as session:
        batches = set(session.scalars(Batch.__table__.select().with_only_columns(Batch.batch_id)))
    land_source(source, path=path, url=url, index_url=index_url)
    with session_factory(index_url)() as session:
        again = set(session.scalars(Batch.__table__.select().with_only_columns(Batch.batch_id)))
    assert batches and again == batches, f"{source}: a second run landed new batches"


def test_failing_source_raises_its_error_and_keeps_the_bookmark(
    source: str, tmp_path: Path, index_url: str
) -> None:
    from gateway.pipeline import land_source
    from gateway.pipeline.bookmarks import read_bookmark, save_bookmark
    from gateway.store.engine import session_factory

    cls = CONNECTORS[source]
    broken, error = cls.broken_config(tmp_path)
    assert issubclass(error, (FatalConfigError, RetriableSourceError))
    connector = cls(broken)
    with pytest.raises(error) as raised:
        connector.check()
    _assert_clean_message(str(raised.value), broken)
    with pytest.raises(error):
        connector.extract(tmp_path / "work", "2026-01-01T00:00:00")
    Session = session_factory(index_url)
    with Session.begin() as session:
        save_bookmark(session, source, "2026-01-01T00:00:00")
    path, url = _path_and_url(connector)
    with pytest.raises(error):
        land_source(source, path=path, url=url, index_url=index_url)
    with Session() as session:
        assert read_bookmark(session, source) == "2026-01-01T00:00:00"


def test_config_is_never_shown_and_secrets_are_flagged(
    source: str, inbox: Path, served: None
) -> None:
    cls = CONNECTORS[source]
    connector = _connector(source, inbox)
    assert isinstance(connector.config, SourceConfig)
    shown = repr(connector) + repr(connector.config) + str(connector.config)
    for value in connector.config.values():
        assert str(value) not in shown, f"{source}: a config value is shown"
    assert set(cls.secret_fields) <= set(cls.required_config) | set(connector.config)
    if any(key in ("url", "password", "token", "client_secret") for key in cls.required_config):
        assert cls.secret_fields, f"{source}: a URL or credential must be flagged secret"


def test_missing_required_config_is_fatal(source: str) -> None:
    cls = CONNECTORS[source]
    with pytest.raises(FatalConfigError, match="missing config"):
        # Settings read only when the source is used (an API source's) are checked by check().
        cls({}).check()


def test_secrets_never_appear_in_yaml() -> None:
    """No mapping or other YAML in the checkout sets a key a connector flags secret."""
    secrets = {field for cls in CONNECTORS.values() for field in cls.secret_fields}
    secrets |= {"password", "client_secret", "token"}
    checked = 0
    for path in sorted(config.PROJECT_ROOT.glob("mappings/*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert not (_keys(document) & secrets), f"{path.name} holds a secret field"
        checked += 1
    assert checked >= len(CONNECTORS) - 1


def _keys(document: Any) -> set[str]:
    """Every key at every depth of a YAML document."""
    if isinstance(document, dict):
        return {str(k) for k in document} | {k for v in document.values() for k in _keys(v)}
    if isinstance(document, list):
        return {k for v in document for k in _keys(v)}
    return set()


def _path_and_url(connector: Connector) -> tuple[str | None, str | None]:
    return connector.config.get("path"), connector.config.get("url")


def _assert_clean_message(message: str, broken: dict[str, Any]) -> None:
    assert message, "the error says what is wrong"
    for value in broken.values():
        if "@" in str(value):  # a URL with a user name is a credential: never in a message
            assert str(value) not in message


def test_errors_are_grouped_by_recovery() -> None:
    assert issubclass(RetriableSourceError, GatewayError)
    assert issubclass(FatalConfigError, GatewayError)
    assert not issubclass(RetriableSourceError, FatalConfigError)
