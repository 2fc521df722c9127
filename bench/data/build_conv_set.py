# ruff: noqa: E501  (data: one template per line)
"""Build the labelled conversation sets for ``b24claude eval`` and ``bench/bench_cost.py``.

    .venv/bin/python bench/data/build_conv_set.py

Writes ``conv_ru_dev.jsonl`` and ``conv_ru_holdout.jsonl``: one conversation per line in the format of
issue 9 — ``{"id", "channel", "customer": {"name", "vip"}, "messages": [...], "label": {"type",
"urgency", "sentiment", "needs_human", "kb_answerable", "expected_kb": [...]}}``. ``expected_kb`` uses
the ``kb search`` source form (``dostavka.md#Доставка по Москве``) of the «ВелоГрад» base in
``kb_velograd/``; the knowledge questions come from ``kb_ru_dev.jsonl`` / ``kb_ru_holdout.jsonl``
(the same split), the rest from templates below. Holdout templates are other sentences (no message in
common with dev, checked here), other names, other channels. Labels were written from what a careful
operator would decide, before any classifier ran on them; the holdout is never used for tuning.

Label conventions: an unanswerable question is ``consultation``, ``needs_human: false`` (the bot should
decline and offer a specialist, not hand off silently); a request for a person is ``needs_human: true``
whatever its type; a critical complaint is ``urgency: critical``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

NAMES_DEV = ["Анна", "Игорь", "Мария", "Дмитрий", "Ольга", "Сергей", "Екатерина", "Алексей", "Наталья", "Павел", "Юлия", "Артём"]
NAMES_HOLDOUT = ["Виктория", "Роман", "Ксения", "Максим", "Татьяна", "Глеб", "Дарья", "Степан"]
CHANNELS_DEV = ["telegram", "whatsapp", "livechat", "vk"]
CHANNELS_HOLDOUT = ["avito", "telegram", "livechat"]
GREETINGS_DEV = ["Здравствуйте!", "Добрый день", "Привет", "здрасьте"]
GREETINGS_HOLDOUT = ["Доброе утро!", "Добрый вечер", "Приветствую"]


def label(kind: str, urgency: str, sentiment: str, needs_human: bool, kb: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": kind,
        "urgency": urgency,
        "sentiment": sentiment,
        "needs_human": needs_human,
        "kb_answerable": bool(kb),
        "expected_kb": kb or [],
    }


# (messages, label) templates by category; each list has a dev part and a holdout part.
SUPPORT = {
    "dev": [
        (["У меня на велосипеде перестали переключаться скорости"], label("support", "normal", "neutral", False)),
        (["Самокат не включается после зарядки, индикатор не горит"], label("support", "normal", "neutral", False)),
        (["скрипят тормоза на новом велике, это нормально?"], label("support", "normal", "neutral", False)),
        (["Колесо восьмёркой пошло после бордюра", "Где можно исправить?"], label("support", "normal", "neutral", False)),
        (["Электросамокат не заряжается, зарядка мигает красным"], label("support", "normal", "neutral", False)),
        (["цепь слетает постоянно, уже два раза ставил обратно"], label("support", "normal", "negative", False)),
        (["Прокол на заднем колесе, камера спускает за ночь"], label("support", "normal", "neutral", False)),
        (["Срочно! Самокат заглох посреди дороги и не едет, что делать?"], label("support", "high", "negative", False)),
    ],
    "holdout": [
        (["Руль люфтит и стучит на кочках"], label("support", "normal", "neutral", False)),
        (["Дисплей на самокате показывает ошибку E07"], label("support", "normal", "neutral", False)),
        (["Переднее колесо трётся о колодку, как отрегулировать?"], label("support", "normal", "neutral", False)),
        (["педаль болтается и скрежет при кручении"], label("support", "normal", "neutral", False)),
    ],
}
SALES = {
    "dev": [
        (["Есть в наличии горный велосипед на рост 180?"], label("sales", "normal", "neutral", False)),
        (["Хочу купить ребёнку велосипед, ему 7 лет, что посоветуете?"], label("sales", "normal", "neutral", False)),
        (["Сколько стоит самокат Ninebot Max?", "Есть чёрный?"], label("sales", "normal", "neutral", False)),
        (["Нам нужно 20 велосипедов для корпоративного проката, дадите скидку?", "Счёт на ООО выставите?"], label("sales", "normal", "neutral", True)),
        (["хочу заказать шлем и фонарь, как оформить?"], label("sales", "normal", "neutral", False)),
        (["Какие модели шоссейников у вас есть до 80 тысяч?"], label("sales", "normal", "neutral", False)),
        (["Интересует электровелосипед, есть акции?"], label("sales", "normal", "positive", False)),
    ],
    "holdout": [
        (["Подберите складной велосипед для метро, пожалуйста"], label("sales", "normal", "neutral", False)),
        (["Почём гравийник Format? В наличии есть?"], label("sales", "normal", "neutral", False)),
        (["Хотим закупить оптом 50 самокатов для сети, кто у вас по опту?"], label("sales", "normal", "neutral", True)),
        (["Можно купить подарочный сертификат?"], label("sales", "normal", "neutral", False)),
    ],
}
COMPLAINTS = {
    "dev": [
        (["Заказ привезли с поцарапанной рамой", "Это безобразие, верните деньги!"], label("complaint", "high", "negative", True)),
        (["Курьер опоздал на 4 часа и нахамил", "Хочу оставить жалобу"], label("complaint", "high", "negative", True)),
        (["Велосипед сломался через неделю после покупки, я очень недоволен"], label("complaint", "high", "negative", True)),
        (["У ребёнка на ходу отвалился руль, он упал и разбил лицо", "Буду писать в Роспотребнадзор"], label("complaint", "critical", "negative", True)),
        (["Третий раз пишу, деньги за возврат так и не пришли!!!"], label("complaint", "high", "negative", True)),
        (["Ремонт обещали за 3 дня, прошло две недели. Это кошмар"], label("complaint", "high", "negative", True)),
        (["Аккумулятор самоката вздулся и задымился в квартире, чуть не случился пожар"], label("complaint", "critical", "negative", True)),
    ],
    "holdout": [
        (["Продавец в магазине на Ленинском грубил и отказался принять возврат", "Я возмущена"], label("complaint", "high", "negative", True)),
        (["Вы меня обманули с рассрочкой, переплата 5 тысяч, подам в суд"], label("complaint", "critical", "negative", True)),
        (["Привезли не тот размер рамы, уже второй раз ошибаетесь, сколько можно"], label("complaint", "high", "negative", True)),
    ],
}
SPAM = {
    "dev": [
        (["Заработок от 100 000 в месяц без вложений! Пиши t.me/easy_money"], label("spam", "low", "neutral", False)),
        (["Раскрутка вашего сайта в ТОП-10 Яндекса, SEO-продвижение недорого www.seo-top.ru"], label("spam", "low", "neutral", False)),
        (["Казино Вулкан дарит 500 фриспинов https://bit.ly/xx"], label("spam", "low", "neutral", False)),
        (["Инвестиции в крипту с доходностью 300%, пишите в личку"], label("spam", "low", "neutral", False)),
    ],
    "holdout": [
        (["Продам базу клиентов велосалонов, рассылка базы по 1 руб за контакт"], label("spam", "low", "neutral", False)),
        (["Click here to earn money fast http://win.example"], label("spam", "low", "neutral", False)),
    ],
}
SMALLTALK = {
    "dev": [
        (["Привет"], label("smalltalk", "low", "neutral", False)),
        (["Спасибо большое, всё отлично!"], label("smalltalk", "low", "positive", False)),
        (["вы бот?"], label("smalltalk", "low", "neutral", False)),
        (["Хорошего дня!"], label("smalltalk", "low", "positive", False)),
        (["Добрый день", "Спасибо, понятно"], label("smalltalk", "low", "positive", False)),
    ],
    "holdout": [
        (["Здравствуйте"], label("smalltalk", "low", "neutral", False)),
        (["Благодарю, вы молодцы"], label("smalltalk", "low", "positive", False)),
        (["ок, ясно"], label("smalltalk", "low", "neutral", False)),
    ],
}
HUMAN = {
    "dev": [
        (["Позовите оператора"], label("consultation", "normal", "neutral", True)),
        (["Хочу поговорить с живым человеком, а не с ботом"], label("consultation", "normal", "negative", True)),
        (["Соедините с менеджером, пожалуйста, вопрос по доставке"], label("consultation", "normal", "neutral", True)),
        (["Добрый день", "Можно специалиста? У меня вопрос по гарантии"], label("consultation", "normal", "neutral", True)),
    ],
    "holdout": [
        (["Переключите на оператора"], label("consultation", "normal", "neutral", True)),
        (["Мне нужен живой человек, бот не помогает"], label("consultation", "normal", "negative", True)),
    ],
}
TURNS = {  # calm at first, then the dialogue turns
    "dev": [
        (["Когда привезут мой заказ?", "Уже неделю жду", "Сколько можно, это безобразие, позовите менеджера"], label("complaint", "high", "negative", True)),
        (["Какая гарантия на самокат?", "А если он уже сломался на второй день? Я в ярости, верните деньги"], label("complaint", "high", "negative", True)),
    ],
    "holdout": [
        (["Можно вернуть шлем?", "Мне отказали в магазине, это обман, буду жаловаться"], label("complaint", "high", "negative", True)),
    ],
}
ENGLISH = {
    "dev": [
        (["The scooter is broken, it does not turn on"], label("support", "normal", "negative", False)),
        (["I want to talk to a human operator please"], label("consultation", "normal", "neutral", True)),
        (["Thanks a lot!"], label("smalltalk", "low", "positive", False)),
    ],
    "holdout": [
        (["Terrible service, the bike arrived broken. I want a refund"], label("complaint", "high", "negative", True)),
    ],
}
CATEGORIES = {
    "support": SUPPORT,
    "sales": SALES,
    "complaint": COMPLAINTS,
    "spam": SPAM,
    "smalltalk": SMALLTALK,
    "human": HUMAN,
    "turn": TURNS,
    "english": ENGLISH,
}
# Near-duplicates of a knowledge question (the answer cache's case), and a look-alike with another answer.
NEAR_DUPLICATES = {
    "dev": [
        ("Сколько стоит доставка по Москве?", ["dostavka.md#Доставка по Москве"]),
        ("сколько стоит доставка по москве", ["dostavka.md#Доставка по Москве"]),
        ("Сколько стоит доставка по Москве??", ["dostavka.md#Доставка по Москве"]),
        ("Сколько стоит доставка по России?", ["dostavka.md#Доставка по России"]),
        ("Можно оплатить в рассрочку?", ["oplata.md#Рассрочка"]),
        ("можно оплатить в рассрочку", ["oplata.md#Рассрочка"]),
    ],
    "holdout": [
        ("Какой залог за прокат велосипеда?", ["prokat.txt#Залог и документы"]),
        ("какой залог за прокат велосипеда", ["prokat.txt#Залог и документы"]),
        ("Какие тарифы проката велосипеда?", ["prokat.txt#Тарифы проката"]),
    ],
}

_NEIGHBOURS = {c: n for row in ("йцукенгшщзхъ", "фывапролджэ", "ячсмитьбю") for c, n in zip(row, row[1:] + row[0], strict=True)}


def typo(text: str, rng: random.Random) -> str:
    """One neighbouring-key slip or a dropped letter in a longer word (what thumbs on a phone do)."""
    words = text.split()
    long_words = [i for i, w in enumerate(words) if len(w) > 5]
    if not long_words:
        return text
    i = rng.choice(long_words)
    word = words[i]
    j = rng.randrange(1, len(word) - 1)
    if word[j].lower() in _NEIGHBOURS and rng.random() < 0.5:
        word = word[:j] + _NEIGHBOURS[word[j].lower()] + word[j + 1 :]
    else:
        word = word[:j] + word[j + 1 :]
    words[i] = word
    return " ".join(words)


def kb_conversations(split: str) -> list[tuple[str, list[str], dict[str, Any]]]:
    rows = [json.loads(line) for line in (HERE / f"kb_ru_{split}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    out = []
    for row in rows:
        if row["kind"] == "layout":
            continue  # wrong keyboard layout: a retrieval test, not a conversation
        relevant = list(row["relevant"])
        out.append((f"kb-{row['id']}", [row["query"]], label("consultation", "normal", "neutral", False, relevant)))
    return out


def build(split: str, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    names = NAMES_DEV if split == "dev" else NAMES_HOLDOUT
    channels = CHANNELS_DEV if split == "dev" else CHANNELS_HOLDOUT
    greetings = GREETINGS_DEV if split == "dev" else GREETINGS_HOLDOUT
    part = "dev" if split == "dev" else "holdout"
    items: list[tuple[str, list[str], dict[str, Any]]] = kb_conversations(split)
    for category, templates in CATEGORIES.items():
        for n, (messages, lab) in enumerate(templates[part], 1):
            items.append((f"{category}-{n:02d}", list(messages), lab))
            # A variant of each: a greeting first, or a typo, or both (labels do not change).
            variant = list(messages)
            if rng.random() < 0.5 and category not in ("smalltalk", "spam"):
                variant = [rng.choice(greetings), *variant]
            variant[-1] = typo(variant[-1], rng)
            items.append((f"{category}-{n:02d}v", variant, lab))
    for n, (text, kb) in enumerate(NEAR_DUPLICATES[part], 1):
        items.append((f"dup-{n:02d}", [text], label("consultation", "normal", "neutral", False, kb)))
    conversations = []
    for n, (cid, messages, lab) in enumerate(items):
        vip = n % 9 == 4  # about one in nine customers is a VIP
        lab = dict(lab)
        if vip and lab["type"] == "complaint":
            lab["urgency"] = "critical"  # a VIP's complaint goes to a supervisor
        conversations.append(
            {
                "id": f"{split}-{cid}",
                "channel": channels[n % len(channels)],
                "customer": {"name": names[n % len(names)], "vip": vip},
                "messages": messages,
                "label": lab,
            }
        )
    return conversations


def main() -> None:
    dev = build("dev", seed=9)
    holdout = build("holdout", seed=99)
    dev_texts = {m for c in dev for m in c["messages"]}
    shared = [m for c in holdout for m in c["messages"] if m in dev_texts and m not in GREETINGS_DEV]
    if shared:
        sys.exit(f"holdout shares messages with dev: {shared[:5]}")
    for name, rows in (("conv_ru_dev.jsonl", dev), ("conv_ru_holdout.jsonl", holdout)):
        with (HERE / name).open("w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} conversations")


if __name__ == "__main__":
    main()
