from __future__ import annotations

import pytest

from b24claude.errors import BadRequest, Unauthorized
from b24claude.events import (
    AppInstalled,
    CommandInvoked,
    IncomingMessage,
    UnknownEvent,
    inbox_key_for_classic,
    parse_classic_envelope,
    update_from_payload,
)
from b24claude.events.parse import classic_payload, dialog_key_of_payload
from b24claude.ports.bitrix import CrmRefs
from tests.conftest import load_fixture


def test_openlines_message_fixture_becomes_an_incoming_message() -> None:
    body = load_fixture("ONIMBOTMESSAGEADD_openlines.json")["body"]
    env = parse_classic_envelope(body)
    payload = classic_payload(env)
    msg = update_from_payload(env.auth.member_id, payload)
    assert isinstance(msg, IncomingMessage)
    assert msg.bot_id == 1217 and msg.message_id == 91561 and msg.dialog_id == "chat2841"
    assert msg.is_open_line and msg.author_is_connector and not msg.is_system
    assert msg.crm_refs == CrmRefs(contact_id=907, deal_id=482)
    assert msg.session_id == 3175
    assert inbox_key_for_classic(env) == "v1:ONIMBOTMESSAGEADD:91561"
    assert dialog_key_of_payload(payload) == "dlg:chat2841"


def test_stored_payload_carries_no_tokens() -> None:
    body = load_fixture("ONIMBOTMESSAGEADD_openlines.json")["body"]
    payload = classic_payload(parse_classic_envelope(body))
    flat = repr(payload)
    bot_auth = body["data"]["BOT"]["1217"]
    for secret in (
        bot_auth["access_token"],
        bot_auth["refresh_token"],
        bot_auth["application_token"],
        body["auth"]["access_token"],
    ):
        assert secret not in flat


def test_private_message_fixture() -> None:
    body = load_fixture("ONIMBOTMESSAGEADD_private.json")["body"]
    env = parse_classic_envelope(body)
    msg = update_from_payload(env.auth.member_id, classic_payload(env))
    assert isinstance(msg, IncomingMessage)
    assert msg.chat_type == "P" and not msg.is_open_line
    assert msg.text == body["data"]["PARAMS"]["MESSAGE"]


def test_install_fixture() -> None:
    body = load_fixture("ONAPPINSTALL.json")["body"]
    env = parse_classic_envelope(body)
    assert env.name == "ONAPPINSTALL" and env.auth.refresh_token and env.auth.application_token
    assert isinstance(update_from_payload(env.auth.member_id, classic_payload(env)), AppInstalled)


def test_unknown_event_is_unknown() -> None:
    body = load_fixture("ONCRMDEALUPDATE_outgoing_webhook.json")["body"]
    env = parse_classic_envelope(body)
    assert isinstance(update_from_payload(env.auth.member_id, classic_payload(env)), UnknownEvent)


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"event": "", "auth": {"member_id": "m"}}, "event"),
        ({"event": "X", "data": "str", "auth": {"member_id": "m"}}, "data"),
        ({"event": "X", "auth": {"member_id": "m", "client_endpoint": "x" * 5000}}, "client_endpoint"),
    ],
)
def test_malformed_envelopes_say_why(form: dict[str, object], reason: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_classic_envelope(form)
    assert reason in info.value.message


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"event": "ONIMBOTMESSAGEADD"}, "auth block is missing"),
        ({"event": "X", "auth": "oops"}, "auth block is missing"),
        ({"event": "X", "auth": {"member_id": ""}}, "member_id"),
        ({"event": "X", "auth": {"application_token": "t"}}, "member_id"),
    ],
)
def test_missing_credentials_are_401_not_400(form: dict[str, object], reason: str) -> None:
    with pytest.raises(Unauthorized) as info:
        parse_classic_envelope(form)
    assert reason in info.value.message


def test_v2_message_payload() -> None:
    payload = {
        "api": "v2",
        "event": "ONIMBOTV2MESSAGEADD",
        "event_id": 5,
        "bot_id": 77,
        "data": {
            "bot": {"id": 77, "code": "b24claude"},
            "message": {
                "id": 901,
                "chatId": 12,
                "authorId": 400,
                "text": "Где мой заказ?",
                "isSystem": False,
            },
            "chat": {
                "id": 12,
                "dialogId": "chat12",
                "type": "lines",
                "entityType": "LINES",
                "entityData1": "Y|LEAD|31|N|N|55|1766049900|0|0|0",
                "entityData2": "LEAD|31|COMPANY|0|CONTACT|0|DEAL|0",
            },
            "user": {"id": 400, "name": "Пётр Иванов", "firstName": "Пётр", "connector": "Y", "bot": "N"},
        },
    }
    msg = update_from_payload("m1", payload)
    assert isinstance(msg, IncomingMessage)
    assert (msg.bot_api, msg.dialog_id, msg.chat_type, msg.author_first_name) == ("v2", "chat12", "L", "Пётр")
    assert msg.crm_refs == CrmRefs(lead_id=31) and msg.session_id == 55
    assert dialog_key_of_payload(payload) == "dlg:chat12"


def test_classic_command_fixture_becomes_a_command() -> None:
    body = load_fixture("ONIMCOMMANDADD_keyboard.json")["body"]
    env = parse_classic_envelope(body)
    payload = classic_payload(env)
    cmd = update_from_payload(env.auth.member_id, payload)
    assert isinstance(cmd, CommandInvoked)
    assert (cmd.command, cmd.params, cmd.context, cmd.command_id) == ("handoff", "sales", "keyboard", 103)
    msg = cmd.msg
    assert msg.bot_id == 1217 and msg.bot_api == "v1" and msg.message_id == 91570
    assert msg.dialog_id == "chat2841" and msg.is_open_line and msg.author_id == 1315
    assert msg.text == "/handoff sales"
    assert dialog_key_of_payload(payload) == "dlg:chat2841"  # serialised with the dialogue's messages
    # A keyboard press repeats the message id: the key is the event itself, and no token is kept.
    assert inbox_key_for_classic(env).startswith("v1:ONIMCOMMANDADD:h:")
    assert body["data"]["COMMAND"]["103"]["access_token"] not in repr(payload)


def test_v2_command_from_a_button_is_the_pressers() -> None:
    payload = {
        "api": "v2",
        "event": "ONIMBOTV2COMMANDADD",
        "event_id": 9,
        "bot_id": 77,
        "data": {
            "bot": {"id": 77, "code": "b24claude"},
            "command": {"id": 4, "command": "/rate", "params": "up 31", "context": "keyboard"},
            "message": {"id": 950, "chatId": 12, "authorId": 77, "text": "Доставка 590 ₽", "isSystem": False},
            "chat": {"id": 12, "dialogId": "chat12", "type": "lines", "entityType": "LINES"},
            "user": {"id": 400, "name": "Пётр Иванов", "connector": True, "bot": False},
            "language": "ru",
        },
    }
    cmd = update_from_payload("m1", payload)
    assert isinstance(cmd, CommandInvoked)
    assert (cmd.command, cmd.params, cmd.context, cmd.command_id) == ("rate", "up 31", "keyboard", 4)
    assert cmd.msg.author_id == 400 and cmd.msg.author_is_connector and cmd.msg.message_id == 950
    assert cmd.msg.text == "/rate up 31" and cmd.dialog_key == "dlg:chat12"


def test_files_of_a_message_are_parsed_from_both_bot_api_generations() -> None:
    from b24claude.events.parse import update_from_payload

    file = {"id": "7301", "name": "чек.jpg", "type": "image", "size": "48211", "urlShow": "https://p/s/7301"}
    v1 = update_from_payload(
        "m1",
        {
            "api": "v1",
            "event": "ONIMBOTMESSAGEADD",
            "data": {
                "BOT": {"39": {}},
                "PARAMS": {"MESSAGE_ID": "5", "DIALOG_ID": "chat9", "MESSAGE": "", "FILES": {"7301": file}},
            },
        },
    )
    v2 = update_from_payload(
        "m1",
        {
            "api": "v2",
            "event": "ONIMBOTV2MESSAGEADD",
            "bot_id": 39,
            "data": {
                "message": {"id": 5, "text": "", "params": {"FILE_ID": [7301]}},
                "chat": {"id": 9},
                "files": [file],
            },
        },
    )
    for update in (v1, v2):
        assert isinstance(update, IncomingMessage)
        assert [(f.id, f.name, f.url, f.type, f.size) for f in update.files] == [
            (7301, "чек.jpg", "https://p/s/7301", "image", 48211)
        ]
    # Junk where files belong is ignored, not a crash.
    junk = update_from_payload(
        "m1",
        {
            "api": "v1",
            "event": "ONIMBOTMESSAGEADD",
            "data": {"PARAMS": {"MESSAGE_ID": "6", "DIALOG_ID": "1", "FILES": "x"}},
        },
    )
    assert isinstance(junk, IncomingMessage) and junk.files == ()
