"""SMPP 3.4 protocol data units: the few an ESME needs, encoded and decoded.

A PDU is a 16-octet header (command_length, command_id, command_status, sequence_number, all
big-endian 32-bit) and a body of mandatory fields in a fixed order followed by optional TLVs.
Fields are C-octet strings (NUL-terminated, ASCII), 1-octet integers, and `short_message`, an
octet string whose length precedes it (`sm_length`). Only the commands a transceiver uses are
laid out here; any other command decodes with its raw body kept, so the session can refuse it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

HEADER = struct.Struct(">IIII")
MAX_PDU = 64 * 1024  # far above any real PDU; a larger length means a broken stream


class Command:
    GENERIC_NACK = 0x80000000
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015


class Status:
    ROK = 0x00
    RINVMSGLEN = 0x01
    RINVCMDLEN = 0x02
    RINVCMDID = 0x03
    RINVBNDSTS = 0x04
    RALYBND = 0x05
    RSYSERR = 0x08
    RINVSRCADR = 0x0A
    RINVDSTADR = 0x0B
    RBINDFAIL = 0x0D
    RINVPASWD = 0x0E
    RINVSYSID = 0x0F
    RMSGQFUL = 0x14
    RSUBMITFAIL = 0x45
    RTHROTTLED = 0x58
    RX_T_APPN = 0x64
    RX_P_APPN = 0x65


STATUS_NAMES = {
    value: f"ESME_{name}" for name, value in vars(Status).items() if not name.startswith("_")
}


def status_name(status: int) -> str:
    """`ESME_RTHROTTLED` for 0x58; the hex code for statuses without a name here."""
    return STATUS_NAMES.get(status, f"0x{status:08X}")


class Tlv:
    SC_INTERFACE_VERSION = 0x0210
    RECEIPTED_MESSAGE_ID = 0x001E
    MESSAGE_STATE = 0x0427
    MESSAGE_PAYLOAD = 0x0424
    NETWORK_ERROR_CODE = 0x0423


# Mandatory body fields per command: "c" C-octet string, "u8" one octet, "sm" short_message.
_BIND = (
    ("system_id", "c"),
    ("password", "c"),
    ("system_type", "c"),
    ("interface_version", "u8"),
    ("addr_ton", "u8"),
    ("addr_npi", "u8"),
    ("address_range", "c"),
)
_SM = (
    ("service_type", "c"),
    ("source_addr_ton", "u8"),
    ("source_addr_npi", "u8"),
    ("source_addr", "c"),
    ("dest_addr_ton", "u8"),
    ("dest_addr_npi", "u8"),
    ("destination_addr", "c"),
    ("esm_class", "u8"),
    ("protocol_id", "u8"),
    ("priority_flag", "u8"),
    ("schedule_delivery_time", "c"),
    ("validity_period", "c"),
    ("registered_delivery", "u8"),
    ("replace_if_present_flag", "u8"),
    ("data_coding", "u8"),
    ("sm_default_msg_id", "u8"),
    ("short_message", "sm"),
)
_ID = (("message_id", "c"),)
_SYSTEM_ID = (("system_id", "c"),)
LAYOUTS: dict[int, tuple[tuple[str, str], ...]] = {
    Command.BIND_TRANSCEIVER: _BIND,
    Command.BIND_TRANSCEIVER_RESP: _SYSTEM_ID,
    Command.SUBMIT_SM: _SM,
    Command.DELIVER_SM: _SM,
    Command.SUBMIT_SM_RESP: _ID,
    Command.DELIVER_SM_RESP: _ID,
    Command.GENERIC_NACK: (),
    Command.UNBIND: (),
    Command.UNBIND_RESP: (),
    Command.ENQUIRE_LINK: (),
    Command.ENQUIRE_LINK_RESP: (),
}
_DEFAULTS = {"c": "", "u8": 0, "sm": b""}


class PduError(ValueError):
    """Bytes that are not a well-formed PDU. `command`/`sequence` are set when the header was read."""

    def __init__(self, reason: str, command: int | None = None, sequence: int | None = None):
        super().__init__(reason)
        self.command = command
        self.sequence = sequence


@dataclass(slots=True)
class Pdu:
    command: int
    sequence: int
    status: int = Status.ROK
    fields: dict[str, Any] = field(default_factory=dict)
    tlvs: dict[int, bytes] = field(default_factory=dict)
    body: bytes = b""  # the raw body of a command without a layout here

    @property
    def is_response(self) -> bool:
        return bool(self.command & 0x80000000)

    def get(self, name: str) -> Any:
        """A mandatory field, or its default when the sender left the body short."""
        layout = dict(LAYOUTS.get(self.command, ()))
        return self.fields.get(name, _DEFAULTS.get(layout.get(name, "c")))

    def tlv_str(self, tag: int) -> str | None:
        raw = self.tlvs.get(tag)
        return None if raw is None else raw.rstrip(b"\0").decode("latin-1")

    def tlv_int(self, tag: int) -> int | None:
        raw = self.tlvs.get(tag)
        return None if not raw else int.from_bytes(raw, "big")


def response_to(request: Pdu, status: int = Status.ROK, **fields: Any) -> Pdu:
    """The response PDU (same sequence number) for a request."""
    return Pdu(request.command | 0x80000000, request.sequence, status, dict(fields))


def encode(pdu: Pdu) -> bytes:
    """The PDU as it goes on the wire."""
    out = bytearray()
    layout = LAYOUTS.get(pdu.command)
    if layout is None:
        out += pdu.body
    else:
        for name, kind in layout:
            value = pdu.fields.get(name, _DEFAULTS[kind])
            if kind == "c":
                out += str(value).encode("latin-1") + b"\0"
            elif kind == "u8":
                out.append(int(value) & 0xFF)
            else:
                if len(value) > 254:
                    raise PduError("short_message longer than 254 octets")
                out.append(len(value))
                out += value
    for tag, value in pdu.tlvs.items():
        out += struct.pack(">HH", tag, len(value)) + value
    return HEADER.pack(16 + len(out), pdu.command, pdu.status, pdu.sequence) + bytes(out)


def decode(data: bytes) -> Pdu:
    """One whole PDU (header included). Raises `PduError` for malformed bytes."""
    if len(data) < 16:
        raise PduError("PDU shorter than its header")
    length, command, status, sequence = HEADER.unpack_from(data)
    if length != len(data):
        raise PduError("command_length does not match the PDU", command, sequence)
    pdu = Pdu(command, sequence, status)
    layout = LAYOUTS.get(command)
    if layout is None:
        pdu.body = data[16:]
        return pdu
    pos = 16
    try:
        for name, kind in layout:
            if pos >= len(data):
                break  # error responses may carry no body at all
            if kind == "c":
                end = data.index(b"\0", pos)
                pdu.fields[name] = data[pos:end].decode("latin-1")
                pos = end + 1
            elif kind == "u8":
                pdu.fields[name] = data[pos]
                pos += 1
            else:
                size = data[pos]
                if pos + 1 + size > len(data):
                    raise PduError("short_message runs past the PDU", command, sequence)
                pdu.fields[name] = bytes(data[pos + 1 : pos + 1 + size])
                pos += 1 + size
        while pos < len(data):
            if pos + 4 > len(data):
                raise PduError("truncated TLV header", command, sequence)
            tag, size = struct.unpack_from(">HH", data, pos)
            if pos + 4 + size > len(data):
                raise PduError("TLV runs past the PDU", command, sequence)
            pdu.tlvs[tag] = bytes(data[pos + 4 : pos + 4 + size])
            pos += 4 + size
    except ValueError as exc:  # a C-octet string without its NUL
        if isinstance(exc, PduError):
            raise
        raise PduError("unterminated C-octet string", command, sequence) from None
    return pdu


def frame_length(header: bytes) -> int:
    """The command_length of a PDU from its first four octets, checked for sanity."""
    (length,) = struct.unpack(">I", header)
    if length < 16 or length > MAX_PDU:
        raise PduError(f"implausible command_length {length}")
    return length
