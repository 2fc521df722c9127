"""Rule cues that a dialogue may have turned, so it is worth classifying again (no model call).

Cheap and deliberately over-eager: a false cue costs one Haiku call; a missed turn costs a complaint
left with the bot. Word beginnings, so inflections meet.
"""

from __future__ import annotations

import re

_TURN = re.compile(
    r"(?<![а-яa-z])(?:жалоб|претенз|безобраз|ужасн|отвратит|обман|мошенн|верните|возмущ|недовол|позор|"
    r"кошмар|хамств|суд\b|в\s+суд|роспотреб|прокурат|опять|снова|третий\s+раз|сколько\s+можно|до\s+сих\s+пор|"
    r"оператор|живо\w*\s+человек|менеджер|не\s+помогл|бесполез|срочно|немедленно|"
    r"complain|refund|terrible|awful|operator|human|urgent)",
    re.I,
)


def turn_cue(text: str) -> bool:
    """Words or punctuation that often mean a change of tone or of the request."""
    lowered = text.lower().replace("ё", "е")
    if _TURN.search(lowered) or "!!!" in text:
        return True
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 12 and sum(c.isupper() for c in letters) > 0.7 * len(letters)  # SHOUTING


_SENTIMENT_RANK = {"positive": 0, "neutral": 1, "negative": 2}
_URGENCY_RANK = {"low": 0, "normal": 1, "high": 2, "critical": 3}


def worsened(before_sentiment: str, after_sentiment: str) -> bool:
    return _SENTIMENT_RANK.get(after_sentiment, 1) > _SENTIMENT_RANK.get(before_sentiment, 1)


def escalated(before_urgency: str, after_urgency: str) -> bool:
    return _URGENCY_RANK.get(after_urgency, 1) > _URGENCY_RANK.get(before_urgency, 1)
