"""SMPP 3.4: the PDU codec (`pdu`), text coding (`text`), receipts (`receipts`), the ESME
session (`client`) and the provider (`provider.SmppSms`)."""

from channels.sms.smpp.provider import SmppSms

__all__ = ["SmppSms"]
