import email
import email.policy

from channels.base import Outgoing
from channels.email.mime import build


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def test_multipart_mail_parses_back_with_every_header() -> None:
    out = Outgoing(
        "m" * 28,
        "email",
        "jane@example.com",
        "Dear Jane,\nline two",
        subject="A reminder",
        html="<p>Dear Jane</p>",
        headers={
            "List-Unsubscribe": "<https://gw/u/x>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    mail = build(out, sender="r@collector.example", sender_name="Acme", domain="collector.example")
    assert mail.data.isascii()
    assert all(len(line) <= 998 for line in mail.data.split(b"\r\n"))
    parsed = parse(mail.data)
    assert parsed["To"] == "jane@example.com" and parsed["Subject"] == "A reminder"
    assert parsed["From"] == "Acme <r@collector.example>"
    assert parsed["Message-ID"] == f"<{mail.message_id}>" and mail.message_id.endswith(
        "m" * 28 + "@collector.example"
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed.get_body(("plain",)).get_content() == "Dear Jane,\nline two"
    assert parsed.get_body(("html",)).get_content() == "<p>Dear Jane</p>"
    assert "List-Unsubscribe" in mail.header_names


def test_chinese_subject_sender_and_body_survive_the_round_trip() -> None:
    subject = "【催收中心】账户还款提醒，请尽快处理您的逾期账户，谢谢合作" * 2
    out = Outgoing("x" * 28, "email", "wang@example.cn", "尊敬的王小明：\n您好", subject=subject)
    mail = build(
        out, sender="r@collector.example", sender_name="某某银行", domain="collector.example"
    )
    assert mail.data.isascii()
    assert all(len(line) <= 998 for line in mail.data.split(b"\r\n"))
    parsed = parse(mail.data)
    assert parsed["Subject"] == subject
    assert parsed["From"].addresses[0].display_name == "某某银行"
    assert parsed.get_content() == "尊敬的王小明：\n您好"
