"""Outcome-preserving speed-ups of the Rasa server where Rasa has no seam: one module per patch.

Where Rasa has a seam the speed-up is a component of its own named in ``config.yml`` instead:
the FAQ gate (``nlu_components/faq_gate.py``, a ResponseSelector) and the remembered rule
matches (``rasa_server/policies.py``, a RulePolicy).

Each module's docstring says what it replaces and why, and each module has an ``install()``
that refuses (an ERROR log line, Rasa's own code stays) unless the running Rasa is the
version ``constraints.txt`` pins (``_common.check_rasa_version``): they replace private names
that change without notice. Nothing is installed by importing anything: the Rasa server's
start (``python -m rasa_server run``, ``rasa_server/__main__.py``) calls ``install()``.

| patch | replaces |
| --- | --- |
| ``action_result_validation`` | ``RemoteAction._validate_action_result`` |
| ``event_lookup`` | ``Event.resolve_by_type`` |
| ``ted_gate`` | ``DaskGraphRunner._build_dask_graph`` (TEDPolicy skipped when RulePolicy decides) |
| ``sparse_feature_stacking`` | ``Features._combine_sparse_features`` |
| ``prior_states_cache`` | ``Domain.states_for_tracker_history`` |
| ``direct_tf_call`` | ``RasaModel._rasa_predict`` (TensorFlow's ``tf.function`` matching) |
| ``direct_graph_runner`` | ``DaskGraphRunner.run`` |
| ``empty_domain_check`` | ``Domain.is_empty`` |
| ``heap_freeze`` | nothing (``gc.freeze()`` after the first message) |

Every patch is tested against Rasa's own code: ``tests/rasa_server/test_patches.py`` and
``tests/rasa_server/test_gates.py`` compare outcomes with and without it (``bypassed()``); what each
saves, measured with ``bypassed([name])``: ``scripts/bench_rasa_seams.py`` (``make bench``).
"""
from __future__ import annotations

import contextlib
import importlib
from typing import Dict, Iterable, Iterator, Optional, Text

from rasa_server.patches import _common
from rasa_server.patches._common import (  # noqa: F401  (the package's API)
    VersionMismatch,
    check_rasa_version,
    installed_rasa_version,
    pinned_rasa_version,
)

# In install order: the TED gate before the graph runner that builds the gated graph.
ALL = ("action_result_validation", "event_lookup", "ted_gate", "sparse_feature_stacking",
       "prior_states_cache", "direct_tf_call", "direct_graph_runner", "empty_domain_check", "heap_freeze")


def install(names: Optional[Iterable[Text]] = None) -> Dict[Text, bool]:
    """Installs the named patches (default: all, in ``ALL``'s order); idempotent. Answers
    which took effect; a refused or inapplicable patch is False (and logged)."""
    chosen = list(ALL if names is None else names)
    unknown = [name for name in chosen if name not in ALL]
    if unknown:
        raise ValueError(f"unknown patches: {', '.join(unknown)} (known: {', '.join(ALL)})")
    return {name: importlib.import_module(f"{__name__}.{name}").install() for name in chosen}


@contextlib.contextmanager
def bypassed(names: Optional[Iterable[Text]] = None) -> Iterator[None]:
    """Inside this block the installed patches (or only the ``names`` of ``ALL``) call Rasa's
    own code (the with/without tests, the bench's per-patch figures)."""
    if names is None:
        previous = _common.enabled
        _common.enabled = False
        try:
            yield
        finally:
            _common.enabled = previous
        return
    modules = {f"{__name__}.{name}" for name in names}
    unknown = {name for name in names if name not in ALL}
    if unknown:
        raise ValueError(f"unknown patches: {', '.join(sorted(unknown))}")
    added = modules - _common.bypassed_patches
    _common.bypassed_patches |= added
    try:
        yield
    finally:
        _common.bypassed_patches -= added


def shortcuts_on(on: bool) -> contextlib.AbstractContextManager:
    """``bypassed()`` when ``on`` is false, else nothing: for tests parametrized on it."""
    return contextlib.nullcontext() if on else bypassed()
