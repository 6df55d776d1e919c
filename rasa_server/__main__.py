"""Starts a Rasa server with this product's changes: ``python -m rasa_server run <args>``.

``<args>`` are ``rasa run``'s own (``-m``, ``--endpoints``, ``--credentials``, ``-p``...).
The behaviour changes and the speed-up patches are installed first (``rasa_server.install``;
a patch refuses on another Rasa version than the pinned one and says so on stderr, the server
then runs Rasa's own code for it), then Rasa's command line runs in this same process.
"""
from __future__ import annotations

import sys
from typing import List, Optional

USAGE = "usage: python -m rasa_server run [rasa run arguments...]"


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE + "\n\n" + (__doc__ or ""), file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    if args[0] != "run":
        print(f"{USAGE}\n(only 'run' starts a server; use the 'rasa' command for '{args[0]}')", file=sys.stderr)
        return 2

    import rasa_server
    from rasa_server.patches import installed_rasa_version, pinned_rasa_version

    installed = rasa_server.install()
    refused = sorted(name for name, ok in installed.items() if not ok)
    print(f"[rasa_server] Rasa {installed_rasa_version()} (pinned {pinned_rasa_version()}): "
          f"{len(installed) - len(refused)} of {len(installed)} changes installed"
          + (f"; not installed: {', '.join(refused)}" if refused else ""), file=sys.stderr, flush=True)

    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *args]
    rasa_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
