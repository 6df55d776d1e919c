"""What runs inside the Rasa server (the gateway, ``bot/``, never imports Rasa).

- ``channel.py``: the ``gateway`` input channel (``credentials.yml``);
- ``tracker_store.py``, ``lock_store.py``: the tracker and lock stores chosen by ``type:``
  in ``endpoints.yml`` / ``deploy/endpoints.prod.yml``;
- ``dialogue.py``, ``action_failures.py``: behaviour the product needs that Rasa 3.6 lacks
  (a typed yes takes the fallback's offer; failed custom actions reported to the gateway);
- ``policies.py``: the product's Rasa policy, named in ``config.yml``: ``CachedRulePolicy``
  (RulePolicy remembering its rule matches), a subclass Rasa's checks take for its RulePolicy
  (``counts_as.py``);
- ``patches/``: outcome-preserving speed-ups where Rasa has no seam, one module per patch,
  pinned to one Rasa version.

Nothing here changes Rasa by being imported. The Rasa server is started with
``python -m rasa_server run <rasa run arguments>`` (``__main__.py``), which calls
``install()`` and then Rasa's own command line. Rasa's NLU components live beside this
package in ``nlu_components/``.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional, Text


def install(patches: Optional[Iterable[Text]] = None) -> Dict[Text, bool]:
    """Installs the behaviour changes and the speed-up ``patches`` (default: all) into Rasa;
    idempotent. Answers which took effect (a refused patch is False and logged)."""
    from rasa_server import action_failures, dialogue
    from rasa_server import patches as speedups

    installed = {"dialogue.typed_yes_takes_the_offer": dialogue.install_typed_yes_takes_the_offer(),
                 "dialogue.fallback_loop_ends_once": dialogue.install_fallback_loop_ends_once(),
                 "action_failures": action_failures.install() or action_failures.installed()}
    installed.update({f"patches.{name}": ok for name, ok in speedups.install(patches).items()})
    return installed
