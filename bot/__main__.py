"""Command line: ``python -m bot <command>``.

Each command lives in the module of its concern, which exposes
``add_arguments(parser)`` and ``run(args) -> int``.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMANDS = {
    # name: (module, help)
    "serve": ("bot.server", "run the gateway (web widget, console, REST API, channel webhooks)"),
    "init-store": ("bot.cli_store", "migrate the store; --demo-if-empty imports the demo data into an empty store"),
    "import": ("bot.cli_store", "import customers, bills and outages from a JSON file (idempotent)"),
    "tickets": ("bot.cli_store", "print tickets (newest first)"),
    "handoffs": ("bot.cli_store", "print human hand-offs (newest first)"),
    "create-staff": ("bot.console.cli", "create or update a staff user of the console"),
    "sla-report": ("bot.sla.report", "response-time compliance per ticket type and area type"),
    "report": ("bot.dashboard.report", "the service report of the dashboard (json, csv or xlsx; default the last 7 days)"),
    "dashboard-refresh": ("bot.dashboard.daily", "store the dashboard's figures of the past days that are missing "
                          "or changed (the gateways do it every few minutes)"),
    "notices": ("bot.notices.runner", "proactive notices: run-once claims what is due and sends it (for cron jobs)"),
    "privacy": ("bot.privacy.cli", "a customer's personal data: export, erase; the retention job; the audit log"),
}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # One concern's missing module must not take every other command down with it.
            if exc.name != module_name:
                raise
            continue
        command_parser = sub.add_parser(name, help=help_text)
        module.add_arguments(name, command_parser)
        command_parser.set_defaults(_module=module)
    args = parser.parse_args(argv)
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
