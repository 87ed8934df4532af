"""'Did you mean …?' for a name that matches nothing (a brief's slug, a segment's name).

Close spellings come from :func:`difflib.get_close_matches`; a name that is the start or a
part of a longer one (``eu-gas`` for ``eu-gas-prices-climb-…``, which difflib scores low
because most of the long slug is missing) is suggested too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

MAX_SUGGESTIONS = 3
MIN_PART = 3  # shorter pieces are part of too many names to mean anything


def close_names(name: str, candidates: Iterable[str]) -> list[str]:
    """Up to three known names ``name`` was probably meant to be, best first."""
    known = sorted(set(candidates))
    wanted = name.strip().lower()
    found = difflib.get_close_matches(wanted, known, n=MAX_SUGGESTIONS, cutoff=0.6)
    if len(wanted) >= MIN_PART:
        found += [k for k in known if wanted in k.lower() and k not in found]
    return found[:MAX_SUGGESTIONS]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``" (did you mean 'a' or 'b'?)"``, or ``""`` when nothing is close."""
    found = close_names(name, candidates)
    return f" (did you mean {_either(found)}?)" if found else ""


def missing_names(what: str, missing: Sequence[str], candidates: Iterable[str]) -> str:
    """``"no brief with slug 'x' (did you mean 'y'?), 'z'"``: each missing name with its
    suggestions."""
    known = list(candidates)
    return what + " " + ", ".join(f"{name!r}{did_you_mean(name, known)}" for name in missing)


def _either(names: Sequence[str]) -> str:
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
