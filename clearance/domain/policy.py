"""The clearance policy (SPEC §5): which rules apply to whom.

The rules of one application and the policy that picks them per faculty and
programme; reading a policy file is :mod:`clearance.config.policy_file`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


class PolicyError(ValueError):
    """The policy file is unreadable or says something the service cannot apply."""


@dataclass(frozen=True, slots=True)
class Rules:
    """The rules that apply to one application."""

    loans: bool = True
    lost_items: bool = True
    fines: bool = True
    fine_threshold: Decimal = Decimal(0)
    deposit: bool = True
    deposit_degree_levels: frozenset[str] = frozenset({"D3", "D4", "S1", "S2", "S3"})
    training: bool = False
    training_course: str = "information-literacy"
    certificate_number_format: str = "BP/{period}/{seq:07d}"
    revoke_on_loan_after_issuance: bool = False

    def requires_deposit(self, degree_level: str | None) -> bool:
        """Whether an application at ``degree_level`` must have an accepted deposit."""
        return self.deposit and degree_level in self.deposit_degree_levels


@dataclass(frozen=True, slots=True)
class Policy:
    """A loaded policy: the default rules and the overrides per faculty and programme."""

    default: Rules
    faculties: dict[str, tuple[Rules, dict[str, Rules]]]
    digest: str

    def rules_for(self, faculty: str | None, program: str | None) -> Rules:
        """The rules for an application of ``program`` in ``faculty``."""
        entry = self.faculties.get(faculty or "")
        if entry is None:
            return self.default
        faculty_rules, programs = entry
        return programs.get(program or "", faculty_rules)
