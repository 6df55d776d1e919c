"""``python -m bot privacy``: the command-line twin of the console's privacy pages.

  privacy export  --account NO | --conversation ID [--format json|text] --actor NAME
  privacy erase   --account NO | --conversation ID --actor NAME --yes [--include-account] [--reason TEXT]
  privacy retention [--dry-run]
  privacy audit [--actor NAME] [--subject ID] [--action ACTION] [--limit N] [--json]

Exports and deletions are recorded in the audit log as ``cli:<actor>``.
"""
from __future__ import annotations

import argparse
import json
import sys


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="privacy_command", required=True)
    for cmd in ("export", "erase"):
        p = sub.add_parser(cmd)
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("--account", help="户号 (10 digits)")
        who.add_argument("--conversation", help="conversation id / channel identity, e.g. wechat:<OpenID>")
        p.add_argument("--actor", required=True, help="who asks (recorded in the audit log)")
        if cmd == "export":
            p.add_argument("--format", choices=("json", "text"), default="json")
        else:
            p.add_argument("--yes", action="store_true", help="really delete (required)")
            p.add_argument("--include-account", action="store_true",
                           help="also anonymise the account record (name, phone, address)")
            p.add_argument("--reason", default="")
    r = sub.add_parser("retention")
    r.add_argument("--dry-run", action="store_true", help="count what would go, change nothing")
    a = sub.add_parser("audit")
    a.add_argument("--actor", default="")
    a.add_argument("--subject", default="")
    a.add_argument("--action", default="")
    a.add_argument("--limit", type=int, default=100)
    a.add_argument("--json", action="store_true")


def _subject(args):
    from bot.privacy.subject import Subject

    if args.account is not None:
        if not (len(args.account) == 10 and args.account.isdigit()):
            raise SystemExit("--account must be 10 digits")
        return Subject(account_no=args.account)
    return Subject(conversation_id=args.conversation)


def run(args: argparse.Namespace) -> int:
    from bot.config import load_settings
    from bot.privacy import audit, retention, subject as subjects
    from bot.privacy.policy import load_policy
    from bot.store import Store, migrate

    settings = load_settings()
    migrate(settings.database_url)
    store = Store(settings.database_url)
    try:
        if args.privacy_command == "export":
            subject = _subject(args)
            with store.session() as session:
                data = subjects.collect(session, subject)
                audit.record(session, actor=f"cli:{args.actor}", actor_role="cli", action="export_subject",
                             subject_kind=subject.kind, subject_id=subject.id, unmasked=True,
                             detail={"format": args.format, **subjects.summary(data)})
            sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n" if args.format == "json"
                             else subjects.readable(data))
            return 0
        if args.privacy_command == "erase":
            if not args.yes:
                print("nothing deleted: add --yes to delete (it cannot be undone)", file=sys.stderr)
                return 2
            subject = _subject(args)
            with store.session() as session:
                counts = subjects.erase(session, subject, include_account=args.include_account)
                audit.record(session, actor=f"cli:{args.actor}", actor_role="cli", action="erase_subject",
                             subject_kind=subject.kind, subject_id=subject.id,
                             detail={"counts": counts, "include_account": args.include_account,
                                     "reason": args.reason[:200]})
            print(json.dumps(counts, ensure_ascii=False))
            return 0
        if args.privacy_command == "retention":
            policy = load_policy()
            if args.dry_run:
                from bot.store.types import now_utc

                session = store.sessions()
                try:  # everything is rolled back: counts only
                    session.begin()
                    counts = retention.apply(session, policy, now_utc(), dry_run=True)
                finally:
                    session.rollback()
                    session.close()
                print(json.dumps({"dry_run": True, **counts}, ensure_ascii=False))
                return 0
            done = retention.run(store, policy, trigger="cli", actor="cli")
            print(json.dumps(done, ensure_ascii=False))
            return 0
        if args.privacy_command == "audit":
            with store.session() as session:
                rows, total = audit.search(session, actor=args.actor, subject=args.subject, action=args.action,
                                           limit=args.limit)
                entries = [audit.entry_json(r) for r in rows]
            if args.json:
                print(json.dumps(entries, ensure_ascii=False, indent=2))
            else:
                for e in entries:
                    print(f"{e['at']}  {e['actor']:<16} {e['action']:<18} {e['subject_kind']} {e['subject_id']}"
                          f"{'  (unmasked)' if e['unmasked'] else ''}")
                print(f"{len(entries)} of {total}")
            return 0
    finally:
        store.close()
    return 1
