"""``gc.freeze()`` once, after the first message the ``gateway`` channel handled.

Replaces nothing of Rasa's: the channel calls ``after_message()`` after each answer, and
that does something only once this patch is installed (by the Rasa server's start).

Why: a loaded Rasa server holds millions of long-lived objects (the model graph, TensorFlow
and spaCy state) that Python's cyclic garbage collector walks again in every full collection.
After the first message has loaded the lazily initialised parts of the pipeline, they are
collected once and moved to the permanent generation, out of the collector's way.
"""
from __future__ import annotations

from rasa_server.patches import _common
from rasa_server.patches._common import log

REPLACES: tuple = ()
_armed = False  # installed: the first handled message freezes the heap
_heap_frozen = False


def install() -> bool:
    """Arms the freeze after the first message; idempotent. False when refused."""
    global _armed
    if _common.version_refusal(__name__):
        return False
    _armed = True
    return True


def after_message() -> bool:
    """Freezes the heap once, after the first handled message, when installed. True when
    this call froze it."""
    global _heap_frozen
    if not _armed or _heap_frozen:
        return False
    import gc

    _heap_frozen = True
    gc.collect()
    gc.freeze()
    log.info("rasa_server.patches: %d long-lived objects moved out of the garbage collector's way",
             gc.get_freeze_count())
    return True
