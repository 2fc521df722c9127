"""The competence map: request type/topic → an operator or an Open Line's queue, and who supervises it.

Built from the portal itself — ``department.get`` (names, heads), ``user.get`` (who works where) and the
line's queue (``imopenlines.config.get``) — and overridden per portal by
``Portal.settings["routing"]["competence"]`` (``{"sales": {"user_id": 3}, "complaint": {"queue_id": 2}}``).
Without an override a request goes to the line's queue operator of the matching department, else to
the line's queue (``imopenlines.bot.session.operator``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from b24claude.ports.bitrix import Department, Employee, OperatorGateway
from b24claude.ports.cache import Cache
from b24claude.routing.schemas import RoutingSettings, Target

MAP_TTL_S = 3600.0

# Which department serves which request type/topic, by its name (Russian and English).
_DEPARTMENT_TOPICS = {
    "sales": re.compile(r"продаж|sales|коммерч", re.IGNORECASE),
    "support": re.compile(r"поддерж|support|сервис", re.IGNORECASE),
    "complaint": re.compile(r"поддерж|support|качеств|claims", re.IGNORECASE),
    "delivery": re.compile(r"достав|логист|delivery|shipping", re.IGNORECASE),
}
_TOPIC_WORDS = {
    "complaint": re.compile(
        r"жалоб|безобраз|ужасн|возмущ|верните деньги|обман|претензи|complain", re.IGNORECASE
    ),
    "delivery": re.compile(r"доставк|курьер|привез|трек|delivery|courier", re.IGNORECASE),
    "sales": re.compile(
        r"купить|цен[аы]|стоимост|сколько стоит|скидк|счёт|счет на|оптом|buy|price", re.IGNORECASE
    ),
}
_CRITICAL = re.compile(
    r"суд\b|в суд|роспотребнадзор|прокуратур|юрист|верните деньги|мошенни|обман|ужасн|безобраз|lawyer|sue\b",
    re.IGNORECASE,
)


def topic_of(text: str) -> str:
    """A rule-based request type when no classifier is configured: complaint, delivery, sales or support."""
    for topic, pattern in _TOPIC_WORDS.items():
        if pattern.search(text):
            return topic
    return "support"


def is_critical(text: str) -> bool:
    return bool(_CRITICAL.search(text))


@dataclass(frozen=True, slots=True)
class CompetenceMap:
    targets: dict[str, Target] = field(default_factory=dict)
    supervisors: dict[str, int] = field(default_factory=dict)  # topic → head of its department

    def target(self, topic: str) -> Target | None:
        return self.targets.get(topic)


class Competence:
    def __init__(self, *, operators: OperatorGateway, cache: Cache) -> None:
        self._operators = operators
        self._cache = cache

    async def map_for(self, member_id: str, line_id: int, settings: RoutingSettings) -> CompetenceMap:
        key = f"competence:{member_id}:{line_id}"
        built = await self._cache.get(key)
        if not isinstance(built, CompetenceMap):
            deps = await self._operators.departments(member_id)
            people = await self._operators.employees(member_id)
            queue = await self._operators.line_queue(member_id, line_id) if line_id else []
            built = build_map(deps, people, queue)
            await self._cache.set(key, built, ttl_s=MAP_TTL_S)
        if not settings.competence:
            return built
        return CompetenceMap({**built.targets, **settings.competence}, built.supervisors)


def build_map(deps: Sequence[Department], people: Sequence[Employee], queue: Sequence[int]) -> CompetenceMap:
    targets: dict[str, Target] = {}
    supervisors: dict[str, int] = {}
    for topic, pattern in _DEPARTMENT_TOPICS.items():
        dep = next((d for d in deps if pattern.search(d.name)), None)
        if dep is None:
            continue
        if dep.head_id:
            supervisors[topic] = dep.head_id
        staff = [p.id for p in people if dep.id in p.departments and p.active and p.id != dep.head_id]
        in_queue = [u for u in queue if u in staff]
        chosen = (in_queue or staff or ([dep.head_id] if dep.head_id else []))[:1]
        if chosen:
            targets[topic] = Target(user_id=chosen[0])
    return CompetenceMap(targets, supervisors)
