"""The utility's store: SQLAlchemy models, sessions and migrations."""
from bot.store.db import STORE, Store, migrate, session_scope  # noqa: F401
