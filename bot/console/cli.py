"""``python -m bot create-staff USERNAME --name 显示名 --role agent|supervisor``.

The password comes from ``--password-stdin`` (first line of standard input), else the
``STAFF_PASSWORD`` environment variable, else an interactive prompt (asked twice).
Running it again for an existing user updates the name, role and password.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys

from bot.config import load_settings
from bot.console.auth import upsert_staff
from bot.store import Store, migrate
from bot.store.models import STAFF_ROLES


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("username", help="log-in name (letters, digits, _ . -)")
    parser.add_argument("--name", required=True, help="display name shown to customers, e.g. 李娜")
    parser.add_argument("--role", choices=STAFF_ROLES, default="agent")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get("STAFF_PASSWORD"):
        return os.environ["STAFF_PASSWORD"]
    first = getpass.getpass("密码: ")
    if getpass.getpass("再次输入密码: ") != first:
        raise ValueError("the two passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    try:
        password = _password(args)
    except (ValueError, EOFError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = load_settings()
    migrate(settings.database_url)
    store = Store(settings.database_url)
    try:
        with store.session() as session:
            user = upsert_staff(session, args.username, args.name, args.role, password)
            print(f"staff user {user.username} ({user.role}) saved")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0
