"""Helpers for the values the actions pass to their domain.yml responses."""
from __future__ import annotations

from typing import Any


def echoed(value: Any) -> str:
    """A customer's own words shown in a response ("收到，地址是“{address}”").

    Rasa fills a response with ``str.format`` and, when the result holds "0[" (a sign to it of a
    placeholder it could not fill), sends the bare template instead ("{address}" to the customer;
    rasa.core.nlg.interpolator.interpolate_text). The bracket of "0[" is shown full-width."""
    return str(value).replace("0[", "0［")
