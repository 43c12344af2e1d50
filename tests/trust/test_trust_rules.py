"""The trust file's rules (G11), pure: which topic may say what."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from timeline import T0, as_event

from clearance.cli.trust import trust
from clearance.config.trust_file import TrustFileError, parse_trust
from clearance.demo.eventfactory import EventFactory

RULES = parse_trust("""
[[rule]]
topic = "library.circulation.fk-teknik"
sources = ["urn:library:fk-teknik"]
types = ["library.*"]
library_ids = ["fk-teknik"]

[[rule]]
topic = "library.circulation.partner-*"
sources = ["urn:library:partner-*"]
types = ["library.loan.*", "library.patron.linked"]

[[rule]]
topic = "graduation.applications"
sources = ["urn:academic:*"]
types = ["graduation.application.*"]
""")

teknik = EventFactory("urn:library:fk-teknik", lambda: T0)
academic = EventFactory("urn:academic:ft", lambda: T0)


def _loan(factory: EventFactory, library: str) -> object:
    return as_event(factory.loan_returned(library, "L1", "P1", T0))


def test_a_library_on_its_own_topic_speaking_for_itself_is_believed() -> None:
    assert RULES.refusal("library.circulation.fk-teknik", _loan(teknik, "fk-teknik")) is None


def test_a_library_speaking_for_another_library_is_refused() -> None:
    assert "may not speak for library 'central'" in RULES.refusal(
        "library.circulation.fk-teknik", _loan(teknik, "central")
    )


def test_a_forged_source_is_refused() -> None:
    forged = EventFactory("urn:attacker:anyone", lambda: T0)
    assert "may not write" in RULES.refusal("library.circulation.fk-teknik", _loan(forged, "fk-teknik"))


def test_a_type_the_rule_does_not_list_is_refused() -> None:
    partner = EventFactory("urn:library:partner-ui", lambda: T0)
    fine = as_event(partner.fine_waived("partner-ui", "F1", "P1"))
    assert "may not send library.fine.waived" in RULES.refusal("library.circulation.partner-ui", fine)


def test_globs_match_runs_of_characters_dots_included() -> None:
    partner = EventFactory("urn:library:partner-ui.jakarta", lambda: T0)
    assert RULES.refusal("library.circulation.partner-ui.jakarta", _loan(partner, "partner-ui")) is None


def test_a_topic_no_rule_names_believes_nothing() -> None:
    assert RULES.refusal("library.circulation", _loan(teknik, "fk-teknik")) == (
        "no trust rule names topic library.circulation"
    )


def test_a_withdrawal_sent_on_a_librarys_topic_is_refused() -> None:
    withdrawal = as_event(academic.application_withdrawn("APP-1", "S1"))
    assert RULES.refusal("library.circulation.fk-teknik", withdrawal) is not None
    assert RULES.refusal("graduation.applications", withdrawal) is None


def test_the_rules_name_the_per_producer_topics_of_each_family() -> None:
    assert RULES.topics_of("library.circulation") == (
        "library.circulation.fk-teknik", "library.circulation.partner-*"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[rule]]\ntopic = "t"\nsources = ["s"]\ntypes = ["x"]\nlibraries = ["a"]\n', "rule.0.libraries"),
        ('[[rule]]\ntopic = "t"\ntypes = ["x"]\n', "rule.0.sources"),
        ('[[rules]]\ntopic = "t"\n', "rules"),
        ("[[rule]\n", "not valid TOML"),
        ("", "rule: Field required"),
    ],
    ids=["unknown key", "missing key", "unknown table", "bad TOML", "empty"],
)
def test_a_file_the_service_cannot_apply_is_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(TrustFileError, match=message) as raised:
        parse_trust(text)
    assert "\n" not in str(raised.value)


def test_trust_check_prints_the_rules_and_refuses_a_bad_file(tmp_path) -> None:
    good = tmp_path / "trust.toml"
    good.write_text('[[rule]]\ntopic = "thesis.deposits.etd"\nsources = ["urn:repository:etd"]\ntypes = ["thesis.*"]\n')
    result = CliRunner().invoke(trust, ["check", str(good)])
    assert result.exit_code == 0 and "thesis.deposits.etd" in result.output and "urn:repository:etd" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\ntopic = "x"\nsource = ["y"]\ntypes = ["z"]\n')
    result = CliRunner().invoke(trust, ["check", str(bad)])
    assert result.exit_code == 1 and "rule.0" in result.output and "Traceback" not in result.output
