"""The cohort 2b rule language and its pure evaluator. A rule set is data (a list of rules kept
in a ``RuleSet`` row); ``assess`` turns one employment's facts into an outcome and reasons.

A rule is ``{"when": {fact: condition, ...}, "outcome": ..., "reason": "..."}``. A condition is
a value (the fact must equal it), a list (the fact must be one of them) or ``{"not_in": [...]}``;
every condition of a rule must hold for the rule to match (an empty ``when`` always matches).

Evaluation is all-match-then-precedence: every rule is tested, and the most cautious outcome
among the matching rules wins (not eligible, then needs information, then eligible). The
reasons are those of every matching rule with the winning outcome, in rule order, each once.
So an office worker of an unapproved employer needs information for both reasons, and a worker
without direct contact is not eligible whatever else is true. When no rule matches, the
employment needs a person's judgement (``NO_RULE_REASON``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

ELIGIBLE = "eligible"
NOT_ELIGIBLE = "not_eligible"
NEEDS_INFORMATION = "needs_information"
# Most cautious first: a matching rule with an earlier outcome overrides later ones.
PRECEDENCE = (NOT_ELIGIBLE, NEEDS_INFORMATION, ELIGIBLE)
# How outcomes are written where people or other programs read them (CSV, letters).
OUTCOME_WORDS = {
    ELIGIBLE: "eligible",
    NOT_ELIGIBLE: "not eligible",
    NEEDS_INFORMATION: "needs information",
}
NO_RULE_REASON = "No rule covers this employment: a local lead must decide"

FACT_TYPES: dict[str, type] = {
    "job_role": str,
    "work_setting": str,
    "employment_type": str,
    "direct_contact": bool,
    "employer_approved": bool,
}


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules may look at for one employment (codes, not labels)."""

    job_role: str
    work_setting: str
    employment_type: str
    direct_contact: bool
    employer_approved: bool

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in FACT_TYPES}


class RuleError(ValueError):
    """A rule set that cannot be evaluated; the message says which rule and why."""


@dataclass(frozen=True, slots=True)
class _Rule:
    tests: tuple[tuple[str, frozenset, bool], ...]  # (fact, values, values are excluded)
    outcome: str
    reason: str

    def matches(self, facts: Facts) -> bool:
        for name, values, excluded in self.tests:
            if (getattr(facts, name) in values) == excluded:
                return False
        return True


def _condition(index: int, name: str, condition) -> tuple[str, frozenset, bool]:
    if name not in FACT_TYPES:
        known = ", ".join(FACT_TYPES)
        raise RuleError(f"Rule {index}: unknown fact '{name}' (use one of {known}).")
    kind = FACT_TYPES[name]
    excluded = False
    if isinstance(condition, Mapping):
        if set(condition) != {"not_in"}:
            raise RuleError(f"Rule {index}: a condition object may only have 'not_in'.")
        condition, excluded = condition["not_in"], True
    values = condition if isinstance(condition, list) else [condition]
    if not values or not all(isinstance(value, kind) for value in values):
        raise RuleError(
            f"Rule {index}: '{name}' must be compared with {kind.__name__} values, not {values!r}."
        )
    return name, frozenset(values), excluded


def compile_rules(rules: Sequence[Mapping]) -> tuple[_Rule, ...]:
    """Check a rule list and turn it into matchers; RuleError says what is wrong."""
    if not isinstance(rules, list) or not rules:
        raise RuleError("A rule set is a non-empty list of rules.")
    compiled = []
    for index, rule in enumerate(rules, start=1):
        if not isinstance(rule, Mapping) or set(rule) - {"when", "outcome", "reason"}:
            raise RuleError(f"Rule {index}: a rule has only 'when', 'outcome' and 'reason'.")
        if rule.get("outcome") not in PRECEDENCE:
            raise RuleError(f"Rule {index}: outcome must be one of {', '.join(PRECEDENCE)}.")
        reason = rule.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise RuleError(f"Rule {index}: every rule needs a reason in plain English.")
        when = rule.get("when", {})
        if not isinstance(when, Mapping):
            raise RuleError(f"Rule {index}: 'when' maps facts to conditions.")
        tests = tuple(_condition(index, name, value) for name, value in when.items())
        compiled.append(_Rule(tests=tests, outcome=rule["outcome"], reason=reason.strip()))
    return tuple(compiled)


def rule_codes(rules: Sequence[Mapping]) -> dict[str, set[str]]:
    """The codes each text fact is compared with, so a caller can check they exist."""
    codes: dict[str, set[str]] = {}
    for rule in rules:
        for name, condition in rule.get("when", {}).items():
            if FACT_TYPES.get(name) is not str:
                continue
            if isinstance(condition, Mapping):
                condition = condition.get("not_in", [])
            values = condition if isinstance(condition, list) else [condition]
            codes.setdefault(name, set()).update(values)
    return codes


def assess(facts: Facts, rule_set) -> tuple[str, tuple[str, ...]]:
    """The outcome and reasons for ``facts`` under ``rule_set`` (a RuleSet, a rule list or
    the result of ``compile_rules``). Pure: reads nothing else and writes nothing."""
    rules = getattr(rule_set, "rules", rule_set)
    if not rules or not isinstance(rules[0], _Rule):
        rules = compile_rules(rules)
    matched: dict[str, list[str]] = {}
    for rule in rules:
        if rule.matches(facts):
            reasons = matched.setdefault(rule.outcome, [])
            if rule.reason not in reasons:
                reasons.append(rule.reason)
    for outcome in PRECEDENCE:
        if outcome in matched:
            return outcome, tuple(matched[outcome])
    return NEEDS_INFORMATION, (NO_RULE_REASON,)


class Assessor:
    """Assesses many employments under one rule set; the handful of distinct fact
    combinations is evaluated once each, which keeps national runs cheap."""

    def __init__(self, rules: Sequence[Mapping]):
        self.rules = compile_rules(list(rules))
        self._seen: dict[Facts, tuple[str, tuple[str, ...]]] = {}

    def __call__(self, facts: Facts) -> tuple[str, tuple[str, ...]]:
        result = self._seen.get(facts)
        if result is None:
            result = self._seen[facts] = assess(facts, self.rules)
        return result

    def many(self, facts: Iterable[Facts]) -> list[tuple[str, tuple[str, ...]]]:
        return [self(item) for item in facts]
