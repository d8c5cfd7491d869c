"""Redactor: every labelled positive is replaced exactly, every benign line is left alone.

The corpora live in tests/data: redaction_positive.jsonl (text, exact expected output,
substrings that must be gone) and redaction_benign.txt (one REPL line each).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from obra_monitor.errors import ConfigError
from obra_monitor.redaction import _PROVIDER_TOKEN, PII_DETECTORS, SECRET_DETECTORS, Redactor

DATA = Path(__file__).parent / "data"
POSITIVES: list[dict[str, Any]] = [
    json.loads(line) for line in (DATA / "redaction_positive.jsonl").read_text(encoding="utf-8").splitlines()
]
BENIGN: list[str] = [
    line
    for line in (DATA / "redaction_benign.txt").read_text(encoding="utf-8").splitlines()
    if line and not line.startswith("# ")
]
REQUIRED_KINDS = {
    "email", "ipv4", "ipv6", "phone", "ssn", "credit_card", "iban",
    "openai_key", "anthropic_key", "github_token", "gitlab_token", "aws_access_key_id",
    "aws_secret_access_key", "google_api_key", "slack_token", "slack_webhook", "stripe_key",
    "npm_token", "pypi_token", "sendgrid_key", "twilio_key", "jwt", "private_key_block",
    "authorization_header", "bearer_token", "url_credentials", "assignment",
}
PLACEHOLDER = re.compile(r"\[(?:EMAIL|IP|PHONE|SSN|CREDIT_CARD|IBAN|API_KEY|SECRET|REDACTED)\]")

REDACTOR = Redactor()


def _positive_id(record: dict[str, Any]) -> str:
    return f"{record['kind']}-{record['where']}"


# -- the corpora ---------------------------------------------------------------------------------

@pytest.mark.parametrize("record", POSITIVES, ids=[_positive_id(r) for r in POSITIVES])
def test_positive_is_replaced_with_its_placeholder(record: dict[str, Any]) -> None:
    redacted = REDACTOR.redact(record["text"])
    assert redacted == record["redacted"]
    for secret in record["gone"]:
        assert secret not in redacted


@pytest.mark.parametrize("line", BENIGN)
def test_benign_line_is_unchanged(line: str) -> None:
    assert REDACTOR.redact(line) == line


def test_corpus_recall_and_false_positives() -> None:
    """The figures docs/redaction.md quotes; run with -s to see them."""
    missed = [r for r in POSITIVES if REDACTOR.redact(r["text"]) != r["redacted"]]
    changed = [line for line in BENIGN if REDACTOR.redact(line) != line]
    recall = 1 - len(missed) / len(POSITIVES)
    figures = (
        f"recall {recall:.1%} ({len(POSITIVES) - len(missed)}/{len(POSITIVES)} positives), "
        f"false positives {len(changed)}/{len(BENIGN)} benign lines changed"
    )
    print(figures)
    assert not missed and not changed, figures


def test_corpus_covers_every_kind_in_several_surroundings() -> None:
    surroundings: dict[str, set[str]] = {}
    for record in POSITIVES:
        surroundings.setdefault(record["kind"], set()).add(record["where"])
    assert REQUIRED_KINDS <= surroundings.keys()
    thin = {kind: where for kind, where in surroundings.items() if kind != "mixed" and len(where) < 3}
    assert not thin
    assert len(BENIGN) >= 150


def test_positive_placeholders_match_the_expected_kinds() -> None:
    """Belt and braces over the exact comparison: no finding is labelled as another kind."""
    for record in POSITIVES:
        got = Counter(PLACEHOLDER.findall(REDACTOR.redact(record["text"])))
        assert got == Counter(PLACEHOLDER.findall(record["redacted"])), record["text"]


def test_placeholders_are_not_redacted_again() -> None:
    text = 'password=[SECRET] "token": "[SECRET]" Authorization: Bearer [API_KEY] api_key=[API_KEY]'
    assert REDACTOR.redact(text) == text


def test_every_detector_behind_the_provider_gate_has_hints() -> None:
    """That gate opens only on one of their hints; a detector without any would never run."""
    assert all(d.hints for d in SECRET_DETECTORS + PII_DETECTORS if d.gate is _PROVIDER_TOKEN)


def test_gates_never_hide_a_finding() -> None:
    """A shut gate skips its detectors, an open one may narrow them to regions: neither may
    lose what a scan of the whole text finds."""
    for text in [r["text"] for r in POSITIVES] + BENIGN:
        for detector in SECRET_DETECTORS + PII_DETECTORS:
            everywhere = set(detector.find(text, [(0, len(text))]))
            if everywhere:
                assert detector.gate.is_open(text), (detector.name, text)
                assert set(detector.find(text, detector.gate.spans(text))) == everywhere, (detector.name, text)


# -- validators keep near-misses -----------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "4111 1111 1111 1112",  # Luhn fails
    "1718041234567 ms",  # Luhn may pass, but no issuer starts with 1
    "DE89 3704 0044 0532 0130 01",  # mod-97 fails (and its digits are no card)
    "3700 0000 0000 0007",  # Luhn passes, but Amex numbers have 15 digits
    "256.1.1.1 and 10.0.0.300",  # octets over 255
    "000-12-3456 and 666-12-3456 and 123-00-4567",  # never-issued SSNs
    "+12 345",  # too few digits for a phone
    "dead:beef::1:2:3:4:5:6:7",  # too many groups for IPv6
    "ghp_tooShort123",
    "sk-not-a-real-key-at-all-just-words-here",  # no digit
])
def test_near_misses_are_kept(text: str) -> None:
    assert REDACTOR.redact(text) == text


def test_overlaps_go_to_the_more_specific_detector() -> None:
    assert REDACTOR.redact("password=bob@example.com") == "password=[SECRET]"
    assert REDACTOR.redact("api_key=AKIAIOSFODNN7EXAMPLE") == "api_key=[API_KEY]"
    assert REDACTOR.redact("https://bob:pw1@example.com/x") == "https://[SECRET]@example.com/x"


# -- settings ------------------------------------------------------------------------------------

def test_pii_and_secrets_switch_independently() -> None:
    text = "mail bob@example.com with password=hunter2"
    assert Redactor(pii=False).redact(text) == "mail bob@example.com with password=[SECRET]"
    assert Redactor(secrets=False).redact(text) == "mail [EMAIL] with password=hunter2"
    both_off = Redactor(pii=False, secrets=False)
    assert not both_off.enabled
    assert both_off.redact(text) == text
    assert Redactor().enabled and Redactor(pii=False).enabled


def test_custom_patterns_become_redacted() -> None:
    redactor = Redactor(pii=False, secrets=False, custom_patterns=[r"\bACME-\d{4}\b", r"(?i)project phoenix"])
    assert redactor.enabled
    assert redactor.redact("ACME-1234 is Project Phoenix, not ACME-12") == "[REDACTED] is [REDACTED], not ACME-12"


def test_custom_pattern_with_a_secret_group_replaces_only_that_group() -> None:
    redactor = Redactor(custom_patterns=[r"customer=(?P<secret>\w+)"])
    assert redactor.redact("customer=globex order 5") == "customer=[REDACTED] order 5"


def test_custom_pattern_wins_over_builtin_detectors() -> None:
    redactor = Redactor(custom_patterns=[r"[\w.]+@corp\.example"])
    assert redactor.redact("ask ops@corp.example or bob@example.com") == "ask [REDACTED] or [EMAIL]"


def test_custom_pattern_matching_nothing_changes_nothing() -> None:
    assert Redactor(custom_patterns=["q*"]).redact("plain text") == "plain text"


def test_invalid_custom_pattern_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"'\(unclosed'"):
        Redactor(custom_patterns=["ok", "(unclosed"])


def test_scan_cap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_scan_chars"):
        Redactor(max_scan_chars=0)


def test_custom_patterns_must_be_a_list_not_a_string() -> None:
    with pytest.raises(TypeError, match="not one string"):
        Redactor(custom_patterns=r"\bACME-\d{4}\b")


# -- the scan cap --------------------------------------------------------------------------------

def test_text_beyond_the_cap_is_dropped_and_marked() -> None:
    redactor = Redactor(max_scan_chars=40)
    text = "mail bob@example.com now " + "tail " * 20
    redacted = redactor.redact(text)
    assert redacted.startswith("mail [EMAIL] now tail tail tail")
    kept = len("mail bob@example.com now tail tail tail ")
    assert redacted.endswith(f"…[truncated {len(text) - kept} chars]")


def test_a_secret_straddling_the_cap_is_dropped_whole() -> None:
    key = "AKIAIOSFODNN7EXAMPLE"
    text = "x" * 30 + " " + key + " and more text after it"
    redacted = Redactor(max_scan_chars=40).redact(text)
    assert "AKIA" not in redacted
    assert redacted == "x" * 30 + " " + f"…[truncated {len(text) - 31} chars]"


def test_text_at_the_cap_is_scanned_whole() -> None:
    text = "a" * 20 + " bob@example.com"
    assert Redactor(max_scan_chars=len(text)).redact(text) == "a" * 20 + " [EMAIL]"


def test_one_long_token_is_cut_at_the_cap() -> None:
    text = "z" * 100
    assert Redactor(max_scan_chars=40).redact(text) == "z" * 40 + "…[truncated 60 chars]"


def test_a_disabled_redactor_leaves_long_text_alone() -> None:
    text = "bob@example.com " * 10
    assert Redactor(pii=False, secrets=False, max_scan_chars=20).redact(text) == text


# -- redact_value --------------------------------------------------------------------------------

def test_redact_value_walks_dicts_lists_and_tuples() -> None:
    context = {
        "user": "bob@example.com",
        "attempts": 3,
        "hosts": ["10.1.2.3", "localhost:8080"],
        "pair": ("ok", "card 4111 1111 1111 1111"),
        "nested": {"deeper": [{"ip": "2001:db8::7"}]},
        "flags": {True, False},
        "none": None,
        "ratio": 0.5,
    }
    assert REDACTOR.redact_value(context) == {
        "user": "[EMAIL]",
        "attempts": 3,
        "hosts": ["[IP]", "localhost:8080"],
        "pair": ("ok", "card [CREDIT_CARD]"),
        "nested": {"deeper": [{"ip": "[IP]"}]},
        "flags": {True, False},
        "none": None,
        "ratio": 0.5,
    }
    assert context["user"] == "bob@example.com"  # the caller's dict is not modified


def test_redact_value_hides_strings_under_secret_keys() -> None:
    context = {"password": "hunter2", "api_key": "abc", "Authorization": "xyz", "token_count": 5,
               "refresh_token": "r", "password_policy": "strict", "db_password": ""}
    assert REDACTOR.redact_value(context) == {
        "password": "[SECRET]", "api_key": "[SECRET]", "Authorization": "[SECRET]", "token_count": 5,
        "refresh_token": "[SECRET]", "password_policy": "strict", "db_password": "",
    }
    assert Redactor(secrets=False).redact_value({"password": "hunter2"}) == {"password": "hunter2"}


def test_redact_value_leaves_other_types_alone() -> None:
    for value in (None, 42, 1.5, b"bob@example.com", True):
        assert REDACTOR.redact_value(value) is value
