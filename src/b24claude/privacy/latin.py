"""People's names written in Latin script: back to Cyrillic for pymorphy3, plus short lists of the
names a transliteration cannot recover (English names, "Alexander" → "александр")."""

from __future__ import annotations

import re

# Longest first: "shch" before "sh" before "s".
_PAIRS = (
    ("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("tz", "ц"), ("ch", "ч"),
    ("sh", "ш"), ("yo", "ё"), ("jo", "ё"), ("yu", "ю"), ("ju", "ю"), ("iu", "ю"), ("ya", "я"), ("ja", "я"),
    ("ia", "ия"), ("ye", "е"), ("ph", "ф"), ("th", "т"), ("x", "кс"), ("w", "в"), ("q", "к"),
    ("a", "а"), ("b", "б"), ("c", "к"), ("d", "д"), ("e", "е"), ("f", "ф"), ("g", "г"), ("h", "х"),
    ("i", "и"), ("j", "й"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"),
    ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("v", "в"), ("y", "ы"), ("z", "з"),
)  # fmt: skip
_PAIR_RE = re.compile("|".join(re.escape(a) for a, _ in _PAIRS))
_PAIR_MAP = dict(_PAIRS)
_VOWELS = "aeiouy"


def to_cyrillic(word: str) -> str:
    """A lower-case Latin word as Russian would spell it ("sergey" → "сергей", "dmitry" → "дмитрий")."""
    w = word.lower()
    if w.endswith(("iy", "ij", "ii")) and len(w) > 3:
        w = w[:-2] + "\x00"  # "ий"
    elif w.endswith("y") and len(w) > 2 and w[-2] not in _VOWELS:
        w = w[:-1] + "\x00"
    elif w.endswith(("ey", "ay", "oy", "uy", "ei", "ai", "oi")):
        w = w[:-1] + "\x01"  # "й"
    out = _PAIR_RE.sub(lambda m: _PAIR_MAP[m.group()], w)
    return out.replace("\x00", "ий").replace("\x01", "й")


FIRST_NAMES = frozenset(
    """
    alexander aleksandr alexandr alex alexey aleksey alexei aleksei anastasia anastasiya andrew andrey andrei
    anna anne ann anton arina arseny artem artyom boris daniel daniil danil darya daria dasha denis dmitry
    dmitriy dmitri ekaterina elena elizaveta eugene evgeny evgeniy evgenia fedor fyodor galina georgy
    gleb grigory helen igor ilya inna irina ivan katerina katya kirill konstantin kristina ksenia kseniya
    larisa lev liza lyudmila ludmila maksim maxim margarita maria mariya marina mark matvey mikhail
    michael nadezhda natalia natalya nataliya nikita nikolay nikolai nina oleg olga pavel peter petr
    polina roman ruslan semyon sergey sergei sofia sofya stanislav stepan svetlana tamara tatiana
    tatyana timur timofey valentina valeria valery vadim vasily vera veronika victor viktor victoria
    viktoriya vitaly vladimir vladislav vyacheslav yana yaroslav yulia yuliya julia yury yuri zakhar
    zoya alina alyona alena angelina diana eva evelina karina kira lilia milana milena sasha masha
    john james robert william david richard joseph thomas charles christopher matthew anthony paul
    steven kevin brian george edward ronald timothy jason jeffrey ryan jacob gary nicholas eric jonathan
    stephen larry justin scott brandon benjamin samuel frank gregory raymond patrick jack dennis jerry
    tyler aaron henry adam douglas nathan peter zachary kyle walter harold jeremy ethan carl keith
    roger gerald christian terry sean arthur austin noah lawrence jesse joe bryan billy jordan albert
    dylan bruce willie gabriel alan juan logan wayne ralph roy eugene randy vincent russell louis
    philip bobby johnny bradley mary patricia jennifer linda elizabeth barbara susan jessica sarah karen
    nancy lisa betty margaret sandra ashley kimberly emily donna michelle dorothy carol amanda melissa
    deborah stephanie rebecca sharon laura cynthia kathleen amy shirley angela anna brenda pamela emma
    nicole samantha katherine christine debra rachel catherine carolyn janet ruth maria heather diane
    virginia julie joyce kelly christina lauren joan evelyn olivia judith megan cheryl martha andrea
    frances hannah jacqueline ann gloria jean kathryn alice teresa sara janice doris madison julia
    grace judy abigail marie denise beverly amber theresa marilyn danielle diana brittany natalie sophia
    rose isabella alexis kayla charlotte hans klaus jurgen stefan andreas markus thomas michael
    kate katie nick mike dan sue liz beth jenny
    """.split()
)
SURNAME_ENDINGS = re.compile(
    r"(?:ov|ova|ev|eva|yov|yova|iev|ieva|in|ina|yn|yna|sky|skiy|skii|skaya|skaia|ska|tsky|tskaya|enko|"
    r"ko|uk|yuk|chuk|ich|vich|ovich|evich|dze|shvili|yan|ian|iants|yants|ykh|ikh|berg|stein|man|mann|son|sen)$"
)
SURNAMES = frozenset(
    """
    smith johnson williams brown jones garcia miller davis wilson taylor anderson thomas moore martin
    jackson white harris clark lewis walker hall young king wright scott green baker adams nelson hill
    campbell mitchell roberts carter phillips evans turner parker collins edwards stewart morris murphy
    cook rogers morgan cooper reed bailey bell kelly howard ward cox richardson wood watson brooks
    bennett gray hughes price myers long foster sanders ross powell sullivan russell perry butler barnes
    fisher henderson coleman simmons patterson reynolds hamilton graham kim gonzalez wallace west cole
    hayes bryant gibson ellis stevens murray marshall owens mcdonald schmidt muller schneider fischer
    weber meyer wagner becker schulz hoffmann lee wang li zhang chen liu nguyen kumar singh khan ali
    rossi bianchi dubois bernard martinez rodriguez lopez hernandez sanchez perez
    """.split()
)
# Brands that look like a first name and a surname.
BRAND_PAIRS = frozenset(
    {
        ("tommy", "hilfiger"), ("calvin", "klein"), ("hugo", "boss"), ("ralph", "lauren"), ("louis", "vuitton"),
        ("christian", "dior"), ("giorgio", "armani"), ("michael", "kors"), ("marc", "jacobs"), ("tom", "ford"),
        ("karl", "lagerfeld"), ("ted", "baker"), ("jack", "daniels"), ("harry", "potter"), ("lady", "gaga"),
        ("johnnie", "walker"), ("jim", "beam"), ("estee", "lauder"), ("yves", "rocher"), ("max", "mara"),
        ("paul", "smith"), ("alexander", "mcqueen"), ("stella", "mccartney"), ("vivienne", "westwood"),
        ("victoria", "secret"), ("victoria's", "secret"), ("ben", "sherman"), ("marie", "claire"),
    }
)  # fmt: skip

# English words that are never part of a name, however capitalised ("Hi", "My name is …").
ENGLISH_WORDS = frozenset(
    """
    i i'm im me my mine you your yours he him his she her it its we us our they them their is am are was were
    be been the a an and or but not no yes to of in on at by for from with without about this that these
    those here there hi hello hey dear thanks thank please regards best order delivery call phone email
    mail name surname support team manager customer client mr mrs ms miss dr sir madam
    """.split()
)
