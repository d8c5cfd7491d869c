"""PII and secret redaction for free text before it reaches the log.

Users paste keys, e-mail addresses and card numbers into a REPL by mistake;
the log must not keep them. A redactor that eats task ids, UUIDs, versions or
commit hashes is just as bad, so every detector is narrow and, where the
format has one, checksum-validated (Luhn, IBAN mod-97).

The pipeline, run by `Redactor.redact` on every user_input event:

1. cap: text beyond `max_scan_chars` is dropped and marked, never emitted unscanned;
2. gates: a handful of cheap necessary conditions (an ``@``, a 15-char token,
   a 7-char number run, ...). Clean commands open none and return at once;
3. detectors, in priority order, each with its gate, an optional literal
   pre-check, a compiled regex and an optional validator, yield spans;
4. overlapping spans go to the higher-priority detector; the text is rebuilt once.

Stdlib `re` only, nothing downloaded: see docs/redaction.md for why not
presidio, scrubadub or detect-secrets, what is detected, what is deliberately
left alone, and measured figures.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import repeat
from operator import call
from typing import Final, TypeVar

from obra_monitor.errors import ConfigError

EMAIL: Final = "[EMAIL]"
IP: Final = "[IP]"
PHONE: Final = "[PHONE]"
SSN: Final = "[SSN]"
CREDIT_CARD: Final = "[CREDIT_CARD]"
IBAN: Final = "[IBAN]"
API_KEY: Final = "[API_KEY]"  # a provider's key or token: OpenAI, GitHub, AWS, ...
SECRET: Final = "[SECRET]"  # any other credential: passwords, JWTs, bearer tokens, PEM keys
REDACTED: Final = "[REDACTED]"  # a match of a custom pattern
_PLACEHOLDERS: Final = frozenset({EMAIL, IP, PHONE, SSN, CREDIT_CARD, IBAN, API_KEY, SECRET, REDACTED})

DEFAULT_MAX_SCAN_CHARS: Final = 16384

Span = tuple[int, int]
Gate = Callable[[str], object]  # truthy when the text may hold a finding
T = TypeVar("T")


# -- gates: cheap necessary conditions, shared by several detectors ---------------------------
# A detector's regex can only match where its gate is open. The fast path asks the few
# distinct gates once and skips every regex when all are shut; most are C-level searches.

# E-mail addresses and credentials in URLs.
_has_at: Gate = re.compile("@").search
# Every provider key, JWT, bearer token and PEM body is a run of 15+ non-blank chars.
_has_long_token: Gate = re.compile(r"\S{15}", re.ASCII).search
# Phones, SSNs, cards, IBANs and IPv4s hold 7+ chars of digits and separators.
# ([0-9] rather than \d: a plain range is the cheapest class for the engine to skip with.)
_has_number_run: Gate = re.compile(r"[0-9][0-9\s().+-]{5,}[0-9]", re.ASCII).search
# An IPv6 address is compressed (`::`) or has seven colons.
_has_ipv6_colons: Gate = re.compile(r"::|:(?:[^:]*:){6}").search

_SECRET_WORDS: Final = ("pass", "pwd", "secret", "key", "token", "authorization")


def _has_assignment(text: str) -> bool:
    """`password=...`, `"token": ...`, `Authorization: ...` need a separator and a key word."""
    if "=" not in text and ":" not in text:
        return False
    lowered = text.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _always(text: str) -> bool:
    """Custom patterns are opaque, so nothing can rule them out."""
    return True


# -- detectors ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Detector:
    """One kind of finding: where to look, what to match, how to confirm it.

    The span replaced is the pattern's `secret` group when it has one (so
    `password=` or `https://` and the host survive), else the whole match.
    """

    name: str
    placeholder: str
    gate: Gate
    pattern: re.Pattern[str]
    needs: re.Pattern[str] | None = None  # a literal that must occur; much cheaper than the regex
    accept: Callable[[re.Match[str]], bool] | None = None

    def find(self, text: str) -> Iterator[Span]:
        if self.needs is not None and self.needs.search(text) is None:
            return
        group = "secret" if "secret" in self.pattern.groupindex else 0
        for match in self.pattern.finditer(text):
            found = match.group(group)
            # Empty matches (a custom `x*`) hide nothing; a placeholder is already redacted.
            if found and found not in _PLACEHOLDERS and (self.accept is None or self.accept(match)):
                yield match.span(group)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChecksumDetector(Detector):
    """A number with a check digit (cards, IBANs), found inside a greedy candidate.

    The candidate regex may swallow a neighbour ("4111 1111 1111 1111 12/26"),
    so a failed checksum on the whole says nothing: `valid` is tried on every
    run of whole groups within `sizes`, and the longest passing run is kept.
    """

    sizes: range  # allowed lengths, separators not counted
    valid: Callable[[list[str]], bool]  # gets the digit/letter groups of one run

    def find(self, text: str) -> Iterator[Span]:
        for match in self.pattern.finditer(text):
            groups = list(_GROUP.finditer(text, match.start(), match.end()))
            first = 0
            while first < len(groups):
                best = None
                length = 0
                for last in range(first, len(groups)):
                    length += groups[last].end() - groups[last].start()
                    if length >= self.sizes.stop:
                        break
                    if length in self.sizes and self.valid([g.group() for g in groups[first:last + 1]]):
                        best = last
                if best is None:
                    first += 1
                else:
                    yield groups[first].start(), groups[best].end()
                    first = best + 1


_GROUP = re.compile(r"[A-Za-z0-9]+")


def _literal(*literals: str) -> re.Pattern[str]:
    return re.compile("|".join(map(re.escape, literals)))


def _compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Verbose, and ASCII so `\\d`, `\\w`, `\\s` mean what the gates assume (and run faster)."""
    return re.compile(pattern, flags | re.VERBOSE | re.ASCII)


def _looks_random(value: str) -> bool:
    """Generated tokens mix letters and digits; words and prose ("refresh", "role checks") do not."""
    return len(value) >= 8 and any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _secret_looks_random(match: re.Match[str]) -> bool:
    return _looks_random(match.group("secret"))


def _has_digit(match: re.Match[str]) -> bool:
    return any(c.isdigit() for c in match.group())


def _authorization_value(match: re.Match[str]) -> bool:
    """After a scheme word (`Bearer`, `Basic`) anything is a credential; alone it must look generated."""
    return match.group("scheme") is not None or _looks_random(match.group("secret"))


_PLACEHOLDER_VALUES: Final = frozenset({"null", "none", "nil", "true", "false", "undefined"})


def _is_assigned_secret(match: re.Match[str]) -> bool:
    """`password=null` or `password: ********` holds nothing to hide."""
    value = match.group("secret")
    return value.lower() not in _PLACEHOLDER_VALUES and value.strip("*") != ""


def _is_assigned_token(match: re.Match[str]) -> bool:
    """`token` also names counts and parser errors ("Unexpected token: '}'"): need a generated value."""
    return _is_assigned_secret(match) and _looks_random(match.group("secret"))


_RETINA_ASSET = re.compile(r"\d+(?:\.\d+)?x\.")


def _is_personal_email(match: re.Match[str]) -> bool:
    """Not an SSH remote (`git@github.com:org/repo`) nor a retina asset (`logo@2x.png`)."""
    return match.group("local").lower() != "git" and not _RETINA_ASSET.match(match.group("domain"))


def _is_public_ipv4(match: re.Match[str]) -> bool:
    """Loopback and 0.0.0.0 say nothing about anyone and are common in dev commands."""
    text = match.group()
    return not text.startswith("127.") and text != "0.0.0.0"


def _is_ipv6(match: re.Match[str]) -> bool:
    """Three or more groups and valid per `ipaddress`; keeps `::1`, `std::vector` and times like 12:30:45."""
    text = match.group()
    if sum(1 for part in text.split(":") if part) < 3:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _is_phone(match: re.Match[str]) -> bool:
    """E.164 allows at most 15 digits; fewer than 8 after a `+` is a score or an offset."""
    text = match.group()
    return not text.startswith("+") or 8 <= sum(c.isdigit() for c in text) <= 15


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card(groups: list[str]) -> bool:
    """Luhn, a real issuer's prefix and length, and groups of 4+ digits as cards are written.

    Luhn alone passes one random number in ten; the issuer rules and the grouping keep
    epoch milliseconds, ISBNs and lists like "tasks 2001 2002 2003 2004" out.
    """
    digits = "".join(groups)
    return (
        digits.isdigit()
        and _is_issuer_number(digits)
        and all(len(group) >= 4 for group in groups[:-1])
        and _luhn(digits)
    )


def _is_issuer_number(digits: str) -> bool:
    """Amex 34, 37 (15 digits); Visa 4 (13, 16, 19); 14-19 digits for Mastercard 51-55 and
    2221-2720, Diners 300-305, 36, 38-39, JCB 3528-3589, Discover 6011, 644-649, 65, UnionPay 62."""
    two, three, four = int(digits[:2]), int(digits[:3]), int(digits[:4])
    if two in (34, 37):
        return len(digits) == 15
    if digits[0] == "4":
        return len(digits) in (13, 16, 19)
    return len(digits) >= 14 and (
        51 <= two <= 55 or 2221 <= four <= 2720
        or two in (36, 38, 39, 62, 65)
        or 300 <= three <= 305 or 644 <= three <= 649
        or 3528 <= four <= 3589 or four == 6011
    )


def _is_iban(groups: list[str]) -> bool:
    """Country letters, two check digits, and the ISO 13616 mod-97 checksum."""
    compact = "".join(groups)
    if not (compact[:2].isalpha() and compact[2:4].isdigit()):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


# Key names whose value is a secret in `key=value`, `key: value` and `"key": "value"`: a whole
# run of name characters (possessive, so it is scanned once) that ends with a secret word:
# `db_password`, `client_secret`, not `password_policy`. `pass` and `pwd` count only as a whole
# segment, so `bypass` and `compass` are left alone.
_KEY_RUN: Final = r"(?<![\w.-]) [\w.-]++"
_PASSWORD_KEY: Final = _KEY_RUN + r"""
    (?: (?<=password) | (?<=passwd) | (?<=passphrase) | (?<=secret)
      | (?<=api_key) | (?<=api-key) | (?<=apikey) | (?<=access_key) | (?<=access-key)
      | (?<=secret_key) | (?<=secret-key) | (?<=private_key) | (?<=private-key)
      | (?<=pass)(?<![a-z0-9]pass) | (?<=pwd)(?<![a-z0-9]pwd) )"""
_TOKEN_KEY: Final = _KEY_RUN + r"(?<=token)"
_ASSIGNED_VALUE: Final = r"""
    ["']? \s* (?: := | => | [:=] ) \s*
    (?: (?P<quote>["']) )?
    (?P<secret> (?(quote) (?: \\. | (?!(?P=quote))[^\n\\] )+     # quoted: up to the closing quote
                        | [^\s"'&,;]+ ) )                        # bare: up to a blank, quote, & , ;"""


def _assignment(key: str) -> re.Pattern[str]:
    return _compile(rf"(?P<key>{key}) {_ASSIGNED_VALUE}", re.IGNORECASE)


def _token(body: str) -> re.Pattern[str]:
    """A provider token: not glued to a longer word on either side."""
    return _compile(rf"(?<![\w-]) (?:{body}) (?![\w-])")


_OCTET: Final = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"

SECRET_DETECTORS: Final[tuple[Detector, ...]] = (
    Detector(
        "private_key_block", SECRET, _has_long_token,
        _compile(r"""-----BEGIN[ A-Z0-9]*PRIVATE\ KEY(?:\ BLOCK)?-----
                     .*? (?: -----END[ A-Z0-9]*PRIVATE\ KEY(?:\ BLOCK)?----- | \Z )""", re.DOTALL),
        needs=_literal("PRIVATE KEY"),
    ),
    Detector("openai_anthropic_key", API_KEY, _has_long_token,
             _token(r"sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
             needs=_literal("sk-"), accept=_has_digit),
    Detector("github_token", API_KEY, _has_long_token,
             _token(r"gh[pousr]_[A-Za-z0-9]{36,} | github_pat_[A-Za-z0-9_]{22,}"),
             needs=_literal("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    Detector("gitlab_token", API_KEY, _has_long_token, _token(r"glpat-[A-Za-z0-9_-]{20,}"),
             needs=_literal("glpat-")),
    Detector("aws_access_key_id", API_KEY, _has_long_token, _token(r"(?:AKIA|ASIA)[A-Z0-9]{16}"),
             needs=_literal("AKIA", "ASIA")),
    Detector(
        "aws_secret_access_key", API_KEY, _has_assignment,
        _compile(r"""aws[_.\ -]?secret[_.\ -]?(?:access[_.\ -]?)?key(?:[_-]?id)? ["']? \s* [:=] \s* ["']?
                     (?P<secret>[A-Za-z0-9/+=]{40}) (?![A-Za-z0-9/+=])""", re.IGNORECASE),
    ),
    Detector("google_api_key", API_KEY, _has_long_token, _token(r"AIza[0-9A-Za-z_-]{35}"),
             needs=_literal("AIza")),
    Detector("slack_token", API_KEY, _has_long_token, _token(r"xox[abprs]-[A-Za-z0-9-]{10,}"),
             needs=_literal("xox")),
    Detector("slack_webhook", API_KEY, _has_long_token,
             _compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9_/-]+)"),
             needs=_literal("hooks.slack.com/")),
    Detector("stripe_key", API_KEY, _has_long_token, _token(r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"),
             needs=_literal("k_live_", "k_test_")),
    Detector("npm_token", API_KEY, _has_long_token, _token(r"npm_[A-Za-z0-9]{36}"), needs=_literal("npm_")),
    Detector("pypi_token", API_KEY, _has_long_token, _token(r"pypi-[A-Za-z0-9_-]{50,}"),
             needs=_literal("pypi-")),
    Detector("sendgrid_key", API_KEY, _has_long_token,
             _token(r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"), needs=_literal("SG.")),
    Detector("twilio_key", API_KEY, _has_long_token, _token(r"(?:SK|AC)[0-9a-f]{32}"),
             needs=_literal("SK", "AC")),
    Detector("jwt", SECRET, _has_long_token,
             _token(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), needs=_literal("eyJ")),
    Detector(
        "url_credentials", SECRET, _has_at,
        # user:password between scheme and host; the password may itself hold an "@"
        _compile(r":// (?P<secret>[^\s/?#@:]*:[^\s/?#]*) @"),
    ),
    Detector(
        "authorization_header", SECRET, _has_assignment,
        _compile(r"""\bauthorization ["']? \s* [:=] \s* ["']?
                     (?P<scheme>(?:bearer|basic|token|digest|bot)\s+)?
                     (?P<secret>[^\s"',;]+)""", re.IGNORECASE),
        accept=_authorization_value,
    ),
    Detector("bearer_token", SECRET, _has_long_token,
             _compile(r"\bbearer\s+ (?P<secret>[A-Za-z0-9._~+/=-]{15,}[A-Za-z0-9_~+/=-])", re.IGNORECASE),
             needs=_literal("earer", "EARER"), accept=_secret_looks_random),
    Detector("password_assignment", SECRET, _has_assignment, _assignment(_PASSWORD_KEY),
             accept=_is_assigned_secret),
    Detector("token_assignment", SECRET, _has_assignment, _assignment(_TOKEN_KEY),
             accept=_is_assigned_token),
)

PII_DETECTORS: Final[tuple[Detector, ...]] = (
    Detector(
        "email", EMAIL, _has_at,
        _compile(r"""(?<![A-Za-z0-9._%+-]) (?P<local>[A-Za-z0-9._%+-]++) @
                     (?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+ [A-Za-z]{2,24}) (?![\w-])"""),
        accept=_is_personal_email,
    ),
    ChecksumDetector(
        "iban", IBAN, _has_number_run,
        _compile(r"(?<![A-Za-z0-9]) [A-Z]{2}\d{2} (?:\ ?[A-Z0-9]){11,}"),
        sizes=range(15, 35), valid=_is_iban,
    ),
    ChecksumDetector(
        "credit_card", CREDIT_CARD, _has_number_run,
        _compile(r"(?<![\w+.-]) \d (?:[\ -]?\d){12,} (?!\w)"),
        sizes=range(13, 20), valid=_is_card,
    ),
    Detector(
        "us_ssn", SSN, _has_number_run,
        # area 000, 666 and 9xx, group 00 and serial 0000 are never issued
        _compile(r"(?<![\w-]) (?!000|666|9\d\d)\d{3} - (?!00)\d{2} - (?!0000)\d{4} (?![\w-])"),
        needs=_literal("-"),
    ),
    Detector(
        "ipv4", IP, _has_number_run,
        _compile(rf"(?<![\w.]) (?:{_OCTET}\.){{3}}{_OCTET} (?!\w|\.\d)"),
        needs=_literal("."),
        accept=_is_public_ipv4,
    ),
    Detector(
        "phone", PHONE, _has_number_run,
        _compile(r"""(?<![\w+.-])
            (?> \+\d{1,3} (?:[\ .-]?(?:\(\d{1,4}\)|\d{1,4})){2,6}               # +44 20 7946 0958, +14155550132
              | (?:1[\ .-])? (?:\([2-9]\d{2}\)[\ .-]?|[2-9]\d{2}[\ .-])    # (415) 555-0132, 415.555.0132
                [2-9]\d{2}[\ .-]\d{4} )
            (?!\w|[.-]\d)"""),
        accept=_is_phone,
    ),
    Detector(
        "ipv6", IP, _has_ipv6_colons,
        _compile(r"(?<![\w:.]) (?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4} (?![\w:])"),
        accept=_is_ipv6,
    ),
)


# -- the redactor ------------------------------------------------------------------------------

class Redactor:
    """Replaces PII, secrets and custom-pattern matches in text with typed placeholders."""

    def __init__(
        self,
        pii: bool = True,
        secrets: bool = True,
        custom_patterns: Iterable[str] = (),
        max_scan_chars: int = DEFAULT_MAX_SCAN_CHARS,
    ) -> None:
        if max_scan_chars < 1:
            raise ValueError(f"max_scan_chars must be at least 1, got {max_scan_chars}")
        custom = tuple(
            Detector(f"custom:{source}", REDACTED, _always, _compile_custom(source))
            for source in custom_patterns
        )
        # Order is priority: custom patterns are the operator's explicit wish, secrets are
        # checked before PII so `password=bob@example.com` says SECRET, not EMAIL.
        self._detectors = custom + (SECRET_DETECTORS if secrets else ()) + (PII_DETECTORS if pii else ())
        self._gates = tuple(_unique(detector.gate for detector in self._detectors))
        self._max_scan_chars = max_scan_chars
        self._secrets = secrets

    @property
    def enabled(self) -> bool:
        """False when there is nothing to look for, so callers can skip the call."""
        return bool(self._detectors)

    def redact(self, text: str) -> str:
        """`text`, cut to the scan cap, with every finding replaced by its placeholder."""
        if not self._detectors:
            return text
        marker = ""
        if len(text) > self._max_scan_chars:
            cut = _cut_point(text, self._max_scan_chars)
            marker = f"…[unscanned: {len(text) - cut} chars dropped]"
            text = text[:cut]
        if not any(map(call, self._gates, repeat(text))):  # the fast path: nothing to look at
            return text + marker
        open_gates = [gate for gate in self._gates if gate(text)]
        spans = _first_come(
            (start, end, detector.placeholder)
            for detector in self._detectors
            if detector.gate in open_gates
            for start, end in detector.find(text)
        )
        if not spans:
            return text + marker
        pieces = []
        position = 0
        for start, end, placeholder in spans:
            pieces.append(text[position:start])
            pieces.append(placeholder)
            position = end
        pieces.append(text[position:])
        pieces.append(marker)
        return "".join(pieces)

    def redact_value(self, value: T) -> T:
        """Redact strings anywhere inside dicts, lists and tuples (error `context`); other types pass.

        A string under a secret-looking key (`{"password": "hunter2"}`) is replaced whole,
        since the value alone gives no hint that it is a secret.
        """
        if isinstance(value, str):
            return self.redact(value)  # type: ignore[return-value]
        if isinstance(value, dict):
            return {key: self._redact_item(key, item) for key, item in value.items()}  # type: ignore[return-value]
        if isinstance(value, list):
            return [self.redact_value(item) for item in value]  # type: ignore[return-value]
        if isinstance(value, tuple):
            return tuple(self.redact_value(item) for item in value)  # type: ignore[return-value]
        return value

    def _redact_item(self, key: object, item: object) -> object:
        if (
            isinstance(item, str)
            and isinstance(key, str)
            and item
            and self._secrets
            and _SECRET_KEY_NAME.fullmatch(key)
        ):
            return SECRET
        return self.redact_value(item)


_SECRET_KEY_NAME = _compile(rf"{_PASSWORD_KEY} | {_TOKEN_KEY} | {_KEY_RUN}(?<=authorization)", re.IGNORECASE)


def _compile_custom(source: str) -> re.Pattern[str]:
    try:
        return re.compile(source)
    except (re.error, TypeError) as exc:
        raise ConfigError(f"privacy.redact_patterns: invalid regular expression {source!r}: {exc}") from None


def _cut_point(text: str, limit: int) -> int:
    """Where to cut over-long text: at `limit`, or back at a blank so no secret is cut in half.

    A key cut short no longer matches its detector and would leak its first half.
    """
    if text[limit].isspace() or text[limit - 1].isspace():
        return limit
    blank = max(text.rfind(char, 0, limit) for char in " \t\r\n")
    return blank + 1 if blank >= 0 else limit


def _first_come(findings: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Keep findings that overlap no earlier (higher-priority) one, sorted by position."""
    kept: list[tuple[int, int, str]] = []
    starts: list[int] = []
    for finding in findings:
        start, end, _ = finding
        index = bisect_right(starts, start)
        if index and kept[index - 1][1] > start:
            continue
        if index < len(kept) and kept[index][0] < end:
            continue
        starts.insert(index, start)
        kept.insert(index, finding)
    return kept


def _unique(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))
