"""Messaging-platform channels: WeChat Official Account (``wechat``) and WeCom (``wecom``).

Each one is on when its settings are in the environment (see the contract) and logs one
line saying why when it is off.
"""
from __future__ import annotations

import os

from aiohttp import web

from bot.channels import wechat, wecom


def setup(app: web.Application, environ=os.environ) -> None:
    wechat.setup(app, environ)
    wecom.setup(app, environ)
