"""A subclass of a Rasa component that Rasa's own checks take for the component it refines.

Rasa 3.6 recognises some of its components by class equality, not by ``issubclass``: its
recipe validator (``rasa/graph_components/validators/default_recipe_validator.py``) warns that
restart and back will not work unless a policy node ``== RulePolicy``, checks the configured
fallback action against the domain only for nodes ``== RulePolicy``, and warns that response
examples go unused unless ``ResponseSelector in`` the set of the pipeline's classes. A plain
subclass fails all three, so Rasa would warn falsely at every training and skip a domain check.

``CountsAs`` is the metaclass of such a subclass: the class compares equal to, and hashes as,
the one Rasa class it refines (``counts_as=``), so those checks answer for it exactly as for
Rasa's class. Everything else stays a class of its own:

- ``issubclass``/``isinstance`` against the subclass follow its MRO only (never ABC caches,
  whose weak sets compare by ``==``): a plain Rasa component is never an instance of it;
- ``issubclass``/``isinstance`` against Rasa's classes are unchanged: the subclass is a direct
  subclass with no other base, so whatever ABC caches conclude for Rasa's class by equality
  holds for it too;
- Rasa's registry keys components by ``__name__`` (the subclass has its own name), model
  fingerprints and stored graph schemas by module path and source.

``tests/rasa_server/test_seams.py`` checks each of these.
"""
from __future__ import annotations

from abc import ABCMeta
from typing import Any


class CountsAs(ABCMeta):
    """Metaclass: ``class X(Base, metaclass=CountsAs, counts_as=Base)`` (see the module)."""

    _counts_as: type  # the Rasa class it refines

    def __new__(mcls, name: str, bases: tuple, namespace: dict, *, counts_as: Any = None, **kwargs: Any) -> Any:
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        refined = counts_as if counts_as is not None else getattr(cls, "_counts_as", None)
        if refined is None or not any(base is refined for base in cls.__mro__[1:]):
            raise TypeError(f"{name}: counts_as= must name a base class of it")
        cls._counts_as = refined
        return cls

    def __eq__(cls, other: object) -> bool:
        return other is cls or other is cls._counts_as

    def __hash__(cls) -> int:
        return hash(cls._counts_as)

    def __subclasscheck__(cls, subclass: Any) -> bool:
        return any(base is cls for base in getattr(subclass, "__mro__", ()))

    def __instancecheck__(cls, instance: Any) -> bool:
        return CountsAs.__subclasscheck__(cls, type(instance))
