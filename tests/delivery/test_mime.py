"""The hand-written MIME builder, checked by parsing its output with the stdlib parser."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.delivery.base import Recipient
from newsletter.delivery.mime import (
    CRLF,
    LF,
    MimeBuilder,
    custom_arg_header,
    custom_args_from_headers,
    dot_stuffed,
    encode_address,
)
from newsletter.placeholders import remaining_placeholders
from newsletter.render.recipient import typical_values
from tests.delivery import samples
from tests.render.conftest import compile_
from tests.render.fixtures import WEEK


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def display_name(data: bytes) -> str:
    """The To display name decoded as RFC 2047 says (and mail clients do).

    CPython's structured-header parser inserts a space between adjacent encoded-words, which
    RFC 2047 section 6.2 says to drop; the legacy ``decode_header`` gets it right.
    """
    raw = email.message_from_bytes(data, policy=policy.compat32)["To"]
    name, _ = getaddresses([raw])[0]
    return str(make_header(decode_header(name)))


def parts(parsed: EmailMessage) -> list[EmailMessage]:
    found = list(parsed.iter_parts())
    assert all(isinstance(part, EmailMessage) for part in found)
    return found  # type: ignore[return-value]


def test_headers_and_both_parts_decode_back_exactly() -> None:
    now = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    rcpt = samples.recipient(3, name="Zoë Müller-Łukasz")
    built = MimeBuilder(samples.message(), now=now).build(rcpt)
    parsed = parse(built.data)

    assert parsed["From"] == "The Briefing <briefing@news.example.org>"
    assert parsed["To"].addresses[0].display_name == "Zoë Müller-Łukasz"
    assert parsed["To"].addresses[0].addr_spec == "reader3@example.com"
    assert parsed["Subject"] == "The Briefing for Zoë · week 48"
    assert parsed["Message-ID"] == built.message_id
    assert re.fullmatch(r"<[0-9a-f]{32}@news\.example\.org>", built.message_id)
    assert parsedate_to_datetime(parsed["Date"]) == now
    assert parsed["Reply-To"] == "editors@news.example.org"
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["List-Unsubscribe"] == (
        "<mailto:unsubscribe+3@news.example.org>, <https://news.example.org/u/3-sig>"
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert custom_args_from_headers(parsed.items()) == {
        "campaign_id": "7",
        "variant_id": "12",
        "delivery_id": "1003",
        "segment": "everyone",
    }
    assert built.envelope_to == "reader3@example.com"

    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parts(parsed)
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert text["Content-Transfer-Encoding"] == "quoted-printable"
    assert html["Content-Transfer-Encoding"] == "quoted-printable"
    assert samples.content(text) == samples.filled(samples.TEXT, rcpt)
    assert samples.content(html) == samples.filled(samples.HTML, rcpt)
    assert not remaining_placeholders(built.data.decode("ascii"))
    assert not remaining_placeholders(text.get_content() + html.get_content())
    assert not parsed.defects and not text.defects and not html.defects


def test_wire_format_is_crlf_ascii_with_short_lines() -> None:
    rcpt = samples.recipient(1, name="Ünïcödé " * 12)
    built = MimeBuilder(samples.message(subject="Ç" * 150 + " %%nl_first_name%%")).build(rcpt)
    assert built.data.isascii()
    assert b"\n" not in built.data.replace(b"\r\n", b"")
    assert built.data.endswith(b"\r\n")
    head, _, body = built.data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        limit = 76 if b"=?utf-8?b?" in line else 78
        assert len(line) <= limit, line
    for line in body.split(b"\r\n"):
        assert len(line) <= 76, line
    for word in re.findall(rb"=\?utf-8\?b\?[^?]*\?=", head):
        assert len(word) <= 75
    assert display_name(built.data) == ("Ünïcödé " * 12).strip()


def test_maildir_variant_uses_bare_lf() -> None:
    built = MimeBuilder(samples.message(), linesep=LF).build(samples.recipient(1))
    assert b"\r" not in built.data
    text, html = parts(parse(built.data))
    assert samples.content(text) == samples.filled(samples.TEXT, samples.recipient(1))
    assert samples.content(html) == samples.filled(samples.HTML, samples.recipient(1))


@pytest.mark.parametrize(
    "name",
    ['Doe, John "JD"', "O'Brien (Dublin)", "a\\b", "=?utf-8?q?not-a-word?=", "Nils; <x>"],
)
def test_display_names_that_need_quoting_round_trip(name: str) -> None:
    built = MimeBuilder(samples.message()).build(samples.recipient(1, name=name))
    assert display_name(built.data) == name
    assert parse(built.data)["To"].addresses[0].addr_spec == "reader1@example.com"


def test_line_breaks_in_values_cannot_inject_headers() -> None:
    rcpt = Recipient(
        key="1",
        email="a@example.com",
        name="Eve\r\nBcc: victim@example.com",
        substitutions={"%%nl_first_name%%": "x\r\nBcc: other@example.com"},
    )
    message = samples.message(html="<p>hi</p>", text="hi", custom_args={})
    parsed = parse(MimeBuilder(message).build(rcpt).data)
    assert parsed["Bcc"] is None
    assert "Bcc: other@example.com" in parsed["Subject"]


def test_recipient_header_and_custom_arg_replace_the_batch_wide_ones() -> None:
    message = samples.message(headers={"X-Campaign": "all", "List-Id": "<briefing.example.org>"})
    rcpt = Recipient(
        key="1",
        email="a@example.com",
        substitutions=samples.recipient(1).substitutions,
        custom_args={"campaign_id": "8"},
        headers={"x-campaign": "mine"},
    )
    parsed = parse(MimeBuilder(message).build(rcpt).data)
    assert parsed.get_all("X-Campaign") == ["mine"]
    assert parsed["List-Id"] == "<briefing.example.org>"
    assert parsed.get_all(custom_arg_header("campaign_id")) == ["8"]
    assert parsed[custom_arg_header("variant_id")] == "12"


def test_reserved_and_malformed_names_are_refused() -> None:
    with pytest.raises(ValueError, match="set by the sender"):
        MimeBuilder(samples.message(headers={"Subject": "x"}))
    builder = MimeBuilder(samples.message())
    rcpt = samples.recipient(1)
    with pytest.raises(ValueError, match="set by the sender"):
        builder.build(
            Recipient(
                "1",
                "a@example.com",
                substitutions=rcpt.substitutions,
                headers={"Message-ID": "<x@y>"},
            )
        )
    with pytest.raises(ValueError, match="invalid header name"):
        builder.build(
            Recipient(
                "1", "a@example.com", substitutions=rcpt.substitutions, headers={"Bad Name": "x"}
            )
        )
    with pytest.raises(ValueError, match="custom arg key"):
        custom_arg_header("Delivery-Id")


def test_missing_placeholder_value_raises_key_error() -> None:
    with pytest.raises(KeyError):
        MimeBuilder(samples.message()).build(Recipient("1", "a@example.com"))


def test_addresses() -> None:
    assert encode_address("anna@bücher.example") == "anna@xn--bcher-kva.example"
    with pytest.raises(ValueError, match="SMTPUTF8"):
        encode_address("zoë@example.com")
    for bad in ["no-at-sign", "@example.com", "a@", "a b@example.com", "a@b\r\nc"]:
        with pytest.raises(ValueError):
            encode_address(bad)


def test_custom_arg_header_names_map_back() -> None:
    for key in ["delivery_id", "campaign", "a__b", "v2_segment_"]:
        header = custom_arg_header(key)
        assert custom_args_from_headers([(header.upper(), "v")]) == {key: "v"}


header_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=120
).filter(lambda s: s.strip() == s and "  " not in s)


@settings(max_examples=150, deadline=None)
@given(subject=header_text, name=header_text, body=st.text(max_size=400))
def test_any_text_round_trips(subject: str, name: str, body: str) -> None:
    message = samples.message(subject=subject, html=body + "<p>x</p>", text=body, custom_args={})
    rcpt = Recipient("1", "a@example.com", name=name)
    built = MimeBuilder(message).build(rcpt).data
    parsed = parse(built)
    assert parsed["Subject"] == subject
    assert display_name(built) == name
    assert parsed["To"].addresses[0].addr_spec == "a@example.com"
    text, html = parts(parsed)
    assert samples.content(text) == samples.lines(body)
    assert samples.content(html) == samples.lines(body) + "<p>x</p>"


def body_lines(data: bytes) -> list[bytes]:
    """The lines of the message after its headers."""
    return data.partition(b"\r\n\r\n")[2].split(b"\r\n")


def test_a_digest_travels_close_to_its_size() -> None:
    variant = compile_(WEEK)
    values = typical_values(variant.public_url, variant.placeholders, name_fallback="there")
    message = samples.message(subject=variant.subject, html=variant.html, text=variant.text)
    rcpt = Recipient("1", "a@example.com", substitutions=values)
    built = MimeBuilder(message).build(rcpt).data
    filled = variant.fill(values)
    size = len(filled.html.encode()) + len(filled.text.encode())
    assert len(built) < 1.12 * size  # base64 would be 1.35×
    assert all(len(line) <= 76 for line in body_lines(built))
    text, html = parts(parse(built))
    assert samples.content(text) == filled.text and samples.content(html) == filled.html


def test_bodies_are_quoted_printable_with_short_lines() -> None:
    # A digest-like HTML: one very long line with attributes ("=" must be encoded), a
    # placeholder right after a 75- and a 76-character stretch, trailing spaces, a lone CR.
    long_line = "".join(f'<p class="m" style="x:{i}">Zoë’s fact {i}</p>' for i in range(300))
    html = (
        long_line + "a" * 75 + samples.FIRST_NAME + "b" * 76 + samples.UNSUBSCRIBE + " \n"
        "trailing space \n.dot line\nbare\rcarriage return\n"
    )
    text = "Hello " + samples.FIRST_NAME + ",\n\n" + "word " * 200 + "\n"
    rcpt = samples.recipient(2)
    built = MimeBuilder(samples.message(html=html, text=text)).build(rcpt).data
    assert all(len(line) <= 76 for line in body_lines(built))
    assert not any(line.endswith((b" ", b"\t")) for line in body_lines(built))
    text_part, html_part = parts(parse(built))
    assert samples.content(html_part) == samples.filled(html, rcpt)
    assert samples.content(text_part) == samples.filled(text, rcpt)
    assert b"word word word" in built  # the source stays readable; each value starts a line:
    assert b"\r\nHello=20=\r\nReader2=\r\n,\r\n" in built


placeholder_key = st.sampled_from([samples.FIRST_NAME, samples.UNSUBSCRIBE, samples.TOKEN])
one_line = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=90,
)


@settings(max_examples=150, deadline=None)
@given(
    chunks=st.lists(st.tuples(st.text(max_size=200), placeholder_key), max_size=6),
    tail=st.text(max_size=100),
    values=st.tuples(one_line, one_line, one_line),
)
def test_pieces_encoded_apart_decode_to_the_filled_text(
    chunks: list[tuple[str, str]], tail: str, values: tuple[str, str, str]
) -> None:
    body = "".join(piece + key for piece, key in chunks) + tail
    keys = (samples.FIRST_NAME, samples.UNSUBSCRIBE, samples.TOKEN)
    substitutions = dict(zip(keys, values, strict=True))
    rcpt = Recipient("1", "a@example.com", substitutions=substitutions)
    message = samples.message(subject="s", html=body, text=body, custom_args={})
    built = MimeBuilder(message).build(rcpt).data
    assert all(len(line) <= 76 for line in body_lines(built))
    filled = body
    for key, value in substitutions.items():
        filled = filled.replace(key, value)
    text, html = parts(parse(built))
    assert samples.content(text) == samples.lines(filled) == samples.content(html)


def same_randomness(data: bytes, like: bytes) -> bytes:
    """``data`` with the boundary and Message-ID of ``like`` (both are random per builder)."""
    for pattern in (rb'boundary="([^"]+)"', rb"Message-ID: <([^>]+)>"):
        found, wanted = re.search(pattern, data), re.search(pattern, like)
        assert found is not None and wanted is not None
        data = data.replace(found.group(1), wanted.group(1))
    return data


dotted_text = st.text(alphabet=st.sampled_from(["a", ".", "\n", " ", "é", "="]), max_size=300)


@settings(max_examples=150, deadline=None)
@given(
    chunks=st.lists(st.tuples(dotted_text, placeholder_key), max_size=5),
    values=st.tuples(dotted_text, dotted_text, dotted_text),
    linesep=st.sampled_from([CRLF, LF]),
)
def test_a_stuffed_build_is_the_plain_build_dot_stuffed(
    chunks: list[tuple[str, str]], values: tuple[str, str, str], linesep: bytes
) -> None:
    # Lines starting with a dot anywhere: in fixed pieces, in values, after soft breaks.
    body = "".join(piece + key for piece, key in chunks) + "\n.end"
    keys = (samples.FIRST_NAME, samples.UNSUBSCRIBE, samples.TOKEN)
    rcpt = Recipient("1", "a@example.com", substitutions=dict(zip(keys, values, strict=True)))
    message = samples.message(subject="s", html=body, text="." + body, headers={".X": ".y"})
    now = datetime(2026, 12, 2, tzinfo=UTC)
    plain = MimeBuilder(message, linesep=linesep, now=now).build(rcpt)
    stuffed = MimeBuilder(message, linesep=linesep, now=now, dot_stuff=True).build(rcpt)
    assert stuffed.stuffed and not plain.stuffed
    assert same_randomness(stuffed.data, plain.data) == dot_stuffed(plain.data)
