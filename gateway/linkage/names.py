"""Forenames for matching: common English diminutives, spellings of one name, and common
forenames.

A diminutive (``tom``) and its formal name (``thomas``) share one canonical form, so scoring
can count a nickname as nearly as good as the same name. The list of common forenames lets the
twin guard tell a typo (``olvia``: not a name) from a different child's name (``isabelle`` next
to ``isabella``: both real names, so possibly twins).
"""

from __future__ import annotations

import functools
import unicodedata

# formal name: its common diminutives (England and Wales usage)
DIMINUTIVES: dict[str, tuple[str, ...]] = {
    "abigail": ("abi", "abby", "abbie", "gail"),
    "albert": ("bert", "bertie", "al"),
    "alexander": ("alex", "alec", "sandy", "xander", "zander"),
    "alexandra": ("alex", "lexi", "lexie", "sandra"),
    "alfred": ("alf", "alfie", "fred", "freddie"),
    "amelia": ("millie", "amy", "mia"),
    "andrew": ("andy", "drew"),
    "anthony": ("tony", "ant"),
    "archibald": ("archie", "archy"),
    "arthur": ("art", "artie"),
    "benjamin": ("ben", "benji", "benny"),
    "catherine": ("cath", "cathy", "kate", "katie", "kat"),
    "charles": ("charlie", "chas", "chaz"),
    "charlotte": ("lottie", "charlie", "lotte"),
    "christopher": ("chris", "kit", "topher"),
    "daniel": ("dan", "danny"),
    "david": ("dave", "davy"),
    "edward": ("ed", "eddie", "ted", "teddy", "ned"),
    "eleanor": ("ellie", "nell", "nellie", "elle"),
    "elizabeth": ("beth", "liz", "lizzie", "libby", "eliza", "betsy", "bess", "elsie"),
    "emily": ("em", "emmy", "millie"),
    "florence": ("flo", "florrie", "flossie"),
    "frederick": ("fred", "freddie", "freddy"),
    "gabriel": ("gabe",),
    "harold": ("harry", "hal"),
    "henry": ("harry", "hal", "hank"),
    "isabella": ("bella", "izzy", "issy", "isla"),
    "isabelle": ("belle", "izzy", "issy"),
    "jacob": ("jake", "jay"),
    "james": ("jim", "jimmy", "jamie", "jem"),
    "jessica": ("jess", "jessie"),
    "john": ("jack", "johnny", "jon"),
    "jonathan": ("jon", "jonny", "nathan"),
    "joseph": ("joe", "joey", "jo"),
    "joshua": ("josh",),
    "katherine": ("kate", "katie", "kath", "kathy", "kat", "kitty"),
    "margaret": ("maggie", "meg", "peggy", "madge", "greta"),
    "matilda": ("tilly", "tilda", "mattie"),
    "matthew": ("matt", "matty"),
    "michael": ("mike", "mick", "mickey", "mikey"),
    "nicholas": ("nick", "nicky", "nico"),
    "oliver": ("olly", "ollie"),
    "olivia": ("liv", "livvy", "livia"),
    "rebecca": ("becky", "becca", "bex"),
    "richard": ("rich", "rick", "ricky", "dick"),
    "robert": ("rob", "bob", "bobby", "robbie", "bert"),
    "samuel": ("sam", "sammy"),
    "samantha": ("sam", "sammy"),
    "stephen": ("steve", "stevie"),
    "theodore": ("theo", "ted", "teddy"),
    "thomas": ("tom", "tommy"),
    "victoria": ("vicky", "tori"),
    "william": ("will", "bill", "billy", "liam", "willie"),
    "zachary": ("zach", "zac", "zack"),
}

# Spellings and transliterations of one name (each agency writes what it was told): the same
# forename, as a diminutive is. Parents do not name twins Sofia and Sophia, so the twin guard
# need not keep these apart.
SPELLINGS: dict[str, tuple[str, ...]] = {
    "muhammad": ("mohammed", "mohammad", "muhammed", "mohamed", "mohamad"),
    "aisha": ("ayesha", "aysha", "aishah"),
    "zain": ("zayn", "zane"),
    "yusuf": ("yousuf", "yusef", "yousef"),
    "fatima": ("fatimah",),
    "maryam": ("mariam", "miriam", "maryum"),
    "ibrahim": ("ebrahim",),
    "niamh": ("neve", "neave"),
    "leah": ("lea", "leigh"),
    "zara": ("zahra",),
    "amira": ("ameera",),
    "reuben": ("ruben",),
    "callum": ("calum",),
    "kieran": ("ciaran", "kieron"),
    "connor": ("conor",),
    "finley": ("finlay",),
    "sophia": ("sofia",),
    "isobel": ("isabel",),
    "hussain": ("hussein", "husain"),
    "ahmed": ("ahmad",),
    "aidan": ("aiden",),
    "caitlin": ("kaitlyn", "katelyn"),
    "sean": ("shaun", "shawn"),
    "stephen": ("steven",),
    "jayden": ("jaden",),
}

# Common forenames of children in England and Wales (ONS baby names, recent years' top lists).
COMMON_FORENAMES = frozenset(
    """
    olivia amelia isla ava mia ivy lily isabella rosie sophia grace freya willow florence emily
    ella poppy evie elsie charlotte evelyn sienna sofia daisy phoebe sophie alice harper matilda
    ruby emilia maya millie isabelle eva luna jessica elizabeth chloe katherine margaret abigail
    rebecca hannah zara aisha fatima amira maryam leah holly megan jasmine niamh erin ellie
    lucy layla esme violet aria bonnie thea lottie orla lyla eliza arabella penelope hallie
    harriet lola imogen maisie molly scarlett darcie eleanor georgia emma amber anna bella
    noah oliver george arthur muhammad leo harry oscar archie henry theodore freddie jack charlie
    theo alfie jacob thomas william lucas tommy finley isaac edward james joshua alexander samuel
    daniel benjamin joseph matthew michael christopher nicholas robert anthony jonathan ethan
    mason logan dylan riley zain ibrahim yusuf adam reuben callum kieran connor liam owen
    louie teddy max hugo albie elijah jude roman arlo frankie ronnie rory sebastian toby ezra
    harrison jaxon ollie elliot louis carter hunter grayson caleb luca jenson bobby jesse
    david andrew richard john peter paul mark stephen simon
    """.split()
)


@functools.lru_cache(maxsize=100_000)  # a population repeats its names many times over
def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if ch.isalpha()).lower()


_CANONICAL: dict[str, str] = {}
for _formal, _short in sorted([*DIMINUTIVES.items(), *SPELLINGS.items()]):
    _CANONICAL.setdefault(_formal, _formal)
    for _name in _short:
        _CANONICAL.setdefault(_name, _formal)


def canonical_forename(name: str | None) -> str | None:
    """The formal name a forename (or diminutive) stands for; the folded name if unknown.

    A diminutive of several names (``harry``: henry or harold) takes the first alphabetically,
    which is enough for matching: both records of one child meet at the same form.
    """
    if not name:
        return None
    folded = _fold(name.split()[0]) if name.split() else ""
    return _CANONICAL.get(folded, folded) or None


_FORMAL_OF: dict[str, set[str]] = {}
for _formal, _short in (*DIMINUTIVES.items(), *SPELLINGS.items()):
    for _name in (_formal, *_short):
        _FORMAL_OF.setdefault(_name, set()).add(_formal)


def forename_forms(name: str | None) -> list[str]:
    """The forename and every formal name it may be short for (``kate``: kate, catherine,
    katherine), sorted; two records share a form when one name is the other's diminutive."""
    return list(_forms(name)) if name else []


@functools.lru_cache(maxsize=100_000)
def _forms(name: str) -> tuple[str, ...]:
    if not name.split():
        return ()
    folded = _fold(name.split(maxsplit=1)[0])
    return tuple(sorted({folded, *_FORMAL_OF.get(folded, ())}))


def same_forename(a: str | None, b: str | None) -> bool:
    """The same forename, or a diminutive of it."""
    return bool(a and b and set(_forms(a)) & set(_forms(b)))


_KNOWN_FORENAMES = COMMON_FORENAMES | frozenset(_CANONICAL)


def is_common_forename(name: str | None) -> bool:
    return bool(name) and _fold(name or "") in _KNOWN_FORENAMES


def one_edit_apart(a: str, b: str) -> bool:
    """True when one insertion, deletion, substitution or swap of neighbours turns a into b."""
    if a == b or abs(len(a) - len(b)) > 1:
        return a == b
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        i, j = [*diff, 0, 0][:2]
        return len(diff) == 2 and j == i + 1 and (a[i], a[j]) == (b[j], b[i])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))
