"""Pure logic of the Bitrix24 adapter: throttle maths, batch encoding, error mapping, parsers."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Coroutine
from typing import Any
from urllib.parse import parse_qsl

import pytest

from b24claude.adapters.bitrix24.batch import (
    BatchResult,
    encode_command,
    is_read_batch,
    is_read_method,
    parse_batch_result,
    plan_chunks,
    references,
)
from b24claude.adapters.bitrix24.errors import map_error, map_oauth_error, map_response
from b24claude.adapters.bitrix24.gateway import (
    client_card,
    load_client_commands,
    refs_from_duplicates,
    split_text,
)
from b24claude.adapters.bitrix24.throttle import LeakyBucket, PortalThrottle
from b24claude.errors import (
    Bitrix24AuthError,
    Bitrix24Error,
    Bitrix24NotFound,
    Bitrix24OperationLimit,
    Bitrix24RateLimited,
    Bitrix24TokenExpired,
    Bitrix24TransientError,
)
from b24claude.kit import phpform
from b24claude.kit.openlines import bindings_from_entity_data, parse_entity_data_1, parse_entity_data_2
from b24claude.kit.urls import oauth_origin
from b24claude.ports.bitrix import CrmRefs


class FakeClock:
    """``sleep`` moves time instead of waiting."""

    def __init__(self, start: float = 1_766_000_000.0) -> None:
        self.t = start
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


class VirtualClock:
    """Discrete-event time for concurrent pure-logic tests: sleepers wake one at a time, in order
    of their deadlines, once every other task has blocked."""

    def __init__(self) -> None:
        self.t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self.t + max(0.0, seconds), self._seq, future))
        await future

    async def run(self, *coros: Coroutine[Any, Any, None]) -> None:
        tasks = [asyncio.create_task(c) for c in coros]
        while not all(t.done() for t in tasks):
            for _ in range(10):
                await asyncio.sleep(0)
            if self._sleepers:
                deadline, _, future = heapq.heappop(self._sleepers)
                self.t = max(self.t, deadline)
                future.set_result(None)
        for task in tasks:
            task.result()


# ----- throttle -------------------------------------------------------------------------------------
def test_bucket_admits_up_to_capacity_then_waits_for_drain() -> None:
    bucket = LeakyBucket(capacity=48, rate=2.0, updated=0.0)
    for _ in range(48):
        assert bucket.wait_time(0.0) == 0.0
        bucket.start()
    assert bucket.wait_time(0.0) == pytest.approx(0.5)  # in flight counts fully
    for _ in range(48):
        bucket.finish(0.0)
    assert bucket.in_flight == 0 and bucket.peek(0.0) == 48
    assert bucket.wait_time(0.0) == pytest.approx(0.5)
    assert bucket.wait_time(0.5) == 0.0


def test_finished_requests_drain_from_their_response_time() -> None:
    bucket = LeakyBucket(capacity=10, rate=2.0, updated=0.0)
    bucket.start()
    bucket.finish(3.0)  # sent at 0, answered at 3: counted from 3
    assert bucket.peek(3.0) == 1.0
    assert bucket.peek(3.25) == pytest.approx(0.5)
    assert bucket.peek(100.0) == 0.0


def test_fill_marks_full() -> None:
    bucket = LeakyBucket(capacity=10, rate=2.0, updated=0.0)
    bucket.fill(0.0)
    assert bucket.wait_time(0.0) == pytest.approx(0.5)
    over = LeakyBucket(capacity=10, rate=2.0, level=14.0, updated=0.0)
    over.fill(0.0)
    assert over.peek(0.0) == 14


async def test_throttle_keeps_server_bucket_under_burst_despite_latency() -> None:
    """200 requests, each arriving 0.3 s after it is sent and answered 0.3 s later; the server's
    bucket (+1 per arrival, reject above 50) never overflows."""
    clock = VirtualClock()
    throttle = PortalThrottle(clock, rate_per_s=2.0, burst=50)
    arrivals: list[float] = []

    async def one() -> None:
        await throttle.acquire("portal")
        await clock.sleep(0.3)
        arrivals.append(clock.now())
        await clock.sleep(0.3)
        throttle.release("portal")

    await clock.run(*(one() for _ in range(200)))
    assert len(arrivals) == 200
    level, last, rejected = 0.0, 0.0, 0
    for t in sorted(arrivals):
        level = max(0.0, level - (t - last) * 2.0)
        last = t
        if level + 1 > 50:
            rejected += 1
        else:
            level += 1
    assert rejected == 0
    assert clock.now() < (200 - 48) / 2.0 + 5  # and no slower than the server allows


async def test_throttle_buckets_are_per_portal() -> None:
    clock = FakeClock(0.0)
    throttle = PortalThrottle(clock, rate_per_s=2.0, burst=3, margin=0)
    for _ in range(3):
        assert await throttle.acquire("a") == 0.0
        throttle.release("a")
    assert await throttle.acquire("b") == 0.0
    assert await throttle.acquire("a") == pytest.approx(0.5)


async def test_waiters_are_served_in_order_at_the_drain_rate() -> None:
    clock = VirtualClock()
    throttle = PortalThrottle(clock, rate_per_s=2.0, burst=2, margin=0)
    served: list[tuple[int, float]] = []

    async def one(i: int) -> None:
        await throttle.acquire("p")
        served.append((i, clock.now()))
        throttle.release("p")

    await clock.run(*(one(i) for i in range(5)))
    assert [i for i, _ in served] == [0, 1, 2, 3, 4]
    assert [t for _, t in served] == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.5])


# ----- batch ----------------------------------------------------------------------------------------
def test_encode_command_php_brackets_and_refs_kept_readable() -> None:
    cmd = encode_command(
        "crm.deal.list",
        {"filter": {"CONTACT_ID": "$result[contact][ID]", "CLOSED": "N"}, "select": ["ID", "TITLE"]},
    )
    method, _, query = cmd.partition("?")
    assert method == "crm.deal.list"
    assert "$result[contact][ID]" in query
    assert phpform.parse(parse_qsl(query)) == {
        "filter": {"CONTACT_ID": "$result[contact][ID]", "CLOSED": "N"},
        "select": {"0": "ID", "1": "TITLE"},
    }
    assert encode_command("user.current") == "user.current"
    assert encode_command("crm.contact.get", {"id": 5}) == "crm.contact.get?id=5"


def test_encode_command_escapes_user_text() -> None:
    cmd = encode_command("imbot.message.add", {"MESSAGE": "a&b=c [x] 100% ?"})
    _, _, query = cmd.partition("?")
    assert dict(parse_qsl(query)) == {"MESSAGE": "a&b=c [x] 100% ?"}


def test_references_found_in_nested_params() -> None:
    assert references({"id": "$result[contact][COMPANY_ID]", "f": {"x": "$result_next[list]"}}) == {
        "contact",
        "list",
    }
    assert references({"text": "no refs here"}) == set()


def test_plan_chunks_splits_at_50_without_refs() -> None:
    cmds = {f"c{i}": ("crm.contact.get", {"id": i}) for i in range(120)}
    chunks = plan_chunks(cmds)
    assert [len(c) for c in chunks] == [50, 50, 20]
    assert next(iter(chunks[1])) == "c50"


def test_plan_chunks_allows_refs_inside_a_chunk_and_refuses_across() -> None:
    small = {"a": ("crm.deal.get", {"id": 1}), "b": ("crm.contact.get", {"id": "$result[a][CONTACT_ID]"})}
    assert len(plan_chunks(small)) == 1
    big: dict[str, tuple[str, dict[str, object]]] = {
        f"c{i}": ("crm.contact.get", {"id": i}) for i in range(60)
    }
    big["c55"] = ("crm.contact.get", {"id": "$result[c54][ID]"})  # same chunk: fine
    assert len(plan_chunks(big)) == 2
    big["c59"] = ("crm.contact.get", {"id": "$result[c1][ID]"})  # across chunks
    with pytest.raises(ValueError, match="another chunk"):
        plan_chunks(big)


def test_read_classification() -> None:
    assert (
        is_read_method("crm.deal.get")
        and is_read_method("crm.item.list")
        and is_read_method("crm.deal.fields")
    )
    assert is_read_method("imbot.v2.Event.get") and is_read_method("crm.duplicate.findbycomm")
    assert is_read_method("imopenlines.dialog.get")
    assert not is_read_method("imbot.message.add") and not is_read_method("crm.deal.update")
    assert is_read_batch({"a": ("crm.deal.get", {}), "b": ("crm.deal.list", {})})
    assert not is_read_batch({"a": ("crm.deal.get", {}), "b": ("crm.deal.update", {})})
    assert not is_read_batch({"a": ("event.offline.get", {})}) and not is_read_method("event.offline.get")


def test_parse_batch_result_fixture_shape() -> None:
    result = parse_batch_result(
        {
            "result": {"deal": {"ID": "482"}, "contacts": [{"ID": "907"}]},
            "result_error": {"timeline": {"error": "ACCESS_DENIED", "error_description": "Access denied."}},
            "result_total": {"contacts": 1},
            "result_next": [],
            "result_time": {"deal": {"operating": 0}},
        }
    )
    assert result.result["deal"] == {"ID": "482"}
    assert result.total == {"contacts": 1} and result.next == {}
    assert isinstance(result.errors["timeline"], Bitrix24Error)
    assert result.errors["timeline"].code == "ACCESS_DENIED"
    assert result.ok("deal") and not result.ok("timeline")
    with pytest.raises(Bitrix24Error):
        result.get("timeline")


def test_parse_batch_result_php_lists_and_empty_sections() -> None:
    result = parse_batch_result(
        {"result": [{"ID": "1"}, {"ID": "2"}], "result_error": [], "result_total": [], "result_next": []}
    )
    assert result.result == {"0": {"ID": "1"}, "1": {"ID": "2"}}
    assert result.errors == {}
    legacy = parse_batch_result(
        {"result": {}, "result_error": {"c": {"error": "", "error_description": "Not found"}}}
    )
    assert isinstance(legacy.errors["c"], Bitrix24NotFound)


def test_batch_results_merge() -> None:
    a = BatchResult(result={"x": 1}, total={"x": 3})
    b = BatchResult(result={"y": 2}, errors={"z": Bitrix24Error("e")})
    merged = a.merged(b)
    assert merged.result == {"x": 1, "y": 2} and merged.total == {"x": 3} and set(merged.errors) == {"z"}


# ----- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (
            503,
            {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"},
            Bitrix24RateLimited,
            "QUERY_LIMIT_EXCEEDED",
        ),
        (
            429,
            {"error": "OPERATION_TIME_LIMIT", "error_description": "blocked"},
            Bitrix24OperationLimit,
            "OPERATION_TIME_LIMIT",
        ),
        (429, {"error": "TOO_MANY", "error_description": "x"}, Bitrix24RateLimited, "TOO_MANY"),
        # Still expired after refreshing: an auth error the inbox retries later (never final).
        (401, {"error": "expired_token", "error_description": "expired"}, Bitrix24TokenExpired, "expired_token"),
        (
            401,
            {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"},
            Bitrix24AuthError,
            "NO_AUTH_FOUND",
        ),
        (400, {"error": "", "error_description": "Not found"}, Bitrix24NotFound, ""),
        (
            400,
            {"error": "NOT_FOUND", "error_description": "Element not found"},
            Bitrix24NotFound,
            "NOT_FOUND",
        ),
        (
            500,
            {"error": "INTERNAL_SERVER_ERROR", "error_description": "x"},
            Bitrix24TransientError,
            "INTERNAL_SERVER_ERROR",
        ),
        (502, None, Bitrix24TransientError, "INTERNAL_SERVER_ERROR"),
        (200, None, Bitrix24Error, "ERROR_UNEXPECTED_ANSWER"),
        (403, {"error": "WRONG_AUTH_TYPE", "error_description": "x"}, Bitrix24Error, "WRONG_AUTH_TYPE"),
        (
            404,
            {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"},
            Bitrix24Error,
            "ERROR_METHOD_NOT_FOUND",
        ),
    ],
)
def test_map_response(status: int, body: object, cls: type[Bitrix24Error], code: str) -> None:
    error = map_response(status, body)
    assert type(error) is cls
    assert error.code == code
    assert error.status == status


def test_overload_limit_is_not_retryable() -> None:
    error = map_response(503, {"error": "OVERLOAD_LIMIT", "error_description": "blocked"})
    assert type(error) is Bitrix24Error and not error.retryable


def test_retryable_flags() -> None:
    assert map_error("QUERY_LIMIT_EXCEEDED").retryable
    assert not map_error("ACCESS_DENIED", status=403).retryable


def test_oauth_errors() -> None:
    grant = map_oauth_error(400, {"error": "invalid_grant", "error_description": "bad"})
    assert isinstance(grant, Bitrix24AuthError) and grant.code == "invalid_grant"
    client = map_oauth_error(401, {"error": "invalid_client"})
    assert isinstance(client, Bitrix24AuthError) and client.code == "invalid_client"
    assert isinstance(map_oauth_error(503, None), Bitrix24TransientError)


def test_expired_token_error_is_retryable_and_still_an_auth_error() -> None:
    error = map_response(401, {"error": "expired_token", "error_description": "x"})
    assert isinstance(error, Bitrix24AuthError) and error.retryable
    assert not map_response(400, {"error": "invalid_grant", "error_description": "x"}).retryable


def test_oauth_origin_of_the_configured_server() -> None:
    # Only the configured server is ever called; a stored server_endpoint is not an input to it.
    assert oauth_origin("https://oauth.bitrix.info/rest/") == "https://oauth.bitrix.info"
    assert oauth_origin("https://OAuth.Bitrix24.tech/") == "https://oauth.bitrix24.tech"


# ----- Open Lines strings ---------------------------------------------------------------------------
def test_parse_entity_data_2() -> None:
    b = parse_entity_data_2("LEAD|0|COMPANY|0|CONTACT|907|DEAL|482")
    assert (b.lead_id, b.company_id, b.contact_id, b.deal_id) == (None, None, 907, 482)
    assert parse_entity_data_2("").is_empty() and parse_entity_data_2(None).is_empty()
    assert parse_entity_data_2("LEAD|x|WEIRD|5|COMPANY|12").company_id == 12
    assert parse_entity_data_2("LEAD|3|CONTACT").lead_id == 3


def test_parse_entity_data_1() -> None:
    d = parse_entity_data_1("Y|DEAL|482|N|N|3175|1766049900|0|0|0")
    assert d.crm and d.crm_entity_type == "DEAL" and d.crm_entity_id == 482
    assert d.session_id == 3175 and d.date_create == 1766049900 and d.line_id is None
    assert not d.pause and d.block_reason == ""
    assert d.bindings().deal_id == 482
    short = parse_entity_data_1("N|NONE|0")
    assert not short.crm and short.bindings().is_empty()


def test_bindings_fall_back_to_data_1() -> None:
    assert bindings_from_entity_data("Y|LEAD|7|N|N|1|0|0|0|0", "").lead_id == 7
    both = bindings_from_entity_data("Y|LEAD|7|N|N|1|0|0|0|0", "LEAD|7|COMPANY|0|CONTACT|9|DEAL|0")
    assert both.contact_id == 9 and both.lead_id == 7


# ----- gateway mapping ------------------------------------------------------------------------------
def test_load_client_commands_for_contact() -> None:
    cmds = load_client_commands(CrmRefs(contact_id=5))
    assert list(cmds) == ["contact", "company", "deals"]
    assert cmds["company"] == ("crm.company.get", {"id": "$result[contact][COMPANY_ID]"})
    method, params = cmds["deals"]
    assert method == "crm.deal.list" and params["filter"] == {"CONTACT_ID": 5, "CLOSED": "N"}
    assert len(plan_chunks(cmds)) == 1


def test_load_client_commands_deal_only_never_lists_by_reference() -> None:
    cmds = load_client_commands(CrmRefs(deal_id=9))
    assert list(cmds) == ["deal", "contact", "company"]
    assert "deals" not in cmds
    assert load_client_commands(CrmRefs()) == {}
    assert load_client_commands(CrmRefs(company_id=3))["deals"][1]["filter"] == {
        "COMPANY_ID": 3,
        "CLOSED": "N",
    }


def test_client_card_maps_contact_company_and_deals() -> None:
    batch = parse_batch_result(
        {
            "result": {
                "contact": {
                    "ID": "5",
                    "NAME": "Анна",
                    "SECOND_NAME": "Сергеевна",
                    "LAST_NAME": "Петрова",
                    "POST": "CTO",
                    "ASSIGNED_BY_ID": "3",
                    "PHONE": [{"ID": "1", "VALUE": "+79001234567", "VALUE_TYPE": "WORK"}],
                    "EMAIL": [{"ID": "2", "VALUE": "anna@example.ru", "VALUE_TYPE": "WORK"}],
                },
                "company": {"ID": "8", "TITLE": "ООО Ромашка"},
                "deals": [
                    {
                        "ID": "11",
                        "TITLE": "Лицензии",
                        "STAGE_ID": "NEW",
                        "OPPORTUNITY": "1500.00",
                        "CURRENCY_ID": "RUB",
                        "CLOSED": "N",
                    },
                ],
            },
            "result_error": [],
        }
    )
    card = client_card(CrmRefs(contact_id=5), batch)
    assert card.kind == "contact"
    assert card.name == "Анна Сергеевна Петрова" and card.first_name == "Анна"
    assert card.company == "ООО Ромашка" and card.refs.company_id == 8
    assert card.phones == ("+79001234567",) and card.emails == ("anna@example.ru",)
    assert card.position == "CTO" and card.assigned_user_id == 3
    assert [(d.id, d.amount, d.currency, d.closed) for d in card.open_deals] == [(11, 1500.0, "RUB", False)]


def test_client_card_degrades_when_parts_fail() -> None:
    batch = parse_batch_result(
        {
            "result": [],
            "result_error": {
                "contact": {"error": "", "error_description": "Not found"},
                "company": {"error": "", "error_description": "Not found"},
            },
        }
    )
    card = client_card(CrmRefs(contact_id=5), batch)
    assert card.kind == "unknown" and card.name == "" and card.open_deals == ()
    assert card.refs == CrmRefs(contact_id=5)


def test_client_card_lead_and_bound_deal() -> None:
    batch = parse_batch_result(
        {
            "result": {
                "lead": {"ID": "4", "NAME": "Иван", "TITLE": "Заявка с сайта", "COMPANY_TITLE": "ИП Иванов"},
                "deal": {"ID": "20", "TITLE": "Сделка", "STAGE_ID": "WON", "CLOSED": "Y"},
            }
        }
    )
    card = client_card(CrmRefs(lead_id=4, deal_id=20), batch)
    assert card.kind == "lead" and card.name == "Иван" and card.company == "ИП Иванов"
    assert card.open_deals == ()  # the bound deal is closed
    assert card.extra["lead_title"] == "Заявка с сайта"


def test_refs_from_duplicates_prefers_contact_then_company_then_lead() -> None:
    assert refs_from_duplicates({"LEAD": [3], "CONTACT": [7, 9], "COMPANY": [2]}) == CrmRefs(contact_id=7)
    assert refs_from_duplicates({"LEAD": [3], "COMPANY": [2]}) == CrmRefs(company_id=2)
    assert refs_from_duplicates({"LEAD": ["3"]}) == CrmRefs(lead_id=3)
    assert refs_from_duplicates([]) == CrmRefs()


def test_split_text() -> None:
    assert split_text("hello", 20_000) == ["hello"]
    assert split_text("", 10) == [""]
    text = ("word " * 10).strip()
    parts = split_text(text, 12)
    assert all(len(p) <= 12 for p in parts) and " ".join(parts) == text
    solid = "x" * 25
    assert split_text(solid, 10) == ["x" * 10, "x" * 10, "x" * 5]
    paragraphs = "a" * 15 + "\n\n" + "b" * 15
    assert split_text(paragraphs, 20) == ["a" * 15, "b" * 15]
