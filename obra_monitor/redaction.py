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

from obra_monitor.encoding import truncation_marker
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
T = TypeVar("T")


# -- gates: cheap necessary conditions, shared by several detectors ---------------------------

@dataclass(frozen=True, slots=True, eq=False)  # identity hash: gates are looked up per call
class Gate:
    """A cheap necessary condition for the detectors behind it.

    The fast path asks every distinct `is_open` once and returns when all are shut. When a
    gate is open, `regions` (if given) narrows where its detectors need to look.
    """

    is_open: Callable[[str], object]  # truthy when the text may hold a finding
    regions: Callable[[str], list[Span]] | None = None

    def spans(self, text: str) -> list[Span]:
        return self.regions(text) if self.regions else [(0, len(text))]


# Phones, SSNs, cards, IBANs and IPv4s hold 7+ chars of digits and separators.
# ([0-9] rather than \d: a plain range is the cheapest class for the engine to skip with.)
_NUMBER_RUN = re.compile(r"[0-9][0-9\s().+-]{5,}[0-9]", re.ASCII)
_SECRET_WORDS: Final = ("pass", "pwd", "secret", "key", "token", "authorization")


def _number_runs(text: str) -> list[Span]:
    """Each run, widened by the `+` or `(` that may open it and two chars for lookaheads."""
    return [(max(0, run.start() - 1), run.end() + 2) for run in _NUMBER_RUN.finditer(text)]


def _has_assignment(text: str) -> bool:
    """`password=...`, `"token": ...`, `Authorization: ...` need a separator and a key word."""
    if "=" not in text and ":" not in text:
        return False
    lowered = text.lower()
    return any(word in lowered for word in _SECRET_WORDS)


_LONG_RUN = re.compile(r"[!-~]{15}").search  # a plain range is cheaper for the engine than \S


def _has_provider_token(text: str) -> bool:
    """A run of 15+ printable ASCII chars (every key, JWT, bearer token and PEM body has one),
    and one of the literals its detectors hint at (`sk-`, `AKIA`, `eyJ`; `_PROVIDER_HINT`
    is built from the detector table below)."""
    return _LONG_RUN(text) is not None and _PROVIDER_HINT(text) is not None


def _always(text: str) -> bool:
    """Custom patterns are opaque, so nothing can rule them out."""
    return True


# E-mail addresses and credentials in URLs.
_AT = Gate(re.compile("@").search)
# Provider keys, JWTs, bearer tokens and PEM blocks.
_PROVIDER_TOKEN = Gate(_has_provider_token)
# Card, SSN, phone and IPv4 matches lie within one number run: only the runs are scanned.
_NUMBER_RUNS = Gate(_NUMBER_RUN.search, _number_runs)
# An IBAN's account number holds such a run too, but its letters may start well before it.
_NUMBERS = Gate(_NUMBER_RUN.search)
# An IPv6 address is compressed (`::`) or has eight groups; times (12:30:45) have neither.
_IPV6_COLONS = Gate(re.compile(r":(?::|(?:[0-9A-Fa-f]{0,4}:){6})").search)
_ASSIGNMENT = Gate(_has_assignment)
_ANYTHING = Gate(_always)
# The fast path stops at the first open gate, so it asks the cheap ones first; the provider
# gate reads the whole text for some twenty literals.
_GATES_CHEAP_FIRST: Final = (_ANYTHING, _AT, _IPV6_COLONS, _NUMBER_RUNS, _NUMBERS, _ASSIGNMENT, _PROVIDER_TOKEN)


# -- detectors ---------------------------------------------------------------------------------
# Every pattern starts with a literal or a character class, never with a lookbehind: the
# engine then skips in C to where a match can begin, while a leading lookbehind makes it try
# every position (about ten times slower on a 2 KB message). So "not glued to the word
# before" is written just after the first character, as `X(?<![\w-].)`; an e-mail's local
# part is read backwards from its `@`.

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
    accept: Callable[[re.Match[str]], bool] | None = None
    # Literals of which one must occur: an `in` test is far cheaper than starting the regex.
    hints: tuple[str, ...] = ()

    def hinted(self, text: str) -> bool:
        """False when none of `hints` occurs, so `find` would find nothing."""
        return not self.hints or any(map(text.__contains__, self.hints))

    def find(self, text: str, regions: Iterable[Span]) -> Iterator[Span]:
        """Spans to replace, from matches within `regions` (lookarounds see past their ends)."""
        group = "secret" if "secret" in self.pattern.groupindex else 0
        for start, end in regions:
            for match in self.pattern.finditer(text, start, end):
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

    def find(self, text: str, regions: Iterable[Span]) -> Iterator[Span]:
        for start, end in regions:
            for match in self.pattern.finditer(text, start, end):
                yield from self._checked_runs(list(_GROUP.finditer(text, match.start(), match.end())))

    def _checked_runs(self, groups: list[re.Match[str]]) -> Iterator[Span]:
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


@dataclass(frozen=True, slots=True)
class EmailDetector(Detector):
    """`pattern` matches from the `@` on (a fast literal search); the local part is then
    read backwards, since a pattern starting in it would be tried at every letter of the text."""

    def find(self, text: str, regions: Iterable[Span]) -> Iterator[Span]:
        for region_start, region_end in regions:
            for match in self.pattern.finditer(text, region_start, region_end):
                at = start = match.start()
                while start > 0 and at - start < _MAX_LOCAL_PART and text[start - 1] in _LOCAL_PART_CHARS:
                    start -= 1
                local = text[start:at]
                if local and local.lower() != "git" and not _RETINA_ASSET.match(match.group("domain")):
                    yield start, match.end()


_GROUP = re.compile(r"[A-Za-z0-9]+")
_LOCAL_PART_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
_MAX_LOCAL_PART: Final = 64  # RFC 5321
# `git@github.com:org/repo` is an SSH remote and `logo@2x.png` a retina asset, not addresses.
_RETINA_ASSET = re.compile(r"\d+(?:\.\d+)?x\.")


def _compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Verbose, and ASCII so `\\d`, `\\w`, `\\s` mean what the gates assume (and run faster)."""
    return re.compile(pattern, flags | re.VERBOSE | re.ASCII)


def _looks_random(value: str) -> bool:
    """Generated tokens mix letters and digits; words and prose ("refresh", "role checks") do not."""
    return len(value) >= 8 and any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _has_digit(match: re.Match[str]) -> bool:
    """`sk-` also starts hyphenated words; a real key has digits."""
    return any(c.isdigit() for c in match.group())


def _token(name: str, placeholder: str, body: str, *hints: str,
           accept: Callable[[re.Match[str]], bool] | None = None) -> Detector:
    """A provider's token, not glued to a longer word on either side.

    `body` opens with its literal prefix, with `(?<![\\w-].)` after the first character (the
    left-hand side, checked where it costs nothing). Its runs are possessive (`{20,}+`): a
    token never gives characters back, so crafted input cannot make the engine backtrack.
    """
    return Detector(name, placeholder, _PROVIDER_TOKEN, _compile(rf"(?:{body}) (?![\w-])"), accept, hints)


def _secret_looks_random(match: re.Match[str]) -> bool:
    return _looks_random(match.group("secret"))


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


def _is_public_ipv4(match: re.Match[str]) -> bool:
    """Four canonical octets up to 255; loopback and 0.0.0.0 say nothing about anyone."""
    octets = match.group().split(".")
    return (
        all(int(octet) <= 255 and octet == str(int(octet)) for octet in octets)
        and octets[0] != "127"
        and octets != ["0", "0", "0", "0"]
    )


def _is_ssn(match: re.Match[str]) -> bool:
    """Area 000, 666 and 9xx, group 00 and serial 0000 are never issued."""
    area, group, serial = match.group().split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


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


def _is_international_phone(match: re.Match[str]) -> bool:
    """E.164 allows at most 15 digits; fewer than 8 after a `+` is a score or an offset."""
    return 8 <= sum(c.isdigit() for c in match.group()) <= 15


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


# Key names whose value is a secret in `key=value`, `key: value` and `"key": "value"`. The
# pattern starts at the word, which must end the key (`DB_PASSWORD=`, `client_secret:`; not
# `password_policy:`); `pass` and `pwd` count only as a whole segment, not in `bypass`; and
# `/etc/passwd:` is a path, not a key. The words are grouped by first letter so the pattern
# starts with a character class (a case-insensitive alternation gives the engine nothing to
# skip with): password passwd passphrase pass pwd private_key | secret secret_key | api_key
# apikey access_key.
_PASSWORD_WORD: Final = r"""
    [psa] (?<!/.)
    (?: (?<=p) (?: ass(?:word|wd|phrase) | rivate[_-]?key | (?<![a-z0-9].) (?:ass|wd) )
      | (?<=s) ecret(?:[_-]?key)?
      | (?<=a) (?: pi[_-]?key | ccess[_-]?key ) )"""
_TOKEN_WORD: Final = "token"
_ASSIGNED_VALUE: Final = r"""
    ["']? \s* (?: := | => | [:=] ) \s*
    (?: (?P<quote>["']) )?
    (?P<secret> (?(quote) (?: \\. | (?!(?P=quote))[^\n\\] )+     # quoted: up to the closing quote
                        | [^\s"'&,;]+ ) )                        # bare: up to a blank, quote, & , ;"""


def _assignment(word: str) -> re.Pattern[str]:
    return _compile(rf"{word} (?![\w-]) {_ASSIGNED_VALUE}", re.IGNORECASE)


SECRET_DETECTORS: Final[tuple[Detector, ...]] = (
    Detector(
        "private_key_block", SECRET, _PROVIDER_TOKEN,
        _compile(r"""-----BEGIN[ A-Z0-9]*PRIVATE\ KEY(?:\ BLOCK)?-----
                     .*? (?: -----END[ A-Z0-9]*PRIVATE\ KEY(?:\ BLOCK)?----- | \Z )""", re.DOTALL),
        hints=("PRIVATE KEY",),
    ),
    _token("openai_anthropic_key", API_KEY,
           r"s(?<![\w-].)k- (?:ant-|proj-|svcacct-|admin-)? [A-Za-z0-9_-]{20,}+", "sk-", accept=_has_digit),
    _token("github_token", API_KEY,
           r"g(?<![\w-].) (?: h[pousr]_[A-Za-z0-9]{36,}+ | ithub_pat_[A-Za-z0-9_]{22,}+ )", "gh", "github_pat_"),
    _token("gitlab_token", API_KEY, r"g(?<![\w-].)lpat- [A-Za-z0-9_-]{20,}+", "glpat-"),
    _token("aws_access_key_id", API_KEY, r"A(?<![\w-].) (?:KIA|SIA) [A-Z0-9]{16}", "AKIA", "ASIA"),
    Detector(
        "aws_secret_access_key", API_KEY, _ASSIGNMENT,
        _compile(r"""aws[_.\ -]?secret[_.\ -]?(?:access[_.\ -]?)?key(?:[_-]?id)? ["']? \s* [:=] \s* ["']?
                     (?P<secret>[A-Za-z0-9/+=]{40}) (?![A-Za-z0-9/+=])""", re.IGNORECASE),
    ),
    _token("google_api_key", API_KEY, r"A(?<![\w-].)Iza [0-9A-Za-z_-]{35}", "AIza"),
    _token("slack_token", API_KEY, r"x(?<![\w-].)ox[abprs]- [A-Za-z0-9-]{10,}+", "xox"),
    Detector("slack_webhook", API_KEY, _PROVIDER_TOKEN,
             _compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9_/-]+)"),
             hints=("hooks.slack.com/",)),
    _token("stripe_key", API_KEY, r"[sr](?<![\w-].)k_ (?:live|test)_ [A-Za-z0-9]{16,}+", "k_live_", "k_test_"),
    _token("npm_token", API_KEY, r"n(?<![\w-].)pm_ [A-Za-z0-9]{36}", "npm_"),
    _token("pypi_token", API_KEY, r"p(?<![\w-].)ypi- [A-Za-z0-9_-]{50,}+", "pypi-"),
    _token("sendgrid_key", API_KEY, r"S(?<![\w-].)G\. [A-Za-z0-9_-]{22} \. [A-Za-z0-9_-]{43}", "SG."),
    _token("twilio_key", API_KEY, r"(?: S(?<![\w-].)K | A(?<![\w-].)C ) [0-9a-f]{32}", "SK", "AC"),
    _token("jwt", SECRET,
           r"e(?<![\w-].)yJ [A-Za-z0-9_-]{8,}+ \. [A-Za-z0-9_-]{8,}+ \. [A-Za-z0-9_-]*+", "eyJ"),
    Detector(
        "url_credentials", SECRET, _AT,
        # user:password between scheme and host; the password may itself hold an "@"
        _compile(r":// (?P<secret>[^\s/?#@:]*:[^\s/?#]*) @"),
        hints=("://",),
    ),
    Detector(
        "authorization_header", SECRET, _ASSIGNMENT,
        _compile(r"""\bauthorization ["']? \s* [:=] \s* ["']?
                     (?P<scheme>(?:bearer|basic|token|digest|bot)\s+)?
                     (?P<secret>[^\s"',;]+)""", re.IGNORECASE),
        accept=_authorization_value,
    ),
    Detector(
        "bearer_token", SECRET, _PROVIDER_TOKEN,
        # [Bb] rather than IGNORECASE: a case-insensitive word gives the engine nothing to skip with
        _compile(r"[Bb](?:earer|EARER) (?<!\w.{6}) \s+ (?P<secret>[A-Za-z0-9._~+/=-]{15,}[A-Za-z0-9_~+/=-])"),
        accept=_secret_looks_random, hints=("earer", "EARER"),
    ),
    Detector("password_assignment", SECRET, _ASSIGNMENT, _assignment(_PASSWORD_WORD),
             accept=_is_assigned_secret),
    Detector("token_assignment", SECRET, _ASSIGNMENT, _assignment(_TOKEN_WORD),
             accept=_is_assigned_token),
)

# Every detector behind the provider-token gate has hints; the gate looks for any of them.
_PROVIDER_HINT = re.compile("|".join(sorted({
    re.escape(hint) for detector in SECRET_DETECTORS if detector.gate is _PROVIDER_TOKEN for hint in detector.hints
}))).search

PII_DETECTORS: Final[tuple[Detector, ...]] = (
    EmailDetector(
        "email", EMAIL, _AT,
        _compile(r"@ (?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+ [A-Za-z]{2,24}) (?![\w-])"),
    ),
    ChecksumDetector(
        "iban", IBAN, _NUMBERS,
        _compile(r"[A-Z] (?<![A-Za-z0-9].) [A-Z]\d{2} (?:\ ?[A-Z0-9]){11,}"),
        sizes=range(15, 35), valid=_is_iban,
    ),
    ChecksumDetector(
        "credit_card", CREDIT_CARD, _NUMBER_RUNS,
        # 13+ chars, in groups of 3+ digits (4-4-4-4, 4-6-5, 4-4-4-4-3 or none): not "1 2 3 ..."
        _compile(r"\d (?<![\w+.-].) (?=[\d\ -]{12}) \d{3,}+ (?:[\ -]\d{3,}+)* (?!\w)"),
        sizes=range(13, 20), valid=_is_card,
    ),
    Detector(
        "us_ssn", SSN, _NUMBER_RUNS,
        _compile(r"\d (?<![\w-].) \d{2}-\d{2}-\d{4} (?![\w-])"),
        accept=_is_ssn, hints=("-",),
    ),
    Detector(
        "ipv4", IP, _NUMBER_RUNS,
        _compile(r"\d (?<![\w.].) \d{0,2} (?:\.\d{1,3}){3} (?!\w|\.\d)"),
        accept=_is_public_ipv4, hints=(".",),
    ),
    Detector(
        "international_phone", PHONE, _NUMBER_RUNS,
        # +44 20 7946 0958, +1 (415) 555-0132, +14155550132
        _compile(r"\+ (?<![\w+.-].) (?> \d{1,3} (?:[\ .-]?(?:\(\d{1,4}\)|\d{1,4})){2,6} ) (?!\w|[.-]\d)"),
        accept=_is_international_phone, hints=("+",),
    ),
    Detector(
        "us_phone", PHONE, _NUMBER_RUNS,
        _compile(r"""[(1-9] (?<![\w+.-].)
            (?: (?<=\() [2-9]\d{2} \) [\ .-]?                                  # (415) 555-0132
              | (?<=1) [\ .-] (?: \([2-9]\d{2}\)[\ .-]? | [2-9]\d{2}[\ .-] )    # 1-800-555-0199
              | (?<=[2-9]) \d{2} [\ .-] )                                       # 415.555.0132
            [2-9]\d{2} [\ .-] \d{4} (?!\w|[.-]\d)"""),
    ),
    Detector(
        "ipv6", IP, _IPV6_COLONS,
        _compile(r"[0-9A-Fa-f:] (?<![\w:.].) [0-9A-Fa-f:]*[0-9A-Fa-f] (?!\w|:[\w:])"),
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
        if isinstance(custom_patterns, str):  # would be read as one pattern per character
            raise TypeError("custom_patterns must be a list of patterns, not one string")
        custom = tuple(
            Detector(f"custom:{source}", REDACTED, _ANYTHING, _compile_custom(source))
            for source in custom_patterns
        )
        # Order is priority: custom patterns are the operator's explicit wish, secrets are
        # checked before PII so `password=bob@example.com` says SECRET, not EMAIL.
        self._detectors = custom + (SECRET_DETECTORS if secrets else ()) + (PII_DETECTORS if pii else ())
        used = {detector.gate for detector in self._detectors}
        self._gates = tuple(gate for gate in _GATES_CHEAP_FIRST if gate in used)
        self._gate_tests = tuple(_unique(gate.is_open for gate in self._gates))
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
            marker = truncation_marker(len(text) - cut)
            text = text[:cut]
        if not any(map(call, self._gate_tests, repeat(text))):  # the fast path: nothing to look at
            return text + marker
        regions = {gate: gate.spans(text) for gate in self._gates if gate.is_open(text)}
        spans = _first_come(
            (start, end, detector.placeholder)
            for detector in self._detectors
            if detector.gate in regions and detector.hinted(text)
            for start, end in detector.find(text, regions[detector.gate])
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


# A dict key whose string value is a secret whatever it looks like (`{"password": "x"}`).
_SECRET_KEY_NAME = _compile(rf"[\w.-]*? (?: {_PASSWORD_WORD} | {_TOKEN_WORD} | authorization )", re.IGNORECASE)


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
