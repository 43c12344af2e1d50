"""The policy file (SPEC §5): defaults, overrides, and refusals at start."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clearance.config.policy_file import load_policy, parse_policy
from clearance.domain.policy import PolicyError


def test_the_built_in_default_is_the_specified_one() -> None:
    rules = load_policy(None).default
    assert (rules.loans, rules.lost_items, rules.fines, rules.deposit) == (True, True, True, True)
    assert rules.training is False
    assert rules.fine_threshold == 0
    assert rules.deposit_degree_levels == {"D3", "D4", "S1", "S2", "S3"}


def test_a_programme_overrides_its_faculty_which_overrides_the_default() -> None:
    policy = parse_policy(
        '[default]\nfine_threshold = "5000"\n'
        '[faculties.Teknik]\ntraining = true\nfine_threshold = "0"\n'
        '[faculties.Teknik.programs."Teknik Sipil"]\ndeposit = false\n'
    )
    sipil, elektro, hukum = (
        policy.rules_for("Teknik", "Teknik Sipil"), policy.rules_for("Teknik", "Teknik Elektro"),
        policy.rules_for("Hukum", "Ilmu Hukum"),
    )  # fmt: skip
    assert (sipil.training, sipil.deposit, sipil.fine_threshold) == (True, False, Decimal(0))
    assert (elektro.training, elektro.deposit) == (True, True)
    assert (hukum.training, hukum.fine_threshold) == (False, Decimal(5000))


@pytest.mark.parametrize(
    "text",
    [
        "[default]\nloan = true\n",  # a typo of a rule name
        "[default\n",  # not TOML
        '[default]\ncertificate_number_format = "BP/{period}"\n',  # numbers would repeat
        "[default]\nfine_threshold = 0.5\n",  # floats are inexact
        '[default]\ndeposit_degree_levels = ["S9"]\n',
        '[default]\ncertificate_number_format = "BP/{nope}/{seq}"\n',
    ],
)
def test_a_policy_the_service_cannot_apply_is_refused_at_load(text: str) -> None:
    with pytest.raises(PolicyError):
        parse_policy(text)


def test_a_missing_policy_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "absent.toml")
