"""Store commands: ``init-store``, ``import``, ``tickets``, ``handoffs`` (``python -m bot ...``).

Every command migrates the store first (idempotent), so it works on a fresh ``DATABASE_URL``.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.config import load_settings
from bot.store import Store, migrate
from bot.store.models import Customer, Handoff


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "init-store":
        parser.add_argument("--demo-if-empty", action="store_true",
                            help="import demo/demo_data.json when the store has no customers "
                                 "(outages and bill months are moved to today)")
    elif name == "import":
        parser.add_argument("file", type=Path, help="JSON file with customers, bills and outages")
    elif name == "tickets":
        parser.add_argument("--account", metavar="NO", help="only this account's tickets")
        parser.add_argument("--json", action="store_true", help="print a JSON list (newest first)")
    elif name == "handoffs":
        parser.add_argument("--json", action="store_true", help="print a JSON list (newest first)")


def _open_store() -> Store:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    url = load_settings().database_url
    migrate(url)
    return Store(url, max_workers=1)


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def init_store(args: argparse.Namespace) -> int:
    from bot.importer import DEMO_FILE, load_demo

    store = _open_store()
    try:
        if not args.demo_if_empty:
            print("store migrated")
            return 0
        with store.session() as session:
            customers = session.execute(select(func.count()).select_from(Customer)).scalar_one()
        if customers:
            print(f"store migrated; it already has {customers} customers, demo data not imported")
            return 0
        summary = load_demo(store)
        print(f"store migrated; demo data imported from {DEMO_FILE.name}: {summary}")
        return 0
    finally:
        store.close()


def import_command(args: argparse.Namespace) -> int:
    from bot.importer import ImportFileError, import_file

    if not args.file.is_file():
        print(f"error: {args.file} does not exist", file=sys.stderr)
        return 2
    store = _open_store()
    try:
        summary = import_file(store, args.file)
    except ImportFileError as exc:
        print(f"error: {args.file} was not imported.\n{exc.report()}", file=sys.stderr)
        return 1
    except UnicodeDecodeError:
        print(f"error: {args.file} is not UTF-8 text; nothing was imported", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"imported {args.file}: {summary}")
    return 0


def tickets_command(args: argparse.Namespace) -> int:
    from bot import tickets as ticket_service

    if args.account and not (len(args.account) == 10 and args.account.isdigit()):
        print("error: --account must be a 10-digit account number", file=sys.stderr)
        return 2
    store = _open_store()
    try:
        with store.session() as session:
            data = [ticket_service.ticket_json(t)
                    for t in ticket_service.list_tickets(session, account_no=args.account)]
    finally:
        store.close()
    if args.json:
        _print_json(data)
        return 0
    if not data:
        print("no tickets")
    for t in data:
        due = next((m for m in t["milestones"] if m["met_at"] is None), None)
        next_due = f"next: {due['name']} by {due['due_at']}" if due else "all milestones met"
        print(f"{t['ticket_no']}  {t['type']:<11} {t['status']:<11} {t['priority']:<6} "
              f"{t['account_no'] or '-':<10}  {t['created_at']}  {next_due}  {t['summary'][:40]}")
    return 0


def handoffs_command(args: argparse.Namespace) -> int:
    from bot.handoff import handoff_contract_json

    store = _open_store()
    try:
        with store.session() as session:
            data = [handoff_contract_json(h) for h in session.execute(
                select(Handoff).order_by(Handoff.created_at.desc(), Handoff.id.desc())).scalars()]
    finally:
        store.close()
    if args.json:
        _print_json(data)
        return 0
    if not data:
        print("no hand-offs")
    for h in data:
        print(f"{h['created_at']}  {h['status']:<9} {h['channel']:<7} {h['reason']:<16} "
              f"{h['conversation_id']}  agent={h['agent'] or '-'}  callback={h['callback_ticket_no'] or '-'}")
    return 0


COMMANDS = {
    "init-store": init_store,
    "import": import_command,
    "tickets": tickets_command,
    "handoffs": handoffs_command,
}


def run(args: argparse.Namespace) -> int:
    return COMMANDS[args.command](args)
