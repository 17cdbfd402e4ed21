"""Meter readings by SMS: the grammar. Pure: plain values in, plain values out, no Django import.

A message is an optional keyword, the account number, then one or more readings, each a code
(the operator's, e.g. ``ХВ`` for cold water) followed by one to three values (one per register:
``T``; or ``T1`` day and ``T2`` night; or ``T1``, ``T2``, ``T3``). Three grammars are in use and
the operator chooses which it accepts (docs/sms.md):

- ``spaced``: code and values are separate words: ``12345 ХВ 11 ГВ 12 ЭЛ 1234 567``
  (the Stavropol format; ``ЭЛ 1234/567`` is the same day/night pair);
- ``glued``: the code touches its value: ``12345 ХВ11 ГВ12``, ``12345ХВ11ГВ12``, ``ЭЛ1234/567``;
- ``hash``: fields separated by ``#``: ``12345#ХВ#11#ГВ#12``, ``12345#ХВ11#ГВ12``,
  ``12345#ЭЛ#1234#567``.

Whatever the grammar: any subset of codes in any order; a repeated code is the resource's next
meter (``ХВ 11 ХВ 12``: the first and the second cold-water meter, ordinal 1 and 2); case does
not matter; Latin letters that look like Cyrillic ones are read as those (``XB`` is ``ХВ``); a
decimal comma is a decimal point (``11,5`` is ``11.5``); punctuation other than ``#`` and ``/``
separates like a space. The parser never raises on any text: what it cannot read becomes an
error in the result.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache

SPACED, GLUED, HASH = "spaced", "glued", "hash"
GRAMMARS = (SPACED, GLUED, HASH)

# Values per code: one per register, in this order.
REGISTER_SETS = {1: ("T",), 2: ("T1", "T2"), 3: ("T1", "T2", "T3")}
MAX_VALUES = max(REGISTER_SETS)
MAX_NUMBER_LENGTH = 32

# Error codes.
EMPTY = "empty"  # nothing but spaces
NO_ACCOUNT = "no_account"  # no account number before the first code
UNKNOWN_CODE = "unknown_code"  # detail: the word as typed
MISSING_VALUE = "missing_value"  # detail: the code
BAD_NUMBER = "bad_number"  # detail: the text that is not a number
TOO_MANY_VALUES = "too_many_values"  # detail: the code
STRAY_VALUE = "stray_value"  # a number that belongs to no code; detail: the number
NO_READINGS = "no_readings"  # an account number and no code at all
FORMAT_NOT_ACCEPTED = "format_not_accepted"  # detail: the grammar the operator has not enabled
ERRORS = (
    EMPTY,
    NO_ACCOUNT,
    UNKNOWN_CODE,
    MISSING_VALUE,
    BAD_NUMBER,
    TOO_MANY_VALUES,
    STRAY_VALUE,
    NO_READINGS,
    FORMAT_NOT_ACCEPTED,
)
# Errors that spoil the whole message (the others spoil one reading).
MESSAGE_ERRORS = frozenset({EMPTY, NO_ACCOUNT, NO_READINGS, FORMAT_NOT_ACCEPTED})

# Latin capitals that look like Cyrillic ones (compared after upper-casing).
LOOKALIKES = str.maketrans("ABCEHIKMOPTXY", "АВСЕНІКМОРТХУ")


def fold(text: str) -> str:
    """The form codes and keywords are compared in: NFKC, upper case, Latin look-alikes as the
    Cyrillic letters they look like (X/Х, B/В, E/Е, K/К, M/М, H/Н, O/О, P/Р, C/С, T/Т, A/А,
    Y/У, I/І)."""
    return unicodedata.normalize("NFKC", text).upper().translate(LOOKALIKES)


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedReading:
    code: str  # the operator's code, as configured (not as typed)
    resource: str
    ordinal: int  # 1 for the first meter of this resource in the message, 2 for the second...
    values: tuple[Decimal, ...]  # one per register, in register order
    typed: tuple[str, ...] = field(default=(), compare=False)  # the values as typed

    @property
    def registers(self) -> tuple[str, ...]:
        """The registers the values are for: ``T``; ``T1``, ``T2``; or ``T1``, ``T2``, ``T3``."""
        return REGISTER_SETS[len(self.values)]

    def by_register(self) -> dict[str, Decimal]:
        return dict(zip(self.registers, self.values, strict=True))


@dataclass(frozen=True)
class ParseError:
    code: str  # one of ERRORS
    detail: str = ""
    # For an error in one reading: its resource and ordinal (see ParsedReading).
    resource: str | None = None
    ordinal: int | None = None


@dataclass(frozen=True)
class ParsedMessage:
    account_number: str | None  # digits only
    readings: tuple[ParsedReading, ...] = ()
    errors: tuple[ParseError, ...] = ()
    grammars: frozenset[str] = frozenset()  # the grammars the message is written in
    keyword: str | None = None  # the operator's keyword it started with, as configured
    # A keyword or at least one of the operator's codes: the sender meant to send readings.
    recognised: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def message_errors(self) -> tuple[ParseError, ...]:
        """The errors that spoil the whole message (see MESSAGE_ERRORS)."""
        return tuple(e for e in self.errors if e.code in MESSAGE_ERRORS)


# --- the operator's codes -------------------------------------------------------------------


@dataclass(frozen=True)
class CodeProblem:
    kind: str  # "empty", "not_letters", "same_as" (two codes read alike), "keyword_clash"
    code: str
    other: str = ""


class CodeSetError(ValueError):
    """The operator's codes or keywords cannot be told apart (see check_codes)."""

    def __init__(self, problems: list[CodeProblem]):
        super().__init__("; ".join(f"{p.kind}: {p.code} {p.other}".strip() for p in problems))
        self.problems = problems


def check_codes(codes: Mapping[str, str], keywords: Iterable[str] = ()) -> list[CodeProblem]:
    """What is wrong with a set of codes and keywords: a code must be letters only; no two codes
    may read alike once case and look-alike letters are folded (``XB`` and ``ХВ``); no keyword
    word may read like a code. Empty list: usable."""
    problems: list[CodeProblem] = []
    seen: dict[str, str] = {}
    for code in codes:
        text = str(code).strip()
        if not text:
            problems.append(CodeProblem("empty", str(code)))
            continue
        if not fold(text).isalpha():
            problems.append(CodeProblem("not_letters", text))
            continue
        key = fold(text)
        if key in seen:
            problems.append(CodeProblem("same_as", text, seen[key]))
        else:
            seen[key] = text
    for keyword in keywords:
        words = fold(str(keyword)).split()
        if not words or not all(w.isalpha() for w in words):
            problems.append(CodeProblem("not_letters", str(keyword)))
        for word in words:
            if word in seen:
                problems.append(CodeProblem("keyword_clash", str(keyword), seen[word]))
    return problems


@dataclass(frozen=True)
class Codebook:
    codes: Mapping[str, tuple[str, str]]  # folded code -> (code as configured, resource)
    keywords: tuple[tuple[tuple[str, ...], str], ...]  # (folded words, keyword as configured)

    def code_for(self, code_or_resource: str) -> str:
        """The operator's code for a code (any spelling) or for a resource (its first code)."""
        entry = self.codes.get(fold(code_or_resource))
        if entry is not None:
            return entry[0]
        for code, resource in self.codes.values():
            if resource == code_or_resource:
                return code
        raise ValueError(f"no code for {code_or_resource!r}")


def codebook(codes: Mapping[str, str], keywords: Iterable[str] = ()) -> Codebook:
    """The operator's codes and keywords, ready to compare; CodeSetError when ambiguous."""
    return _codebook(
        tuple((str(c), str(r)) for c, r in codes.items()), tuple(str(k) for k in keywords)
    )


@lru_cache(maxsize=64)
def _codebook(codes: tuple[tuple[str, str], ...], keywords: tuple[str, ...]) -> Codebook:
    problems = check_codes(dict(codes), keywords)
    if problems:
        raise CodeSetError(problems)
    folded = {fold(code.strip()): (code.strip(), resource) for code, resource in codes}
    words = tuple(
        sorted(
            ((tuple(fold(k).split()), k.strip()) for k in keywords),
            key=lambda item: -len(item[0]),  # the longest keyword first
        )
    )
    return Codebook(folded, words)


# --- reading the text -----------------------------------------------------------------------

_NUM, _WORD, _HASH, _SLASH = "num", "word", "hash", "slash"
_NUMBER_RUN = re.compile(r"[0-9]+(?:[.,\-][0-9]+)*")
_INTEGER = re.compile(r"[0-9]+(?:-[0-9]+)*")
_DECIMAL = re.compile(r"[0-9]+(?:[.,][0-9]+)?")


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    glued: bool  # touches the token before it (nothing between them)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    # Digits of other scripts (after NFKC, full-width ones are ASCII already) as ASCII digits.
    if not text.isascii():
        text = "".join(
            str(unicodedata.decimal(ch)) if not ch.isascii() and ch.isdecimal() else ch
            for ch in text
        )
    return text


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    touching = False  # the next token touches the previous one
    while i < n:
        ch = text[i]
        if "0" <= ch <= "9":
            match = _NUMBER_RUN.match(text, i)
            tokens.append(_Token(_NUM, match.group(), touching))
            i, touching = match.end(), True
        elif ch.isalpha():
            j = i + 1
            while j < n and text[j].isalpha():
                j += 1
            tokens.append(_Token(_WORD, text[i:j], touching))
            i, touching = j, True
        else:
            if ch == "#":
                tokens.append(_Token(_HASH, ch, False))
            elif ch == "/":
                tokens.append(_Token(_SLASH, ch, False))
            i, touching = i + 1, False
    return tokens


def _number(text: str) -> Decimal | None:
    if len(text) > MAX_NUMBER_LENGTH or not _DECIMAL.fullmatch(text):
        return None
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


@dataclass
class _Pending:
    """A reading being collected: the code and the values after it."""

    code: str = ""
    resource: str = ""
    ordinal: int = 0
    unknown: bool = False  # an unknown code: its values are swallowed, not reported again
    values: list[Decimal] = field(default_factory=list)
    typed: list[str] = field(default_factory=list)
    bad: str | None = None


def parse(
    text: str,
    *,
    codes: Mapping[str, str],
    grammars: Iterable[str] = GRAMMARS,
    keywords: Iterable[str] = (),
) -> ParsedMessage:
    """Read an SMS. ``codes``: the operator's code → resource; ``grammars``: the ones it
    accepts; ``keywords``: words a message may start with. Raises CodeSetError only for an
    unusable code set (see check_codes), never for the text."""
    book = codebook(codes, keywords)
    enabled = frozenset(grammars)
    text = _normalise(text if isinstance(text, str) else "")
    if not text.strip():
        return ParsedMessage(None, errors=(ParseError(EMPTY),))
    tokens = _lex(text)
    uses_hash = any(t.kind == _HASH for t in tokens)
    content = [t for t in tokens if t.kind in (_NUM, _WORD)]
    errors: list[ParseError] = []
    readings: list[ParsedReading] = []
    used: set[str] = set()
    counts: dict[str, int] = {}
    recognised = False
    codes_seen = False

    i = 0
    keyword = None
    for words, configured in book.keywords:
        found = [fold(t.text) for t in content[i : i + len(words)] if t.kind == _WORD]
        if tuple(found) == words:
            keyword, i, recognised = configured, i + len(words), True
            break

    account = None
    if i < len(content) and content[i].kind == _NUM:
        if _INTEGER.fullmatch(content[i].text):
            account = content[i].text.replace("-", "")
        else:
            errors.append(ParseError(NO_ACCOUNT, content[i].text))
        i += 1
    else:
        errors.append(ParseError(NO_ACCOUNT))

    def close(pending: _Pending | None) -> None:
        if pending is None or pending.unknown:
            return
        where = {"resource": pending.resource, "ordinal": pending.ordinal}
        if pending.bad is not None:
            errors.append(ParseError(BAD_NUMBER, pending.bad, **where))
        elif not pending.values:
            errors.append(ParseError(MISSING_VALUE, pending.code, **where))
        elif len(pending.values) > MAX_VALUES:
            errors.append(ParseError(TOO_MANY_VALUES, pending.code, **where))
        else:
            readings.append(
                ParsedReading(
                    pending.code,
                    pending.resource,
                    pending.ordinal,
                    tuple(pending.values),
                    tuple(pending.typed),
                )
            )

    pending: _Pending | None = None
    while i < len(content):
        token = content[i]
        following = content[i + 1] if i + 1 < len(content) else None
        if token.kind == _NUM:
            if pending is None:
                errors.append(ParseError(STRAY_VALUE, token.text))
            elif not pending.unknown and pending.bad is None:
                value = _number(token.text)
                if not pending.values and not pending.typed:
                    used.add(GLUED if token.glued else SPACED)
                if value is None:
                    pending.bad = token.text
                else:
                    pending.values.append(value)
                    pending.typed.append(token.text)
            i += 1
            continue
        entry = book.codes.get(fold(token.text))
        if entry is not None:
            close(pending)
            code, resource = entry
            counts[resource] = counts.get(resource, 0) + 1
            pending = _Pending(code, resource, counts[resource])
            recognised = codes_seen = True
            if token.glued:  # touches the account or the previous value
                used.add(GLUED)
            i += 1
            continue
        # A word that is no code.
        previous = content[i - 1] if i > 0 else None
        live = pending is not None and not pending.unknown and pending.bad is None
        if (
            live
            and token.glued
            and previous is not None
            and previous.kind == _NUM
            and (pending.typed and pending.typed[-1] == previous.text)
        ):
            # Letters inside a number ("11a", "1O5"): the whole thing is not a number.
            pending.values.pop()
            bad = pending.typed.pop() + token.text
            if following is not None and following.kind == _NUM and following.glued:
                bad += following.text
                i += 1
            pending.bad = bad
        elif live and not pending.values and (following is None or following.kind != _NUM):
            # A code, then a word that is not followed by a number: a value spelt out.
            pending.bad = token.text
        else:
            close(pending)
            errors.append(ParseError(UNKNOWN_CODE, token.text))
            codes_seen = True
            pending = _Pending(unknown=True)
        i += 1
    close(pending)

    if not codes_seen:
        errors.append(ParseError(NO_READINGS))
    if uses_hash:
        used = {HASH}
    for grammar in GRAMMARS:
        if grammar in used and grammar not in enabled:
            errors.append(ParseError(FORMAT_NOT_ACCEPTED, grammar))
    return ParsedMessage(
        account_number=account,
        readings=tuple(readings),
        errors=tuple(errors),
        grammars=frozenset(used),
        keyword=keyword,
        recognised=recognised,
    )


# --- writing a message ----------------------------------------------------------------------


def format_value(value, decimal_separator: str = ".") -> str:
    """A reading value as a sender would type it (no exponent, no sign)."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not number.is_finite() or number.is_signed():
        raise ValueError(f"not a reading: {value!r}")
    text = format(number, "f")
    if len(text) > MAX_NUMBER_LENGTH:
        raise ValueError(f"too long for a message: {value!r}")
    return text.replace(".", decimal_separator)


def format_message(
    account: str,
    readings: Iterable[ParsedReading | tuple[str, Sequence]],
    grammar: str,
    codes: Mapping[str, str],
    keyword: str | None = None,
    *,
    decimal_separator: str = ".",
    register_separator: str | None = None,
    compact: bool = False,
) -> str:
    """The message a sender would type for these readings; ``parse`` reads it back.

    ``readings``: ParsedReadings or (code or resource, values) pairs, in the order to write
    them. ``register_separator`` goes between one code's values (spaced: " "; glued: "/";
    hash: "#", or "/" when compact). ``compact``: glued without a space between readings
    (``12345ХВ11ГВ12``); hash with each code and its values in one field (``12345#ХВ11#ГВ12``).
    """
    if grammar not in GRAMMARS:
        raise ValueError(f"unknown grammar {grammar!r}")
    if decimal_separator not in (".", ","):
        raise ValueError("the decimal separator is . or ,")
    account = str(account)
    if not (account.isascii() and account.isdigit()):
        raise ValueError("the account number is digits")
    book = codebook(codes, [keyword] if keyword else ())
    pairs = []
    for reading in readings:
        code, values = (
            (reading.code, reading.values) if isinstance(reading, ParsedReading) else reading
        )
        texts = [format_value(v, decimal_separator) for v in values]
        if not 1 <= len(texts) <= MAX_VALUES:
            raise ValueError(f"one to {MAX_VALUES} values per code")
        pairs.append((book.code_for(code), texts))

    if grammar == SPACED:
        between = register_separator if register_separator is not None else " "
        words = [keyword] if keyword else []
        words.append(account)
        words += [f"{code} {between.join(texts)}" for code, texts in pairs]
        return " ".join(words)
    if grammar == GLUED:
        between = register_separator if register_separator is not None else "/"
        joiner = "" if compact else " "
        body = joiner.join([account] + [code + between.join(texts) for code, texts in pairs])
        return f"{keyword} {body}" if keyword else body
    fields = [keyword] if keyword else []
    fields.append(account)
    for code, texts in pairs:
        if compact:
            between = register_separator if register_separator is not None else "/"
            fields.append(code + between.join(texts))
        else:
            between = register_separator if register_separator is not None else "#"
            fields += [code, between.join(texts)]
    return "#".join(fields)
