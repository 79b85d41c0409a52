"""Demographic search ranked by the linkage model's match weights, with why each matched.

The weights of a saved model are applied in Python; these tests check that they give what
Splink gives for the same pairs, that the ranking follows the model (and changes when its
weights do), that each candidate says what each comparison added, and the fallback to fixed
weights where no usable model exists. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import json
import math
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from api_server import bearer, serving
from index_builder import EHE, HEALTH, add_child, record
from sqlalchemy import insert, select

from gateway.api.app import create_app
from gateway.linkage.incremental import record_keys
from gateway.linkage.levels import SQL, Compared
from gateway.linkage.match_weights import UnusableModelError, probability_of, weights_of
from gateway.linkage.probabilistic import PersonRow, models_dir, score_pairs
from gateway.linkage.publish import read_candidates
from gateway.lookup.search import Demographics, search_children
from gateway.store.engine import session_factory
from gateway.store.tables import AuditEntry, LinkKey

BORN = "2015-03-07"


@pytest.fixture(scope="session")
def splink_model() -> dict[str, Any]:
    """Our linkage settings as Splink saves a model, untrained (m and u still to set)."""
    from gateway.linkage.probabilistic import _linker, linkage_settings

    rows = [PersonRow((s, s), "a", "b", BORN, None, None, None, None) for s in ("x", "y")]
    document: dict[str, Any] = _linker(rows, linkage_settings()).misc.save_model_to_json()
    return document


def with_weights(
    document: dict[str, Any], prior: float, weights: dict[str, dict[int, float | None]]
) -> dict[str, Any]:
    """The model with these match weights (by comparison and level; None: m never estimated)
    and everything else of each non-null level at weight 0."""
    model = copy.deepcopy(document)
    model["probability_two_random_records_match"] = prior
    for comparison in model["comparisons"]:
        chosen = weights.get(comparison["output_column_name"], {})
        for index, level in enumerate(comparison["comparison_levels"]):
            if level.get("is_null_level"):
                continue
            weight = chosen.get(index, 0.0)
            if weight is None:
                level["m_probability"], level["u_probability"] = None, 0.5
            elif weight >= 0:
                level["m_probability"], level["u_probability"] = 0.9, 0.9 / 2**weight
            else:
                level["m_probability"], level["u_probability"] = 0.9 * 2**weight, 0.9
    return model


# Weights of the order a trained model learns (log2 Bayes factors), one level left unestimated.
TRAINED = {
    "given_name": {1: 6.6, 2: 3.0, 3: 5.5, 4: -1.4, 5: 7.5, 6: -4.1},
    "family_name": {1: 6.2, 2: 4.8, 3: 0.2, 4: -5.4},
    "birth_date": {1: 11.6, 2: 7.0, 3: -3.0, 4: 2.0, 5: 1.0, 6: -6.0, 7: -8.0},
    "sex": {1: 1.0, 2: -5.2},
    "place": {1: 10.0, 2: None, 3: -3.2, 4: -3.2},
    "nhs_number": {1: 14.4, 2: -4.2},
    "upn": {1: 11.6, 2: -4.9},
}
PRIOR = 0.00077


def _noisy_rows(count: int, seed: int) -> list[PersonRow]:
    """Records of a few children with nicknames, typos, swapped dates and gaps."""
    rng = random.Random(seed)
    given = ["thomas", "tom", "tomas", "amelia", "amelai", "emilia", "kate", "catherine", "zoë"]
    family = ["hart", "hartt", "heart", "stone", "stones", "smith", "smyth", "o'neil"]
    born = [BORN, "2015-07-03", "2015-03-08", "2015-04-07", "2016-03-07", "2015-12-11"]
    born += ["2015-01-01", "2019-03-07", "2020-03-07"]  # a 1st of January default; a year apart
    postcodes = ["YO1 7HH", "YO1 7HJ", "YO10 5DD", "LS6 2AB"]
    addresses = ["1 test street", "2 test street"]

    def some(values: list[str], gaps: float = 0.1) -> str | None:
        return None if rng.random() < gaps else rng.choice(values)

    return [
        PersonRow(
            key=("s", f"r{n:03d}"),
            given_name=some(given),
            family_name=some(family),
            birth_date=some(born, 0.05),
            sex=some(["female", "male"], 0.2),
            postcode=some(postcodes, 0.4),
            nhs_number=some(["9434765919", "9990996032"], 0.7),
            upn=some(["A815200422047"], 0.8),
            address=some(addresses, 0.4),
        )
        for n in range(count)
    ]


def test_python_weights_are_splinks_for_every_pair(
    splink_model: dict[str, Any], tmp_path: Path
) -> None:
    model = with_weights(splink_model, PRIOR, TRAINED)
    path = tmp_path / "model-v0001.json"
    path.write_text(json.dumps(model), encoding="utf-8")
    rows = _noisy_rows(150, seed=5)
    rows += [  # forename and surname swapped between two records
        PersonRow(("s", "swapped-1"), "thomas", "hart", BORN, None, None, None, None),
        PersonRow(("s", "swapped-2"), "hart", "thomas", BORN, None, None, None, None),
    ]
    by_key = {row.key: Compared.of(row) for row in rows}
    pairs = score_pairs(rows, path, lower=0.0)
    weights = weights_of(model, "model-v0001")
    assert len(pairs) > 500
    levels_seen = set()
    for pair in pairs:
        ours = weights.weigh(by_key[pair.left], by_key[pair.right])
        parts = {p.comparison: p.weight for p in ours.contributions}
        levels_seen.update((p.comparison, p.level) for p in ours.contributions)
        for comparison in SQL:
            assert parts.get(comparison, 0.0) == pytest.approx(
                pair.weights[comparison], abs=1e-3
            ), (comparison, pair.left, pair.right)
        assert ours.probability == pytest.approx(pair.probability, abs=1e-9, rel=1e-6)
    every_level = {(c, n) for c, levels in SQL.items() for n in range(1, len(levels))}
    assert every_level - levels_seen <= {("upn", 2)}, "the pairs reach (nearly) every level"


def test_level_weights_are_read_as_splink_reads_them(splink_model: dict[str, Any]) -> None:
    """Levels never estimated, not observed in training, or at the floor included."""
    from splink.internals.settings_creator import SettingsCreator

    model = with_weights(splink_model, PRIOR, TRAINED)
    given, family, born = model["comparisons"][:3]
    given["comparison_levels"][2]["m_probability"] = "level not observed in training dataset"
    given["comparison_levels"][4]["m_probability"] = 1e-300
    for level in family["comparison_levels"][1:]:
        level.pop("m_probability", None)
        level.pop("u_probability", None)
    born["comparison_levels"][3]["u_probability"] = None
    ours = weights_of(model, "v")
    splinks = SettingsCreator.from_path_or_dict(model).get_settings("duckdb")
    assert ours.prior == pytest.approx(math.log2(PRIOR / (1 - PRIOR)))
    for comparison in splinks.comparisons:
        expected = [level._match_weight for level in comparison.comparison_levels]
        assert ours.levels[comparison.output_column_name] == pytest.approx(expected)


def test_a_model_of_other_comparisons_is_refused(splink_model: dict[str, Any]) -> None:
    assert set(weights_of(with_weights(splink_model, PRIOR, TRAINED), "v").levels) == set(SQL)
    other = with_weights(splink_model, PRIOR, TRAINED)
    other["comparisons"][0]["comparison_levels"][3]["sql_condition"] = "levenshtein(a, b) <= 2"
    with pytest.raises(UnusableModelError):
        weights_of(other, "v")
    fewer = with_weights(splink_model, PRIOR, TRAINED)
    fewer["comparisons"].pop()
    with pytest.raises(UnusableModelError):
        weights_of(fewer, "v")


def _who(given: str, family: str, postcode: str, **more: Any) -> dict[str, Any]:
    return {
        "given_name": given,
        "family_name": family,
        "birth_date": BORN,
        "sex": "female",
        "addresses": [{"lines": ["1 Test Street"], "postcode": postcode}],
        **more,
    }


@pytest.fixture
def index(index_url: str, data_dir: Path) -> str:
    """X agrees on the postcode but not the given name; Y on the given name but not the
    postcode (both on birth date and family name); W shares no key with the queries below;
    F was a Hart before. Link keys written as a link run writes them."""
    with session_factory(index_url).begin() as session:
        add_child(session, "C-X", [record(EHE, "x1", _who("Zara", "Hart", "YO1 7HH"))])
        add_child(
            session,
            "C-Y",
            [
                record(EHE, "y1", _who("Amelia", "Hart", "LS6 2AB")),
                record(HEALTH, "y2", _who("Amelia", "Hart", "LS6 2AB")),
            ],
        )
        add_child(session, "C-W", [record(EHE, "w1", _who("Ruby", "Lane", "HG1 1AA"))])
        former = _who("Isla", "Moss", "HG2 2BB", previous_names=[{"family_name": "Hart"}])
        add_child(session, "C-F", [record(EHE, "f1", former)])
        candidates, people = read_candidates(session)
        session.execute(insert(LinkKey), list(record_keys(candidates, people)))
    return index_url


def _install(model: dict[str, Any]) -> str:
    """Save the model as the newest version (as ``linkage train`` does); its name."""
    folder = models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"model-v{len(list(folder.glob('model-v*.json'))) + 1:04d}.json"
    path.write_text(json.dumps(model), encoding="utf-8")
    return path.stem


POSTCODE_COUNTS = {
    "given_name": {1: 3.0, 6: -2.0},
    "family_name": {1: 6.0},
    "birth_date": {1: 11.0},
    "place": {1: 10.0, 4: -1.0},
}
GIVEN_NAME_COUNTS = {
    "given_name": {1: 10.0, 6: -6.0},
    "family_name": {1: 6.0},
    "birth_date": {1: 11.0},
    "place": {1: 2.0, 4: -1.0},
}
QUERY = Demographics(
    given_name="Amelia", family_name="Hart", birth_date=date(2015, 3, 7), postcode="yo1 7hh"
)


def _search(url: str, query: Demographics = QUERY) -> list[Any]:
    with session_factory(url)() as session:
        return search_children(session, query)


def test_ranking_follows_the_models_weights(index: str, splink_model: dict[str, Any]) -> None:
    by_rules = _search(index)
    assert [c.child_id for c in by_rules][:2] == ["C-Y", "C-X"], "fixed weights: given name"
    assert by_rules[0].ranked_by.startswith("fixed field weights")
    assert by_rules[0].match_probability is None

    name = _install(with_weights(splink_model, 0.001, POSTCODE_COUNTS))
    ranked = _search(index)
    assert [c.child_id for c in ranked][:2] == ["C-X", "C-Y"], "this model: the postcode"
    x, y = ranked[0], ranked[1]
    assert x.ranked_by == f"linkage model {name}"
    prior = math.log2(0.001 / 0.999)
    assert x.score == pytest.approx(prior + 11 + 6 - 2 + 10, abs=0.01)
    assert y.score == pytest.approx(prior + 11 + 6 + 3 - 1, abs=0.01)
    assert x.match_probability == pytest.approx(probability_of(x.score), abs=1e-4)

    _install(with_weights(splink_model, 0.001, GIVEN_NAME_COUNTS))
    every = [c.child_id for c in _search(index)]
    assert every[:2] == ["C-Y", "C-X"], "the newest model ranks"
    with session_factory(index)() as session:  # the best records' children are asked first
        for limit in (1, 2, 3):
            shown = search_children(session, QUERY, limit=limit)
            assert [c.child_id for c in shown] == every[:limit]


def test_each_candidate_says_what_each_comparison_added(
    index: str, splink_model: dict[str, Any]
) -> None:
    _install(with_weights(splink_model, 0.001, POSTCODE_COUNTS))
    x = _search(index)[0]
    reasons = {r.comparison: (r.says, r.weight) for r in x.reasons}
    assert reasons == {
        "prior": ("the model's odds for any one record", pytest.approx(-9.96, abs=0.01)),
        "given_name": ("given name differs", -2.0),
        "family_name": ("family name matches", 6.0),
        "birth_date": ("birth date matches", 11.0),
        "place": ("postcode matches", 10.0),
    }, "no sex asked: that comparison is null and says nothing"
    assert sum(r.weight for r in x.reasons) == pytest.approx(x.score, abs=0.02)
    assert x.why == [
        "given name differs",
        "family name matches",
        "birth date matches",
        "postcode matches",
    ]
    assert x.strength == "strong" and x.known_to == ["education"]


def test_former_family_names_and_records_sharing_no_key(
    index: str, splink_model: dict[str, Any]
) -> None:
    _install(with_weights(splink_model, 0.001, TRAINED))
    isla = Demographics(given_name="Isla", family_name="Hart", birth_date=date(2015, 3, 7))
    found = {c.child_id: c for c in _search(index, isla)}
    assert "family name matches (a former family name)" in found["C-F"].why
    # Nothing shares a key with "Bobbie Laine" (another forename and initial), so the search
    # widens to everyone born on the day (or with day and month swapped) and finds C-W.
    bobbie = Demographics(
        given_name="Bobbie", family_name="Laine", birth_date=date(2015, 7, 3), postcode="HG1 1AA"
    )
    [w] = _search(index, bobbie)
    assert w.child_id == "C-W"
    assert w.why == [
        "given name differs",
        "family name is one letter different (a likely misspelling)",
        "birth date matches with day and month swapped",
        "postcode matches",
    ]


def test_an_unusable_model_leaves_the_fixed_weights_in_charge(
    index: str, splink_model: dict[str, Any]
) -> None:
    other = with_weights(splink_model, 0.001, POSTCODE_COUNTS)
    other["comparisons"][0]["comparison_levels"][1]["sql_condition"] = "soundex(a) = soundex(b)"
    _install(other)
    ranked = _search(index)
    assert ranked[0].child_id == "C-Y" and ranked[0].ranked_by.startswith("fixed field weights")


def test_search_over_http_gives_reasons_and_audits_the_candidates(
    index: str, splink_model: dict[str, Any]
) -> None:
    _install(with_weights(splink_model, 0.001, POSTCODE_COUNTS))
    sent = {"purpose": "ehe_enquiry", **QUERY.model_dump(mode="json")}
    with serving(create_app(index)) as api:
        answer = api.post("/api/v1/search", json=sent, headers=bearer("erin.ehe"))
    assert answer.status_code == 200, answer.text
    first = answer.json()[0]
    assert first["child_id"] == "C-X" and first["match_probability"] > 0.99
    assert {"comparison": "place", "says": "postcode matches", "weight": 10.0} in first["reasons"]
    for value in ("Amelia", "Hart", "2015", "YO1", "Zara"):
        assert value.lower() not in answer.text.lower()
    with session_factory(index)() as session:
        entry = session.scalars(select(AuditEntry)).one()
    assert entry.action == "search" and entry.outcome == "candidates"
    assert entry.fields_disclosed == [f"candidate:{c['child_id']}" for c in answer.json()]


# Each level of the name comparisons its own weight, so Splink's weight names the level.
LEVEL_MARKS = {
    "given_name": {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0, 5: 5.0, 6: 6.0},
    "family_name": {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0},
}


def test_the_fixed_weight_search_and_the_model_agree_on_every_names_level(
    splink_model: dict[str, Any], tmp_path: Path
) -> None:
    """Splink (the model's SQL, over a table) and the search fallback (the deciders generated
    from the same specification, one pair at a time) put every pair of names at one level,
    and the fallback says it in the model's words: no difflib, no second opinion."""
    from gateway.linkage.levels import SAYS
    from gateway.lookup.search_rules import RuleQuery

    path = tmp_path / "model-v0001.json"
    path.write_text(json.dumps(with_weights(splink_model, PRIOR, LEVEL_MARKS)), encoding="utf-8")
    rows = _noisy_rows(120, seed=11)
    rows += [
        PersonRow(("s", "swapped-1"), "thomas", "hart", BORN, None, None, None, None),
        PersonRow(("s", "swapped-2"), "hart", "thomas", BORN, None, None, None, None),
    ]
    by_key = {row.key: row for row in rows}
    pairs = score_pairs(rows, path, lower=0.0)
    assert len(pairs) > 300
    seen: set[tuple[str, int]] = set()
    for pair in pairs:
        said = {
            c: s
            for c, s, _ in RuleQuery.of(by_key[pair.left])
            .score(_identity(by_key[pair.right]))
            .reasons
        }
        for comparison, marks in LEVEL_MARKS.items():
            level = next(
                (n for n, w in marks.items() if w == round(pair.weights[comparison], 3)), 0
            )
            seen.add((comparison, level))
            wanted = SAYS[comparison][level] if level else None
            assert said.get(comparison) == wanted, (comparison, pair.left, pair.right)
    assert {(c, n) for c, marks in LEVEL_MARKS.items() for n in marks} <= seen, "every level met"


def _identity(row: PersonRow) -> dict[str, Any]:
    """The record as a canonical identity (what search reads from the index)."""
    address: dict[str, Any] = {"postcode": row.postcode}
    if row.address:
        address["lines"] = [row.address]
    return {
        "given_name": row.given_name,
        "family_name": row.family_name,
        "birth_date": row.birth_date,
        "sex": row.sex,
        "addresses": [address] if row.postcode or row.address else [],
    }


def test_every_level_kind_of_the_specification_has_its_fixed_share() -> None:
    """A level kind added to ``linkage.spec`` says here what the search fallback makes of it."""
    from gateway.linkage.spec import COMPARISONS, Else, Null
    from gateway.lookup.search_rules import AGREE, SHARE

    kinds = {
        type(level).__name__
        for c in COMPARISONS
        if c.name in AGREE
        for level in c.levels
        if not isinstance(level, Null | Else)
    }
    assert kinds - set(SHARE) == set()
