"""The emulator's request classifier: type, urgency, sentiment, needs-a-human, topic, confidence from cues.

A real model reads the meaning; the emulator reads cue words (Russian and English word beginnings,
so inflections and most suffixes meet) and weighs them. It is deterministic — the same dialogue gets
the same labels — and it is honest about doubt: when two types have close scores, or the message has
no words of substance ("хм", "ну и что дальше"), ``confidence`` is low, so the product's abstain-to-a-human threshold is
exercised for real. A plain question without a cue word is what a model would call a confident
consultation.

Figures measured against it measure the pipeline around the model, not a model's judgement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TYPES = ("support", "sales", "complaint", "consultation", "spam", "smalltalk")
URGENCIES = ("low", "normal", "high", "critical")
SENTIMENTS = ("positive", "neutral", "negative")


def _cues(text: str) -> re.Pattern[str]:
    """Word beginnings separated by spaces; ``_`` stands for a space inside a phrase."""
    alternatives = [re.escape(cue).replace("_", r"\s+") for cue in text.split()]
    return re.compile(r"(?<![а-яa-z0-9])(?:" + "|".join(alternatives) + ")", re.I)


_TYPE_CUES: dict[str, re.Pattern[str]] = {
    "spam": _cues(
        "казино выигр заработ_от заработок_в пассивный_доход крипт инвестиц_с_доходн ставки_на "
        "http:// https:// www. t.me/ bit.ly раскрут seo-продвиж продвижение_сайт рассылк_базы "
        "free_money casino crypto click_here earn_money lottery виагр кредит_без"
    ),
    "complaint": _cues(
        "жалоб претенз безобраз ужасн отвратит обман мошенн разочаров хамств нахамил хамил хам_ "
        "верните_деньги верните_мои возмущ недоволен недовольн позор кошмар отврат "
        "роспотреб суд_ в_суд прокурат отзыв_напишу плохой_сервис худший "
        "обманули сломался_через брак_ бракован сколько_можно третий_раз опять_не до_сих_пор "
        "complain terrible awful disgust refund_my scam worst"
    ),
    "support": _cues(
        "не_работ не_включ не_заряж не_едет не_крут не_тормоз не_переключ перестал слома сломал ошибк глюч "
        "скрип скрежет стучит люфт пробил прокол спустил провис заклин восьмерк погнул "
        "настро ремонт почин диагност гарантийн_случ что-то_с проблем_с "
        "broken not_working doesn't_work does_not_work error repair fix_ puncture"
    ),
    "sales": _cues(
        "купить куплю покупк приобрес заказать закажу оформить_заказ в_наличии наличи есть_ли_у_вас "
        "сколько_стоит стоимост цена_ цены_ цену_ прайс скидк акци оптом опт_ счет_на коммерческ "
        "кп_ модел подобрать посоветуйте_велосипед рассрочк кредит trade-in трейд "
        "buy_ purchase price how_much in_stock discount quote"
    ),
    "consultation": _cues(
        "как_ можно_ли подскажите скажите какой какая какие когда где сколько_дней сколько_времени "
        "сколько_ждать срок доставк самовывоз оплат возврат вернуть обмен гарант бонус прокат залог "
        "размер рост_ хранени зарядк запас_хода дожд работаете график адрес "
        "how_ can_i do_you where when what delivery shipping return warranty"
    ),
    "smalltalk": _cues(
        "привет здравствуй добрый_день доброе_утро добрый_вечер как_дела как_жизнь спасибо благодар "
        "ты_бот вы_бот ты_робот кто_ты хорошего_дня удачи пока_ до_свидания ок_ окей понятно ясно "
        "hello hi_ thanks thank_you are_you_a_bot bye"
    ),
}
_WEIGHTS = {
    "spam": 1.6,
    "complaint": 1.5,
    "support": 1.2,
    "sales": 1.1,
    "consultation": 0.8,
    "smalltalk": 0.7,
}

_HUMAN = _cues(
    "оператор живой_человек живого_человек живым_человек с_человеком человека_позов позовите "
    "менеджер специалист_свяж соедините переключите свяжите_с_ хочу_поговорить_с не_с_ботом "
    "/operator human_agent real_person talk_to_a_human operator manager"
)
_CRITICAL = _cues(
    "роспотреб в_суд суд_ прокурат полици травм опасн пожар загорел дым_ искрит взорв "
    "угрожа ребенок_упал упал_и разбил_лицо больниц lawsuit injur fire_ danger"
)
_HIGH = _cues(
    "срочно срочн немедленн прямо_сейчас как_можно_скорее сегодня_же быстрее горит "
    "asap urgent immediately right_now"
)
_NEGATIVE = _cues(
    "плохо ужасн недоволен недовольн жалоб безобраз отврат разочаров обман хамств хам_ бесит "
    "возмущ надоел достал кошмар позор задолбал сколько_можно опять_ третий_раз до_сих_пор "
    "сломал брак не_работ верните_деньги претенз худш "
    "bad terrible awful angry disappoint worst hate broken"
)
_POSITIVE = _cues(
    "спасибо благодар отлично отличн супер класс здорово замечательн прекрасн рад_ рады понравил "
    "молодц люблю круто thank great excellent love awesome perfect"
)
_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("доставка", _cues("доставк привез курьер самовывоз подъем_на_этаж отправ delivery shipping")),
    ("оплата", _cues("оплат рассрочк счет_ карт наличны payment pay_ invoice")),
    ("возврат", _cues("возврат вернуть верните обмен return refund")),
    ("гарантия", _cues("гарант warranty")),
    ("ремонт", _cues("ремонт сервис почин мастерск то_ обслуживан колес спиц repair")),
    ("прокат", _cues("прокат аренд залог rent")),
    ("бонусы", _cues("бонус баллы кешбэк велоклуб loyalty")),
    ("самокаты", _cues("самокат аккумулятор зарядк запас_хода scooter")),
    ("подбор", _cues("размер рам рост_ подобрать какой_велосипед")),
    ("контакты", _cues("адрес телефон_магазин работаете график часы_работы address hours")),
    ("покупка", _cues("купить куплю наличи цена стоим модел buy price")),
)


@dataclass(frozen=True, slots=True)
class Classification:
    type: str
    urgency: str
    sentiment: str
    needs_human: bool
    topic: str
    confidence: float


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def _scores(text: str) -> dict[str, float]:
    return {kind: _WEIGHTS[kind] * len(pattern.findall(text)) for kind, pattern in _TYPE_CUES.items()}


def classify_dialogue(user_texts: list[str]) -> Classification:
    """Labels for a dialogue from the customer's messages (oldest first); the last message weighs most."""
    texts = [_norm(t) for t in user_texts if t.strip()] or [""]
    last, everything = texts[-1], " \n ".join(texts)
    scores = _scores(everything)
    for kind, value in _scores(last).items():
        scores[kind] += value  # the message in front of us counts twice
    if scores["complaint"] or scores["support"] or scores["sales"]:
        scores["smalltalk"] *= 0.3  # a greeting in front of a real request does not make it small talk
    ranked = sorted(TYPES, key=lambda kind: (-scores[kind], TYPES.index(kind)))
    best, second = ranked[0], ranked[1]
    top = scores[best]
    kind = best if top > 0 else "consultation"
    if top == 0:
        # No cue word. A model reads what is there: a question or a noun phrase about something ("досавка
        # в другие горда", "о техническом обслуживании") is a confident question about the rules; only a
        # message with (next to) no words of substance ("хм", "ну и что дальше?") is genuinely unclear.
        substance = _content_words(last)
        confidence = 0.75 if substance >= 2 or (substance == 1 and "?" in last) else 0.45
    else:
        margin = (top - scores[second]) / top
        confidence = round(min(0.97, 0.55 + 0.4 * margin + 0.03 * min(top, 3)), 2)
    negative = len(_NEGATIVE.findall(last)) + 0.5 * len(_NEGATIVE.findall(everything))
    positive = len(_POSITIVE.findall(last)) + 0.3 * len(_POSITIVE.findall(everything))
    if "!!!" in last or (len(last) > 12 and sum(c.isupper() for c in user_texts[-1]) > 0.6 * len(last)):
        negative += 0.5 if kind in ("complaint", "support") else 0
    sentiment = (
        "negative"
        if negative > positive and negative >= 1
        else ("positive" if positive > negative and positive >= 1 else "neutral")
    )
    if kind == "complaint":
        sentiment = "negative"
    critical = bool(_CRITICAL.search(everything))
    if critical:
        urgency = "critical"
    elif _HIGH.search(everything) or (kind == "complaint" and negative >= 2):
        urgency = "high"
    elif kind in ("spam", "smalltalk"):
        urgency = "low"
    else:
        urgency = "normal"
    # A request for a person counts in the message in front of us: one made earlier was answered
    # (the customer was handed over); a calm question after it is not a new one.
    asks_human = bool(_HUMAN.search(last))
    needs_human = kind != "spam" and (asks_human or critical or (kind == "complaint" and urgency == "high"))
    if asks_human and confidence < 0.8:
        confidence = 0.8  # a request for a person is unambiguous whatever the rest says
    return Classification(kind, urgency, sentiment, needs_human, _topic(everything), confidence)


_WORD = re.compile(r"[a-zа-я]+")
# Words that carry no request of their own (fillers, pronouns, reactions): what "хм, ну и что дальше" is
# made of.
_FILLER = frozenset(
    "ну и а но да нет не что как так вот это этот эта эти тот там тут здесь дальше тогда потом сейчас "
    "ладно хорошо понятно ясно значит может можно просто вообще очень какой какая какое какие который такое "
    "такая такие такой дело "
    "еще уже опять снова вам вас нам нас мне меня мой моя мое мои ваш ваша ваше ваши они она оно его "
    "если или ли бы же хм ммм эээ угу ага ок окей well what then so ok okay yes no the and this that".split()
)


def _content_words(text: str) -> int:
    """Words of substance: three letters or more, not a filler."""
    return sum(1 for w in _WORD.findall(text) if len(w) >= 3 and w not in _FILLER)


def _topic(text: str) -> str:
    best, best_hits = "", 0
    for name, pattern in _TOPICS:
        hits = len(pattern.findall(text))
        if hits > best_hits:
            best, best_hits = name, hits
    return best or "другое"


def classification_value(field: str, options: list[object], result: Classification) -> object | None:
    """The classified value for an enum field of a classification schema, when its options allow it."""
    key = field.lower()
    wanted: str | None = None
    if key in ("type", "request_type", "category", "kind", "class"):
        wanted = result.type
    elif key in ("urgency", "priority"):
        wanted = result.urgency
    elif key in ("sentiment", "tone", "mood"):
        wanted = result.sentiment
    elif key == "topic":
        wanted = result.topic
    return wanted if wanted is not None and wanted in options else None
