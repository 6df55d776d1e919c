"""Shared fixtures. Each concern keeps its fixtures in a plugin module under tests/support/."""
import os

os.environ.setdefault("TZ", "Asia/Shanghai")

pytest_plugins = [
    "tests.support.services",
    "tests.support.stack",
    "tests.support.gateway",
    "tests.support.dialogue",
    "tests.support.console",
    "tests.support.browser",
]
