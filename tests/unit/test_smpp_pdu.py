"""SMPP codec, text coding, receipt parsing and id forms — checked against smpplib where it can."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import smpplib.smpp
from hypothesis import given
from hypothesis import strategies as st

from channels.events import DeliveryEventType as E
from channels.sms import segments
from channels.sms.smpp import receipts, text
from channels.sms.smpp.pacer import Pacer
from channels.sms.smpp.pdu import (
    Command,
    Pdu,
    PduError,
    Status,
    Tlv,
    decode,
    encode,
    frame_length,
    response_to,
    status_name,
)

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


class _Seq:
    """smpplib numbers PDUs through a client object; this is all it needs of one."""

    sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


# --- the PDU codec ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pdu",
    [
        Pdu(
            Command.BIND_TRANSCEIVER,
            1,
            fields={
                "system_id": "gw",
                "password": "pw",
                "system_type": "",
                "interface_version": 0x34,
                "addr_ton": 0,
                "addr_npi": 0,
                "address_range": "",
            },
        ),  # fmt: skip
        Pdu(
            Command.BIND_TRANSCEIVER_RESP,
            1,
            fields={"system_id": "SMSC"},
            tlvs={Tlv.SC_INTERFACE_VERSION: b"\x34"},
        ),  # fmt: skip
        Pdu(Command.SUBMIT_SM_RESP, 9, fields={"message_id": "4d2"}),
        Pdu(Command.DELIVER_SM_RESP, 9, Status.RX_T_APPN, fields={"message_id": ""}),
        Pdu(Command.ENQUIRE_LINK, 0x7FFFFFFF),
        Pdu(Command.UNBIND_RESP, 3),
        Pdu(Command.GENERIC_NACK, 4, Status.RINVCMDID),
    ],
)
def test_round_trip(pdu: Pdu) -> None:
    assert decode(encode(pdu)) == pdu


def test_submit_sm_round_trips_every_field_and_tlv() -> None:
    fields: dict[str, Any] = {
        "service_type": "",
        "source_addr_ton": 1,
        "source_addr_npi": 1,
        "source_addr": "15005550006",
        "dest_addr_ton": 1,
        "dest_addr_npi": 1,
        "destination_addr": "14155550123",
        "esm_class": 0x40,
        "protocol_id": 0,
        "priority_flag": 0,
        "schedule_delivery_time": "",
        "validity_period": "",
        "registered_delivery": 1,
        "replace_if_present_flag": 0,
        "data_coding": 8,
        "sm_default_msg_id": 0,
        "short_message": b"\x05\x00\x03\x07\x02\x01" + "您好".encode("utf-16-be"),
    }
    pdu = Pdu(Command.SUBMIT_SM, 42, fields=fields, tlvs={Tlv.MESSAGE_PAYLOAD: b""})
    assert decode(encode(pdu)) == pdu


def test_our_submit_sm_reads_the_same_in_smpplib() -> None:
    message = b"\x05\x00\x03\x07\x02\x01" + "您好".encode("utf-16-be")
    ours = Pdu(
        Command.SUBMIT_SM,
        77,
        fields={
            "source_addr_ton": 5,
            "source_addr": "Acme",
            "dest_addr_ton": 1,
            "dest_addr_npi": 1,
            "destination_addr": "8613800138000",
            "esm_class": 0x40,
            "registered_delivery": 1,
            "data_coding": 8,
            "short_message": message,
        },
    )
    theirs = smpplib.smpp.parse_pdu(encode(ours), client=_Seq())
    assert (theirs.command, theirs.sequence, theirs.status) == ("submit_sm", 77, 0)
    assert theirs.source_addr == b"Acme" and theirs.destination_addr == b"8613800138000"
    assert (theirs.source_addr_ton, theirs.dest_addr_ton, theirs.dest_addr_npi) == (5, 1, 1)
    assert (theirs.esm_class, theirs.registered_delivery, theirs.data_coding) == (0x40, 1, 8)
    assert theirs.short_message == message


def test_smpplib_deliver_sm_receipt_reads_the_same_here() -> None:
    receipt = b"id:1234 sub:001 dlvrd:001 submit date:2611240100 done date:2611240101 stat:DELIVRD err:000 text:x"  # fmt: skip
    theirs = smpplib.smpp.make_pdu(
        "deliver_sm",
        client=_Seq(),
        source_addr_ton=1,
        source_addr="14155550123",
        esm_class=0x04,
        short_message=receipt,
        receipted_message_id="4D2",
        message_state=2,
    )
    pdu = decode(theirs.generate())
    assert pdu.command == Command.DELIVER_SM and pdu.sequence == 1
    assert pdu.get("source_addr") == "14155550123" and pdu.get("short_message") == receipt
    assert pdu.tlv_str(Tlv.RECEIPTED_MESSAGE_ID) == "4D2" and pdu.tlv_int(Tlv.MESSAGE_STATE) == 2
    assert receipts.is_receipt(pdu)


def test_bind_and_responses_agree_with_smpplib() -> None:
    bind = Pdu(
        Command.BIND_TRANSCEIVER,
        5,
        fields={"system_id": "gateway", "password": "s3cret", "interface_version": 0x34},
    )
    theirs = smpplib.smpp.parse_pdu(encode(bind), client=_Seq())
    assert (theirs.command, theirs.system_id, theirs.password) == (
        "bind_transceiver",
        b"gateway",
        b"s3cret",
    )
    assert theirs.interface_version == 0x34
    resp = smpplib.smpp.make_pdu("submit_sm_resp", client=_Seq(), message_id="4D2")
    resp.sequence = 5  # smpplib ignores `sequence=` for responses
    assert decode(resp.generate()) == Pdu(Command.SUBMIT_SM_RESP, 5, fields={"message_id": "4D2"})
    nack = smpplib.smpp.make_pdu("generic_nack", client=_Seq(), status=0x58)
    assert decode(nack.generate()).status == Status.RTHROTTLED


def test_error_responses_may_have_no_body() -> None:
    raw = bytes.fromhex("00000010800000090000000e00000001")
    pdu = decode(raw)
    assert pdu.command == Command.BIND_TRANSCEIVER_RESP and pdu.status == Status.RINVPASWD
    assert pdu.get("system_id") == ""


@pytest.mark.parametrize(
    "raw",
    [
        bytes.fromhex("0000000c00000015"),  # shorter than a header
        bytes.fromhex("00000011000000150000000000000001"),  # length says 17, 16 given
        bytes.fromhex("00000013800000040000000000000001414243"),  # message_id without NUL
        bytes.fromhex("0000001580000004000000000000000100001e0009"),  # TLV runs past the end
    ],
)
def test_malformed_pdus_raise(raw: bytes) -> None:
    with pytest.raises(PduError):
        decode(raw)


def test_frame_length_refuses_implausible_lengths() -> None:
    assert frame_length(bytes.fromhex("00000010")) == 16
    for bad in ("0000000f", "7fffffff"):
        with pytest.raises(PduError):
            frame_length(bytes.fromhex(bad))


def test_short_message_is_limited_to_254_octets() -> None:
    with pytest.raises(PduError):
        encode(Pdu(Command.SUBMIT_SM, 1, fields={"short_message": b"x" * 255}))


def test_response_keeps_the_sequence_and_status_names() -> None:
    resp = response_to(Pdu(Command.DELIVER_SM, 12), Status.RX_T_APPN, message_id="")
    assert (resp.command, resp.sequence, resp.status) == (Command.DELIVER_SM_RESP, 12, 0x64)
    assert status_name(0x58) == "ESME_RTHROTTLED" and status_name(0x400) == "0x00000400"


# --- text coding and splitting ------------------------------------------------------------------


def test_gsm7_table_covers_the_alphabet_segments_counts_with() -> None:
    assert len(text.GSM7_TABLE) == 128
    alphabet = "".join(sorted(segments.GSM7_BASIC | segments.GSM7_EXTENSION))
    assert text.gsm7_decode(text.gsm7_encode(alphabet)) == alphabet
    assert text.gsm7_encode("@€") == b"\x00\x1b\x65"
    with pytest.raises(ValueError):
        text.gsm7_encode("您")


@pytest.mark.parametrize(
    ("body", "encoding", "sizes"),
    [
        ("a" * 160, "GSM-7", [160]),
        ("a" * 161, "GSM-7", [153, 8]),
        ("a" * 152 + "€" + "b" * 10, "GSM-7", [152, 12]),  # the escape pair is not split
        ("您" * 70, "UCS-2", [140]),
        ("您" * 71, "UCS-2", [134, 8]),
        ("您" * 134, "UCS-2", [134, 134]),
        ("您" * 135, "UCS-2", [134, 134, 2]),
        ("您" * 66 + "😀" + "您" * 5, "UCS-2", [132, 14]),  # the surrogate pair is not split
    ],
)
def test_split_sizes(body: str, encoding: str, sizes: list[int]) -> None:
    encoded = text.encode_text(body, ref=7)
    assert encoded.encoding == encoding
    assert encoded.data_coding == (0 if encoding == "GSM-7" else 8)
    if len(sizes) == 1:
        assert encoded.esm_class == 0 and [len(p) for p in encoded.parts] == sizes
        return
    assert encoded.esm_class == text.ESM_UDHI
    assert [len(p) - 6 for p in encoded.parts] == sizes
    for seq, part in enumerate(encoded.parts, 1):
        assert part[:6] == bytes((5, 0, 3, 7, len(sizes), seq))


def test_chinese_parts_match_the_segment_count() -> None:
    for n in (1, 70, 71, 134, 135, 201, 202):
        assert len(text.encode_text("还" * n).parts) == segments.count("还" * n).parts


@given(st.text(alphabet=st.sampled_from("ab€[ 您😀\n"), max_size=500))
def test_parts_reassemble_to_the_text(body: str) -> None:
    encoded = text.encode_text(body)
    pieces = []
    for part in encoded.parts:
        concat, payload = text.split_udh(encoded.esm_class, part)
        assert (concat is None) == (len(encoded.parts) == 1)
        pieces.append(text.decode_text(encoded.data_coding, payload))
    assert "".join(pieces) == body


def test_too_many_parts_is_refused() -> None:
    with pytest.raises(ValueError, match="255"):
        text.encode_text("您" * 67 * 256)


def test_udh_with_16_bit_reference_and_incoming_codings() -> None:
    concat, rest = text.split_udh(0x40, bytes((6, 8, 4, 1, 2, 3, 1)) + b"hi")
    assert concat == text.Concat(0x0102, 3, 1) and rest == b"hi"
    assert text.split_udh(0, b"\x05hi") == (None, b"\x05hi")
    assert text.decode_text(8, "退订".encode("utf-16-be")) == "退订"
    assert text.decode_text(1, b"STOP") == "STOP"
    assert text.decode_text(3, "Größe".encode("latin-1")) == "Größe"
    assert text.decode_text(0, b"\x1b\x65 5") == "€ 5"


# --- receipts and ids ---------------------------------------------------------------------------

APPENDIX_B = "id:0000001234 sub:001 dlvrd:001 submit date:2611240100 done date:2611240102 stat:DELIVRD err:000 text:Your payment of"  # fmt: skip


def receipt_pdu(body: str, esm_class: int = 0x04, **tlvs: bytes) -> Pdu:
    tags = {"receipted_message_id": Tlv.RECEIPTED_MESSAGE_ID, "message_state": Tlv.MESSAGE_STATE}
    return Pdu(
        Command.DELIVER_SM,
        1,
        fields={"esm_class": esm_class, "short_message": body.encode()},
        tlvs={tags[k]: v for k, v in tlvs.items()},
    )


def test_receipt_text_is_parsed_without_the_quoted_message() -> None:
    assert receipts.parse_text(APPENDIX_B) == {
        "id": "0000001234",
        "sub": "001",
        "dlvrd": "001",
        "submit_date": "2611240100",
        "done_date": "2611240102",
        "stat": "DELIVRD",
        "err": "000",
    }
    assert receipts.parse_text("ID:ab-12 Stat:undeliv ERR:34")["stat"] == "undeliv"


@pytest.mark.parametrize(("stat", "kind"), list(receipts.STATUS_MAP.items()))
def test_every_receipt_status_maps(stat: str, kind: E) -> None:
    event = receipts.to_event(
        receipt_pdu(APPENDIX_B.replace("DELIVRD", stat)),
        provider="smpp",
        id_format="same",
        received_at=NOW,
    )
    assert event is not None
    assert (event.provider_ref, event.event_id, event.type) == ("1234", f"1234:{stat}", kind)
    assert event.occurred_at == NOW and "text" not in event.raw


def test_tlvs_win_over_the_text_and_errors_become_reasons() -> None:
    pdu = receipt_pdu(
        "id:12 stat:DELIVRD err:000", receipted_message_id=b"000ABC\0", message_state=b"\x05"
    )
    event = receipts.to_event(pdu, provider="smpp", id_format="same", received_at=NOW)
    assert event is not None and event.provider_ref == "abc" and event.type == E.UNDELIVERED
    assert event.reject_reason is None  # err:000 says nothing
    failed = receipts.to_event(
        receipt_pdu("id:12 stat:UNDELIV err:0B1"),
        provider="smpp",
        id_format="same",
        received_at=NOW,
    )
    assert failed is not None and failed.reject_reason == "err:0B1"
    assert failed.raw == {"id": "12", "stat": "UNDELIV", "err": "0B1"}


def test_receipt_without_id_or_not_a_receipt() -> None:
    assert (
        receipts.to_event(
            receipt_pdu("stat:DELIVRD"), provider="smpp", id_format="same", received_at=NOW
        )
        is None
    )
    assert receipts.is_receipt(receipt_pdu("", esm_class=0x04))
    assert receipts.is_receipt(receipt_pdu("", esm_class=0x20 | 0x40))
    assert not receipts.is_receipt(receipt_pdu("STOP", esm_class=0x00))
    assert not receipts.is_receipt(receipt_pdu("STOP", esm_class=0x40))


@pytest.mark.parametrize(
    ("fmt", "submitted", "reported"),
    [
        ("same", "1234", "0000001234"),
        ("same", "00AB12CD", "ab12cd"),
        ("same", "msg-7Zq", "msg-7Zq"),
        ("hex_to_dec", "4D2", "1234"),
        ("hex_to_dec", "0x4d2"[2:], "0000001234"),
        ("hex_to_dec", "FFFFFFFFFF", "1099511627775"),
        ("dec_to_hex", "1234", "4d2"),
        ("dec_to_hex", "1234", "000004D2"),
        ("dec_to_hex", "1099511627775", "ffffffffff"),
    ],
)
def test_submit_and_receipt_ids_meet_in_one_form(fmt: str, submitted: str, reported: str) -> None:
    assert receipts.submit_id(submitted, fmt) == receipts.receipt_id(reported, fmt)


def test_id_forms_that_do_not_convert_stay_as_given() -> None:
    assert receipts.submit_id("4D2", "same") != receipts.receipt_id("1234", "same")
    assert receipts.submit_id("1234", "hex_to_dec") == "4660"  # read as hex, as configured
    assert receipts.receipt_id("ab-12", "hex_to_dec") == "ab-12"  # not a number: kept
    assert receipts.canonical_id(" 000 \0") == "0"


# --- pacing after throttling --------------------------------------------------------------------


async def test_pacer_backs_off_and_recovers() -> None:
    now = [100.0]
    pacer = Pacer(floor_s=0.05, cap_s=0.2, relax_s=10.0, clock=lambda: now[0])
    await pacer.slot()
    assert pacer.gap == 0
    for expected in (0.05, 0.1, 0.2, 0.2):
        pacer.throttled()
        assert pacer.gap == expected
    now[0] += 10
    await pacer.slot()
    assert pacer.gap == 0.1
    now[0] += 30
    await pacer.slot()
    assert pacer.gap == 0
