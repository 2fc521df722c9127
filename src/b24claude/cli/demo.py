"""``b24claude demo``: the whole loop, no credentials, no network beyond loopback.

Starts the Claude and Bitrix24 emulators and the app, installs the app into the emulated portal,
plays scripted Russian (and one English) customer conversations through Open Lines and prints
each dialogue, what the bot knew from the CRM, what was written to the CRM, and the cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from b24claude.cli.stack import SandboxStack


@dataclass(frozen=True)
class Script:
    title: str
    customer: str | dict[str, Any]
    messages: tuple[str, ...]
    show_masked: bool = False  # print what Claude received for the last message (placeholders)


SCRIPTS: tuple[Script, ...] = (
    Script(
        "Постоянный клиент спрашивает о заказе / A known client asks about her order",
        "anna",
        ("Здравствуйте! Подскажите, когда доставят мой заказ?", "А доставка по Москве платная?", "Спасибо!"),
    ),
    Script(
        "Новый клиент: оплата и рассрочка / A new client: payment and instalments",
        "stranger",
        ("Добрый день, какие способы оплаты у вас есть? Работаете с НДС?", "а рассрочку можно оформить?"),
    ),
    Script(
        "Возврат / A return",
        "olga",
        ("Хочу вернуть кофемолку, коробку сохранила. Как оформить возврат?",),
    ),
    Script(
        "Персональные данные в чате / Personal data in the chat",
        "olga",
        ("Мой новый номер +7 (925) 111-22-33, паспорт 4510 123456. Сколько стоит доставка по Москве?",),
        show_masked=True,
    ),
    Script(
        "Вопрос не из базы знаний / A question the knowledge base cannot answer",
        "ivan",
        ("Можно ли перекрасить кофемашину в фирменный цвет нашего офиса?",),
    ),
    Script(
        "English-speaking customer / Клиент пишет по-английски",
        {"key": "john", "name": "John", "last_name": "Smith", "email": "john.smith@example.com"},
        ("Hi! What is the warranty on coffee machines?",),
    ),
)


async def run_demo(*, quiet: bool = False, bot_api: str = "v2") -> int:
    console = Console()
    started = time.perf_counter()
    stack = SandboxStack(bot_api=bot_api)
    answered = asked = 0
    try:
        await stack.start()
        if not quiet:
            console.print(
                Panel.fit(
                    f"Эмулятор портала / portal emulator: {stack.portal.config.public_base_url}\n"
                    f"Эмулятор Claude / Claude emulator: {stack.settings.anthropic_base_url}\n"
                    f"Приложение / app: {stack.app_url}  (бот / bot API {bot_api}, "
                    f"лимит / limit {stack.rate_limit_per_s:g} req/s)\n"
                    f"Установлено в портал / installed into portal {stack.member_id}",
                    title="b24claude demo",
                )
            )
        for script in SCRIPTS:
            transcript: list[tuple[str, str]] = []
            for text in script.messages:
                asked += 1
                reply = await stack.ask(text, script.customer)
                answered += 1
                transcript.extend([("Клиент / Customer", text), ("Бот / Bot", reply)])
            if not quiet:
                _print_dialogue(console, stack, script, transcript)
        elapsed = time.perf_counter() - started
        await _print_summary(console, stack, answered=answered, asked=asked, elapsed=elapsed)
        return 0 if answered == asked else 1
    finally:
        await stack.stop()


def _print_dialogue(
    console: Console, stack: SandboxStack, script: Script, transcript: list[tuple[str, str]]
) -> None:
    chat = stack.portal.find_chat(script.customer)
    table = Table(show_header=False, box=None, padding=(0, 1))
    for who, text in transcript:
        table.add_row(f"[bold]{who}[/bold]", text)
    crm = ""
    if chat is not None:
        session = stack.portal.sessions.get(chat.session_id)
        if session is not None:
            bound = ", ".join(f"{k} #{v}" for k, v in session.crm.items() if v)
            crm = f"\nCRM: {bound or '—'}"
    if script.show_masked:
        calls = [r for r in stack.claude.requests if r.path == "/v1/messages"]
        if calls:
            content = calls[-1].body["messages"][-1]["content"]
            seen = content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)
            table.add_row("[bold]Claude видел / Claude saw[/bold]", seen)
    console.print(Panel(table, title=script.title, subtitle=f"чат / chat {chat.id if chat else '?'}{crm}"))


POLL_METHODS = frozenset({"imbot.v2.Event.get"})
SETUP_METHODS = frozenset({"imbot.register", "imbot.bot.list", "imbot.v2.Bot.register"})


def rest_calls(stack: SandboxStack) -> tuple[int, int]:
    """(requests on the answer path, requests polling imbot.v2.Event.get) the app made so far."""
    if stack.container is None:
        return 0, 0
    by_method = stack.container.bitrix.stats.requests_by_method
    polls = sum(n for m, n in by_method.items() if m in POLL_METHODS)
    setup = sum(n for m, n in by_method.items() if m in SETUP_METHODS)
    return stack.container.bitrix.stats.requests - polls - setup, polls


async def _print_summary(
    console: Console, stack: SandboxStack, *, answered: int, asked: int, elapsed: float
) -> None:
    writes = list(stack.portal.crm_writes)
    table = Table(title="Записано в CRM / Written to the CRM")
    for col in ("method", "entity", "id", "author", "fields"):
        table.add_column(col)
    for w in writes:
        fields = ", ".join(f"{k}={v}" for k, v in list(w.fields.items())[:4])
        table.add_row(w.method, w.entity, str(w.id), w.author, fields[:80])
    if not writes:
        table.add_row("—", "—", "—", "—", "—")
    console.print(table)
    console.print(
        "Leads (author OpenLines) were created by Open Lines for new customers; updates by the app add "
        "the phones/e-mails customers gave in chat (real values, restored from placeholders). / Лиды "
        "(OpenLines) создала Открытая линия; обновления от приложения — телефоны и e-mail из чата."
    )
    answer_calls, polls = rest_calls(stack)
    console.print(
        f"Отвечено / answered: {answered}/{asked}; REST на ответы / answer-path REST calls: {answer_calls} "
        f"({answer_calls / max(1, answered):.2f} на сообщение / per message), "
        f"опрос imbot.v2.Event.get / polling: {polls}; "
        f"QUERY_LIMIT_EXCEEDED: {stack.portal.stats.rejected_rate_limit}; время / time: {elapsed:.1f} s"
    )
    if stack.container is not None:
        t = await stack.container.store.ledger.totals(stack.member_id)
        console.print(
            f"Claude: {int(t['calls'])} вызовов / calls, {int(t['input_tokens'])} in + "
            f"{int(t['cache_read_input_tokens'])} cache-read + {int(t['output_tokens'])} out tokens, "
            f"${t['cost_usd']:.4f}"
        )
