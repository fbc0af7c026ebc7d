"""Letters through the real pipeline: a Lob-compatible server, the batch drop (folder and SFTP),
Chinese text and the window-envelope layout of the PDF."""

from __future__ import annotations

import csv
import hashlib
import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncssh
import pytest
from aiohttp import web
from pypdf import PdfReader

from channels.base import Outgoing, PermanentProviderError
from channels.letter.address import lob_address
from channels.letter.batch import BatchDropLetters, drop_target
from channels.letter.lob import COLLECTION_WORDS
from gateway.services.due_work import pump_once
from gateway.settings import Settings
from tests.lob import FakeLob, WithLob, post_event
from tests.support import ApiClient, case_body, drain, free_port, reminder

MM = 25.4 / 72  # PDF points → millimetres
CN_POSTAL = {
    "lines": ["北京市朝阳区建国路88号", "100022 北京"],
    "country": "CN",
    "postal_code": "100022",
}


async def send_letter(api: ApiClient, rt: Any, case_ref: str, **case: Any) -> dict[str, Any]:
    """Create a case, ask for a letter, run the letters queue; the message as the API shows it."""
    assert (await api.put(f"/v1/cases/{case_ref}", case_body(**case))).status in (200, 201)
    resp = await api.post("/v1/reminders", reminder(case_ref, "letter"))
    assert resp.status == 202, resp
    await drain(rt)
    return (await api.get(f"/v1/messages/{resp.body['id']}")).body


# The Empire State Building as address APIs take it: street lines and the place as fields.
NY_POSTAL = {
    "lines": ["350 5th Ave", "Fl 20"],
    "city": "New York",
    "region": "NY",
    "postal_code": "10118",
    "country": "US",
}


async def send_letter_to(api: ApiClient, rt: Any, case_ref: str, postal: dict[str, Any]) -> Any:
    """`send_letter` for a debtor at `postal`."""
    body = case_body()
    body["debtor"]["postal_address"] = postal
    assert (await api.put(f"/v1/cases/{case_ref}", body)).status in (200, 201)
    resp = await api.post("/v1/reminders", reminder(case_ref, "letter"))
    assert resp.status == 202, resp
    await drain(rt)
    return (await api.get(f"/v1/messages/{resp.body['id']}")).body


def window_text(pdf: bytes) -> list[str]:
    """The text runs of the first page that show through the envelope window, top to bottom."""
    runs = text_runs(PdfReader(io.BytesIO(pdf)).pages[0])
    # DIN 5008 window (channels/letter/pdf.py): 20 mm from the left, 45–90 mm from the top.
    return [t for t, x, y in sorted(runs, key=lambda r: r[2]) if x <= 110 and 45 <= y <= 90]


async def letter_contact(api: ApiClient, case_ref: str) -> str:
    contacts = (await api.get(f"/v1/cases/{case_ref}")).body["contacts"]
    return next(c["status"] for c in contacts if c["channel"] == "letter")


def sent_entry(message: dict[str, Any]) -> dict[str, Any]:
    return next(h["data"] for h in message["history"] if h["kind"] == "sent")


def text_runs(page: Any) -> list[tuple[str, float, float]]:
    """(text, mm from the left edge, mm from the top edge) of each text run on a PDF page."""
    height = float(page.mediabox.height)
    runs: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: Any) -> None:
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            runs.append((text.strip(), x * MM, (height - y) * MM))

    page.extract_text(visitor_text=visit)
    return runs


# --- Lob ---------------------------------------------------------------------------------------


class TestLob(WithLob):
    async def test_a_letter_is_sent_to_lob_with_its_id_and_page_count(
        self, api: ApiClient, runtime: Any, lob: FakeLob
    ) -> None:
        message = await send_letter(api, runtime, "L-1")
        assert message["state"] == "sent" and message["provider"] == "lob"
        [(letter_id, letter)] = lob.letters.items()
        assert message["provider_ref"] == letter_id and letter["key"] == message["id"]
        fields = letter["fields"]
        assert {k: v for k, v in fields.items() if k.startswith("to[")} == {
            "to[name]": "Jane Doe",
            "to[address_line1]": "12 Main St",
            "to[address_city]": "Springfield",
            "to[address_state]": "IL",
            "to[address_zip]": "62701",
            "to[address_country]": "US",
        }
        sender = " ".join(v for k, v in fields.items() if k.startswith("from["))
        assert "PO Box 100" in sender and not COLLECTION_WORDS.search(sender)
        assert fields["metadata[message_id]"] == message["id"]
        detail = sent_entry(message)
        assert detail["pages"] == len(PdfReader(io.BytesIO(letter["pdf"])).pages)
        assert detail["expected_delivery_date"] == "2026-12-02"

    async def test_a_retried_send_does_not_print_twice(
        self, api: ApiClient, runtime: Any, lob: FakeLob, clock: Any
    ) -> None:
        answered: list[str] = []

        def lost_answer(fields: dict[str, str]) -> web.Response | None:
            # The first time Lob creates the letter but the answer is lost (a 503 from a proxy).
            if not answered:
                answered.append("once")
                lob.behaviour = None
                letter_id = f"ltr_{uuid.uuid4().hex[:16]}"
                response = {"id": letter_id, "object": "letter"}
                key = fields["metadata[message_id]"]
                lob.letters[letter_id] = lob.by_key[key] = {"key": key, "response": response}
                return lob.error(503, "service_unavailable", "try again")
            return None

        lob.behaviour = lost_answer
        message = await send_letter(api, runtime, "L-2")
        assert message["state"] == "retry_wait"
        clock.set(datetime.now(UTC) + timedelta(minutes=10))
        assert await pump_once(runtime) == 1
        await drain(runtime)
        message = (await api.get(f"/v1/messages/{message['id']}")).body
        assert message["state"] == "sent" and len(lob.letters) == 1
        assert message["provider_ref"] == next(iter(lob.letters))

    async def test_tracking_webhooks_move_the_letter_to_delivered(
        self, api: ApiClient, runtime: Any, lob: FakeLob
    ) -> None:
        message = await send_letter(api, runtime, "L-3")
        letter_id = message["provider_ref"]
        for event in ("mailed", "in_transit"):
            resp = await post_event(api, *lob.signed(letter_id, event))
            assert resp.status == 200 and resp.body["new"] == 1
            assert (await api.get(f"/v1/messages/{message['id']}")).body["state"] == "sent"
        body, headers = lob.signed(letter_id, "delivered")
        assert (await post_event(api, body, headers)).body["new"] == 1
        again = await post_event(api, body, headers)  # Lob re-delivers a webhook: no change
        assert again.body == {"received": 1, "new": 0, "duplicate": 1}
        got = (await api.get(f"/v1/messages/{message['id']}")).body
        assert got["state"] == "delivered"
        assert [e["type"] for e in got["events"]] == ["sent", "sent", "delivered"]
        assert [e["description"] for e in got["events"]] == [
            "letter.mailed",
            "letter.in_transit",
            "letter.delivered",
        ]
        # A late scan never moves a delivered letter backwards.
        await post_event(api, *lob.signed(letter_id, "processed_for_delivery"))
        assert (await api.get(f"/v1/messages/{message['id']}")).body["state"] == "delivered"

    async def test_returned_to_sender_marks_the_address_invalid(
        self, api: ApiClient, runtime: Any, lob: FakeLob
    ) -> None:
        await send_letter(api, runtime, "L-4a")
        message = await send_letter(api, runtime, "L-4b")
        await post_event(api, *lob.signed(message["provider_ref"], "mailed"))
        resp = await post_event(api, *lob.signed(message["provider_ref"], "returned_to_sender"))
        assert resp.status == 200
        got = (await api.get(f"/v1/messages/{message['id']}")).body
        assert got["state"] == "returned" and got["state_reason"] == "returned_to_sender"
        assert await letter_contact(api, "L-4b") == "invalid"
        assert await letter_contact(api, "L-4a") == "active"

    async def test_forged_or_stale_webhooks_are_refused(
        self, api: ApiClient, runtime: Any, lob: FakeLob
    ) -> None:
        message = await send_letter(api, runtime, "L-5")
        letter_id = message["provider_ref"]
        forged = lob.signed(letter_id, "returned_to_sender", secret="guessed")
        stale = lob.signed(letter_id, "returned_to_sender", at=time.time() - 600)
        body, headers = lob.signed(letter_id, "returned_to_sender")
        tampered = (body.replace(b"returned_to_sender", b"delivered"), headers)
        unsigned = (body, {"Content-Type": "application/json"})
        for attempt in (forged, stale, tampered, unsigned):
            resp = await post_event(api, *attempt)
            assert resp.status == 401 and resp.body["error"]["code"] == "bad_signature"
        got = (await api.get(f"/v1/messages/{message['id']}")).body
        assert got["state"] == "sent" and got["events"] == []
        assert await letter_contact(api, "L-5") == "active"

    async def test_throttling_waits_for_retry_after(
        self, api: ApiClient, runtime: Any, lob: FakeLob
    ) -> None:
        lob.behaviour = lambda fields: lob.error(
            429, "rate_limit_exceeded", "slow down", **{"Retry-After": "120"}
        )
        before = datetime.now(UTC)
        message = await send_letter(api, runtime, "L-6")
        assert message["state"] == "retry_wait" and not lob.letters
        assert datetime.fromisoformat(message["next_attempt_at"]) >= before + timedelta(seconds=119)

    async def test_an_undeliverable_address_fails_and_is_marked_invalid(
        self, api: ApiClient, runtime: Any, lob: FakeLob
    ) -> None:
        lob.behaviour = lambda fields: lob.error(
            422, "failed_deliverability_strictness", "to.address_line1 is undeliverable"
        )
        message = await send_letter(api, runtime, "L-7")
        assert message["state"] == "failed"
        assert message["state_reason"] == "invalid_address:failed_deliverability_strictness"
        assert await letter_contact(api, "L-7") == "invalid"

    async def test_a_structured_address_fills_lobs_fields_and_the_window(
        self, api: ApiClient, runtime: Any, lob: FakeLob
    ) -> None:
        message = await send_letter_to(api, runtime, "L-9", NY_POSTAL)
        letter = lob.letters[message["provider_ref"]]
        assert {k: v for k, v in letter["fields"].items() if k.startswith("to[")} == {
            "to[name]": "Jane Doe",
            "to[address_line1]": "350 5th Ave",
            "to[address_line2]": "Fl 20",
            "to[address_city]": "New York",
            "to[address_state]": "NY",
            "to[address_zip]": "10118",
            "to[address_country]": "US",
        }
        assert window_text(letter["pdf"]) == [
            "Jane Doe",
            "350 5th Ave",
            "Fl 20",
            "New York, NY 10118",
        ]

    async def test_without_a_region_the_zip_code_names_the_state_on_the_letter(
        self, api: ApiClient, runtime: Any, lob: FakeLob
    ) -> None:
        postal = {k: v for k, v in NY_POSTAL.items() if k != "region"}
        message = await send_letter_to(api, runtime, "L-10", postal)
        letter = lob.letters[message["provider_ref"]]
        assert letter["fields"]["to[address_state]"] == "NY"
        assert window_text(letter["pdf"])[-1] == "New York, NY 10118"

    async def test_the_recipient_block_sits_in_the_envelope_window(
        self, api: ApiClient, runtime: Any, lob: FakeLob
    ) -> None:
        message = await send_letter(api, runtime, "L-8")
        pdf = PdfReader(io.BytesIO(lob.letters[message["provider_ref"]]["pdf"]))
        assert sent_entry(message)["pages"] == len(pdf.pages)
        runs = text_runs(pdf.pages[0])
        # DIN 5008 window (channels/letter/pdf.py): 20 mm from the left, 45–90 mm from the top.
        for text in ("Jane Doe", "12 Main St", "Springfield, IL 62701"):
            [(x, y)] = [(x, y) for t, x, y in runs if t == text]
            assert 19.5 <= x <= 110 and 45 <= y <= 90, (text, x, y)  # ½ mm: rounding
        [(_, _, heading)] = [r for r in runs if r[0] == "Notice about your account"]
        assert heading > 90, "the letter's subject would show through the window"
        on_envelope = " ".join(t for t, x, y in runs if x < 115 and y < 95)
        assert not COLLECTION_WORDS.search(on_envelope), on_envelope


# --- Batch drop ----------------------------------------------------------------------------------


def check_drop(
    folder: Path,
    message: dict[str, Any],
    name: str,
    postal: dict[str, Any],
    printed: list[str] | None = None,
) -> bytes:
    """The PDF and manifest of one letter are in `folder`, consistent; no temporary file is left.
    The manifest's address lines are `printed`, by default the postal address's lines."""
    reference = message["id"]
    assert message["state"] == "sent" and message["provider_ref"] == reference
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".") or ".tmp" in p.name]
    pdf = (folder / f"{reference}.pdf").read_bytes()
    with open(folder / f"{reference}.csv", encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    lines = [row[f"address_line_{n}"] for n in range(1, 7)]
    assert row["reference"] == reference and row["recipient_name"] == name
    assert [line for line in lines if line] == (printed or postal["lines"])
    assert (row["postal_code"], row["country"]) == (postal["postal_code"], postal["country"])
    assert row["pdf_file"] == f"{reference}.pdf"
    assert row["sha256"] == hashlib.sha256(pdf).hexdigest() == sent_entry(message)["sha256"]
    assert (
        int(row["pages"]) == len(PdfReader(io.BytesIO(pdf)).pages) == sent_entry(message)["pages"]
    )
    return pdf


US_POSTAL = case_body()["debtor"]["postal_address"]


class TestBatchFolder:
    @pytest.fixture
    def settings(self, settings: Settings, tmp_path: Path) -> Settings:
        drop = (tmp_path / "drop").resolve()
        return settings.with_(letter_providers=["batch"], letter_drop_url=drop.as_uri())

    async def test_pdfs_and_manifests_land_in_the_folder(
        self, api: ApiClient, runtime: Any, tmp_path: Path
    ) -> None:
        message = await send_letter(api, runtime, "B-1")
        check_drop(tmp_path / "drop", message, "Jane Doe", US_POSTAL)
        assert sorted(p.suffix for p in (tmp_path / "drop").iterdir()) == [".csv", ".pdf"]

    async def test_the_manifest_and_the_window_carry_the_whole_address(
        self, api: ApiClient, runtime: Any, tmp_path: Path
    ) -> None:
        uk = {"lines": ["10 Downing Lane", "London"], "postal_code": "SW1A 2AA", "country": "GB"}
        for ref, postal, block in (
            ("B-3", NY_POSTAL, ["350 5th Ave", "Fl 20", "New York, NY 10118"]),
            # Lines and a postcode that is in none of them: the postcode is printed too.
            ("B-4", uk, ["10 Downing Lane", "London", "SW1A 2AA", "UNITED KINGDOM"]),
            (
                "B-5",
                {"lines": ["Unter den Linden 1"], "city": "Berlin", "postal_code": "10117"}
                | {"country": "DE"},
                ["Unter den Linden 1", "10117 Berlin", "GERMANY"],
            ),
        ):
            message = await send_letter_to(api, runtime, ref, postal)
            drop = tmp_path / "drop"
            csv_text = (drop / f"{message['id']}.csv").read_text(encoding="utf-8")
            [row] = list(csv.DictReader(io.StringIO(csv_text, newline="")))
            lines = [row[f"address_line_{n}"] for n in range(1, 7)]
            assert [line for line in lines if line] == block, ref
            assert (row["postal_code"], row["country"]) == (
                postal["postal_code"],
                postal["country"],
            )
            pdf = (drop / f"{message['id']}.pdf").read_bytes()
            assert window_text(pdf) == ["Jane Doe", *block], ref

    async def test_a_chinese_letter_keeps_its_chinese_text(
        self, api: ApiClient, runtime: Any, tmp_path: Path
    ) -> None:
        body = case_body(name="王小明", locale="zh-CN", currency="CNY", phone=None, email=None)
        body["debtor"]["postal_address"] = CN_POSTAL
        assert (await api.put("/v1/cases/B-2", body)).status == 201
        resp = await api.post("/v1/reminders", reminder("B-2", "letter"))
        await drain(runtime)
        message = (await api.get(f"/v1/messages/{resp.body['id']}")).body
        # Mailed from the US (LETTER_RETURN_COUNTRY): the country name ends the address.
        printed = [*CN_POSTAL["lines"], "CHINA"]
        pdf = check_drop(tmp_path / "drop", message, "王小明", CN_POSTAL, printed)
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
        for expected in (
            "王小明",
            "北京市朝阳区建国路88号",
            "账户通知",
            "如您已还款，请忽略本函。",
        ):
            assert expected in text, expected


class TestBatchSftp:
    @pytest.fixture
    async def sftp(self, tmp_path: Path) -> Any:
        """An SFTP server (asyncssh) rooted in a temporary folder, with fresh host and user keys."""
        root = tmp_path / "sftp-root"
        root.mkdir()
        host_key = asyncssh.generate_private_key("ssh-ed25519")
        user_key = asyncssh.generate_private_key("ssh-ed25519")
        key_file = tmp_path / "id_ed25519"
        user_key.write_private_key(str(key_file))
        port = free_port()
        server = await asyncssh.listen(
            "127.0.0.1",
            port,
            server_host_keys=[host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(
                user_key.export_public_key().decode()
            ),
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=bytes(root)),
        )
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{port} {host_key.export_public_key().decode()}")
        yield SimpleNamespace(root=root, port=port, key_file=key_file, known_hosts=known_hosts)
        server.close()
        await server.wait_closed()

    @pytest.fixture
    def settings(self, settings: Settings, sftp: Any) -> Settings:
        return settings.with_(
            letter_providers=["batch"],
            letter_drop_url=f"sftp://printer@127.0.0.1:{sftp.port}/incoming",
            letter_drop_key_file=str(sftp.key_file),
            letter_drop_known_hosts=str(sftp.known_hosts),
        )

    async def test_pdfs_and_manifests_are_uploaded(
        self, api: ApiClient, runtime: Any, sftp: Any
    ) -> None:
        first = await send_letter(api, runtime, "S-1")
        second = await send_letter(api, runtime, "S-2", name="John Roe")
        check_drop(sftp.root / "incoming", first, "Jane Doe", US_POSTAL)
        check_drop(sftp.root / "incoming", second, "John Roe", US_POSTAL)
        assert len(list((sftp.root / "incoming").iterdir())) == 4

    async def test_an_unknown_host_key_is_refused(self, sftp: Any, tmp_path: Path) -> None:
        other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
        wrong = tmp_path / "wrong_known_hosts"
        wrong.write_text(f"[127.0.0.1]:{sftp.port} {other}")
        vendor = BatchDropLetters(
            target=drop_target(
                f"sftp://printer@127.0.0.1:{sftp.port}/incoming",
                key_file=str(sftp.key_file),
                known_hosts=str(wrong),
            )
        )
        await vendor.start()
        letter = Outgoing("01TESTLETTER", "letter", "x", "<p>hi</p>", html="<p>hi</p>")
        try:
            with pytest.raises(PermanentProviderError) as caught:
                await vendor.send(letter)
        finally:
            await vendor.close()
        assert caught.value.provider_side and "host key" in caught.value.reason
        assert not list(sftp.root.rglob("*.pdf"))


# --- Address mapping (pure) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "country", "postal_code", "expected"),
    [
        (
            ["Apt 4", "12 Main St", "Springfield, IL 62701"],
            "US",
            "62701",
            {
                "address_line1": "Apt 4",
                "address_line2": "12 Main St",
                "address_city": "Springfield",
                "address_state": "IL",
                "address_zip": "62701",
            },
        ),
        (
            ["PO Box 100", "Springfield", "IL 62701-1234"],
            "US",
            None,
            {
                "address_line1": "PO Box 100",
                "address_city": "Springfield",
                "address_state": "IL",
                "address_zip": "62701-1234",
            },
        ),
        (
            CN_POSTAL["lines"],
            "CN",
            "100022",
            {
                "address_line1": "北京市朝阳区建国路88号",
                "address_line2": "100022 北京",
                "address_zip": "100022",
            },
        ),
    ],
)
def test_postal_lines_map_onto_lob_address_fields(
    lines: list[str], country: str, postal_code: str | None, expected: dict[str, str]
) -> None:
    got = lob_address("N", lines, country, postal_code)
    assert got == {"name": "N", "address_country": country, **expected}


@pytest.mark.parametrize(
    ("postal", "expected"),
    [
        (
            NY_POSTAL,
            {
                "address_line1": "350 5th Ave",
                "address_line2": "Fl 20",
                "address_city": "New York",
                "address_state": "NY",
                "address_zip": "10118",
            },
        ),
        (
            # Lines only, its last line the city alone: still Lob's city, and the ZIP code.
            {"lines": ["350 5th Ave", "New York"], "postal_code": "10118", "country": "US"},
            {"address_line1": "350 5th Ave", "address_city": "New York", "address_zip": "10118"},
        ),
        (
            {"lines": ["12 Rue X"], "city": "Montréal", "region": "QC", "postal_code": "H2X 1Y4"}
            | {"country": "CA"},
            {
                "address_line1": "12 Rue X",
                "address_city": "Montréal",
                "address_state": "QC",
                "address_zip": "H2X 1Y4",
            },
        ),
    ],
)
def test_address_fields_map_onto_lob_address_fields(
    postal: dict[str, Any], expected: dict[str, str]
) -> None:
    got = lob_address(
        "N",
        postal["lines"],
        postal["country"],
        postal.get("postal_code"),
        city=postal.get("city"),
        region=postal.get("region"),
    )
    assert got == {"name": "N", "address_country": postal["country"], **expected}


def test_a_collection_sender_name_is_refused_at_start() -> None:
    from gateway.providers import build_one

    settings = Settings.from_env({}, letter_sender_name="Acme Debt Collections")
    with pytest.raises(ValueError, match="sender name"):
        build_one("lob", settings, None)  # type: ignore[arg-type]
