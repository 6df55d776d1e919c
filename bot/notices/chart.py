"""一图看懂: a customer's last 12 months of usage as one picture and two sentences.

- :func:`usage_months`: the 12 months ending with the newest bill (kWh, amount, peak/valley where
  the bill has them, and the same month a year before);
- :func:`summary` / :func:`summary_text`: the figures and the two-line summary in words;
- :func:`render_png`: the chart (matplotlib, Agg) with a CJK font (:func:`cjk_font`: the
  ``CHART_FONT`` file, else Noto Sans CJK as ``scripts/install_system_deps.sh`` installs it,
  else another CJK font the system has; without one the chart is still drawn, with a warning in
  the log, and Chinese labels come out as boxes);
- :class:`ChartTokens`: the chart's URL is personal data, so it carries a token that is
  unguessable, bound to the account and expires (Fernet: encrypted, so the URL does not show
  the account number either, and authenticated with a key derived from ``SESSION_SECRET``).

Bills come as the API's bill dicts (``period``, ``kwh``, ``amount``, ``peak_kwh``, ``valley_kwh``).
"""
from __future__ import annotations

import base64
import functools
import glob
import hashlib
import io
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger(__name__)

MONTHS = 12
# How long a chart link works (seconds); CHART_URL_SECONDS overrides.
DEFAULT_TTL_SECONDS = 3600
# Font files tried in this order when CHART_FONT is not set (Debian's fonts-noto-cjk first).
FONT_PATTERNS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/**/NotoSansCJK*Regular*.tt[cf]",
    "/usr/share/fonts/**/NotoSansSC*.[ot]tf",
    "/usr/share/fonts/**/SourceHanSans*.tt[cf]",
    "/usr/share/fonts/**/wqy-*.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)
FONT_NAMES = ("Noto Sans CJK", "Source Han Sans", "WenQuanYi", "PingFang", "SimHei", "Microsoft YaHei")


# ---------------------------------------------------------------- the figures


def _shift(period: str, months: int) -> str:
    year, month = (int(p) for p in period.split("-"))
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _num(value: Any) -> Optional[float]:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class MonthUsage:
    period: str
    kwh: Optional[float]
    amount: Optional[float]
    peak_kwh: Optional[float]
    valley_kwh: Optional[float]
    last_year_kwh: Optional[float]
    last_year_amount: Optional[float]

    @property
    def label(self) -> str:
        return f"{int(self.period[5:])}月"

    @property
    def change_vs_last_year(self) -> Optional[float]:
        if self.kwh is None or not self.last_year_kwh:
            return None
        return self.kwh / self.last_year_kwh - 1


def usage_months(bills: Iterable[Dict[str, Any]], months: int = MONTHS) -> List[MonthUsage]:
    """The ``months`` months ending with the newest bill, oldest first (a month without a bill
    has None figures); [] when there is no bill."""
    by_period = {b["period"]: b for b in bills if isinstance(b.get("period"), str)}
    if not by_period:
        return []
    newest = max(by_period)
    result = []
    for back in range(months - 1, -1, -1):
        period = _shift(newest, -back)
        bill = by_period.get(period) or {}
        last_year = by_period.get(_shift(period, -12)) or {}
        result.append(MonthUsage(period=period, kwh=_num(bill.get("kwh")), amount=_num(bill.get("amount")),
                                 peak_kwh=_num(bill.get("peak_kwh")), valley_kwh=_num(bill.get("valley_kwh")),
                                 last_year_kwh=_num(last_year.get("kwh")),
                                 last_year_amount=_num(last_year.get("amount"))))
    return result


def summary(months: List[MonthUsage]) -> Dict[str, Any]:
    """The figures the two sentences say (JSON-able)."""
    billed = [m for m in months if m.kwh is not None]
    if not billed:
        return {"months": 0}
    latest = billed[-1]
    peak_known = [m for m in billed if m.peak_kwh is not None and m.kwh]
    busiest = max(billed, key=lambda m: m.kwh or 0)
    change = latest.change_vs_last_year
    previous = billed[-2] if len(billed) > 1 else None
    return {
        "months": len(billed),
        "first_period": billed[0].period,
        "latest_period": latest.period,
        "total_kwh": round(sum(m.kwh or 0 for m in billed), 1),
        "total_amount": round(sum(m.amount or 0 for m in billed), 2),
        "average_kwh": round(sum(m.kwh or 0 for m in billed) / len(billed), 1),
        "latest_kwh": latest.kwh,
        "latest_amount": latest.amount,
        "latest_last_year_kwh": latest.last_year_kwh,
        "latest_change_vs_last_year": None if change is None else round(change, 4),
        "previous_period": previous.period if previous else None,
        "previous_kwh": previous.kwh if previous else None,
        "busiest_period": busiest.period,
        "busiest_kwh": busiest.kwh,
        "peak_share": round(sum(m.peak_kwh or 0 for m in peak_known) / sum(m.kwh or 0 for m in peak_known), 4)
        if peak_known else None,
    }


def _kwh(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def _month(period: str, with_year: bool = False) -> str:
    return f"{period[:4]}年{int(period[5:])}月" if with_year else f"{int(period[5:])}月"


def summary_text(figures: Dict[str, Any]) -> str:
    """Two lines: the year in total, then the latest month against the same month last year."""
    if not figures.get("months"):
        return "这个户号下暂时没有账单记录，还画不出用电图。"
    n = figures["months"]
    span = f"近{n}个月" if n > 1 else "最近一个月"
    first = (f"{span}（{_month(figures['first_period'], True)}至{_month(figures['latest_period'], True)}）"
             f"共用电{_kwh(figures['total_kwh'])}度，电费{figures['total_amount']:.2f}元，"
             f"月均约{figures['average_kwh']:.0f}度；用电最多的是{_month(figures['busiest_period'])}"
             f"（{_kwh(figures['busiest_kwh'])}度）。")
    latest = _month(figures["latest_period"])
    change = figures.get("latest_change_vs_last_year")
    if change is not None:
        if abs(change) < 0.005:
            trend = "与去年同月基本持平"
        else:
            trend = f"比去年同月{'多' if change > 0 else '少'}{abs(change):.0%}"
        second = (f"{latest}用电{_kwh(figures['latest_kwh'])}度，{trend}"
                  f"（去年{latest}{_kwh(figures['latest_last_year_kwh'])}度）")
    elif figures.get("previous_kwh"):
        diff = figures["latest_kwh"] / figures["previous_kwh"] - 1
        trend = "与上月基本持平" if abs(diff) < 0.005 else f"比上月{'多' if diff > 0 else '少'}{abs(diff):.0%}"
        second = f"{latest}用电{_kwh(figures['latest_kwh'])}度，{trend}（没有去年同月的账单可比）"
    else:
        second = f"{latest}用电{_kwh(figures['latest_kwh'])}度"
    if figures.get("peak_share") is not None:
        second += f"；峰段用电约占{figures['peak_share']:.0%}。"
    else:
        second += "。"
    return first + "\n" + second


# ---------------------------------------------------------------- the picture

_font_lock = threading.Lock()
_font_cache: Dict[str, Optional[str]] = {}


def cjk_font() -> Optional[str]:
    """The path of a font file with Chinese glyphs, or None (logged once)."""
    with _font_lock:
        if "path" in _font_cache:
            return _font_cache["path"]
        path = _find_cjk_font()
        if path:
            log.info("usage chart font: %s", path)
        else:
            log.warning("no CJK font found (install fonts-noto-cjk or set CHART_FONT): the usage chart's "
                        "Chinese labels will not be readable")
        _font_cache["path"] = path
        return path


def _find_cjk_font() -> Optional[str]:
    configured = os.environ.get("CHART_FONT", "").strip()
    if configured:
        if os.path.isfile(configured):
            return configured
        log.warning("CHART_FONT=%s does not exist; looking for a CJK font elsewhere", configured)
    for pattern in FONT_PATTERNS:
        found = sorted(glob.glob(pattern, recursive=True))
        if found:
            return found[0]
    try:
        from matplotlib import font_manager

        for entry in font_manager.fontManager.ttflist:
            if any(name in entry.name for name in FONT_NAMES):
                return entry.fname
    except Exception:  # noqa: BLE001 - no font list: the caller logs that no font was found
        log.debug("matplotlib font list unavailable", exc_info=True)
    return None


_render_lock = threading.Lock()  # pyplot's state is global; Figure objects alone are thread-safe enough


def render_png(months: List[MonthUsage], title: str) -> bytes:
    """The chart as PNG bytes: kWh bars per month (peak/valley/other stacked where known) with
    the same month last year as a line, and the amount in yuan below."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    font_path = cjk_font()
    font = FontProperties(fname=font_path) if font_path else FontProperties()

    def fp(size: float, bold: bool = False) -> FontProperties:
        prop = font.copy()
        prop.set_size(size)
        if bold:
            prop.set_weight("bold")
        return prop

    labels = [m.label for m in months]
    xs = list(range(len(months)))
    with _render_lock:
        figure = Figure(figsize=(8, 6.4), dpi=100)
        top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
        figure.suptitle(title, fontproperties=fp(14, bold=True))
        known = [m.kwh is not None and m.peak_kwh is not None and m.valley_kwh is not None for m in months]
        peak = [m.peak_kwh or 0.0 if k else 0.0 for m, k in zip(months, known)]
        valley = [m.valley_kwh or 0.0 if k else 0.0 for m, k in zip(months, known)]
        other = [max((m.kwh or 0.0) - p - v, 0.0) if k else 0.0 for m, p, v, k in zip(months, peak, valley, known)]
        whole = [0.0 if k else m.kwh or 0.0 for m, k in zip(months, known)]
        if any(whole):
            top.bar(xs, whole, color="#3182bd", label="用电量" if not any(known) else "用电量（未分峰谷）")
        if any(known):
            top.bar(xs, valley, color="#6baed6", label="谷段")
            top.bar(xs, peak, bottom=valley, color="#fd8d3c", label="峰段")
            if any(other):
                top.bar(xs, other, bottom=[p + v for p, v in zip(peak, valley)], color="#c6dbef", label="平段/其他")
        last_year = [m.last_year_kwh for m in months]
        if any(v is not None for v in last_year):
            top.plot([x for x, v in zip(xs, last_year) if v is not None], [v for v in last_year if v is not None],
                     color="#636363", marker="o", linestyle="--", linewidth=1.2, label="去年同月")
        for x, m in zip(xs, months):
            if m.kwh is not None:
                top.annotate(_kwh(m.kwh), (x, m.kwh), textcoords="offset points", xytext=(0, 3), ha="center",
                             fontproperties=fp(8))
        top.set_ylabel("用电量（度）", fontproperties=fp(10))
        top.legend(prop=fp(9), loc="upper left", ncol=5, frameon=False)
        top.grid(axis="y", alpha=0.3)
        top.margins(y=0.18)
        amounts = [m.amount or 0.0 for m in months]
        bottom.bar(xs, amounts, color="#31a354")
        for x, m in zip(xs, months):
            if m.amount is not None:
                bottom.annotate(f"{m.amount:.0f}", (x, m.amount), textcoords="offset points", xytext=(0, 3),
                                ha="center", fontproperties=fp(8))
        bottom.set_ylabel("电费（元）", fontproperties=fp(10))
        bottom.grid(axis="y", alpha=0.3)
        bottom.margins(y=0.2)
        bottom.set_xticks(xs)
        bottom.set_xticklabels(labels, fontproperties=fp(9))
        for axis in (top, bottom):
            for tick in axis.get_yticklabels():
                tick.set_fontproperties(fp(8))
        if months:
            figure.text(0.99, 0.01, f"{_month(months[0].period, True)}—{_month(months[-1].period, True)}",
                        ha="right", va="bottom", fontproperties=fp(8), color="#636363")
        figure.tight_layout(rect=(0, 0.02, 1, 0.95))
        out = io.BytesIO()
        figure.savefig(out, format="png")
    return out.getvalue()


@functools.lru_cache(maxsize=64)
def render_png_cached(months: Tuple[MonthUsage, ...], title: str) -> bytes:
    """:func:`render_png`, remembered for the same figures (a render takes about a second of CPU;
    the widget fetches the picture again when the chat history is reloaded)."""
    return render_png(list(months), title)


# ---------------------------------------------------------------- the link


class ChartTokenError(Exception):
    """``kind``: ``invalid`` (forged, altered, another key) or ``expired``."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class ChartTokens:
    """Tokens naming an account's chart: encrypted and authenticated, valid ``ttl`` seconds."""

    def __init__(self, secret: str, ttl: int = DEFAULT_TTL_SECONDS):
        key = hashlib.sha256(f"usage-chart|{secret}".encode("utf-8")).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self.ttl = ttl

    def issue(self, account_no: str, now: Optional[float] = None) -> str:
        now = time.time() if now is None else now
        data = json.dumps({"a": account_no}, separators=(",", ":")).encode("utf-8")
        return self._fernet.encrypt_at_time(data, int(now)).decode("ascii")

    def expires_at(self, token: str) -> int:
        return self._fernet.extract_timestamp(token.encode("ascii")) + self.ttl

    def account(self, token: str, now: Optional[float] = None) -> str:
        """The account a token names; ChartTokenError when it is forged or expired."""
        now = time.time() if now is None else now
        raw = token.encode("ascii", "replace")
        try:
            data = self._fernet.decrypt_at_time(raw, self.ttl, int(now))
        except InvalidToken:
            try:
                issued = self._fernet.extract_timestamp(raw)
            except InvalidToken:
                raise ChartTokenError("invalid") from None
            # Authentic but too old (or issued "in the future" by a clock far ahead).
            raise ChartTokenError("expired" if issued + self.ttl < now else "invalid") from None
        try:
            account_no = json.loads(data)["a"]
        except (ValueError, KeyError, TypeError):
            raise ChartTokenError("invalid") from None
        if not isinstance(account_no, str):
            raise ChartTokenError("invalid")
        return account_no
