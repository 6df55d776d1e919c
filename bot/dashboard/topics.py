"""Complaint hot topics: what complaints and suggestions are about, from their text.

Each text is cut with jieba (its own tokenizer, with the project's power-utility dictionary
``nlu_components/jieba_dict/power_terms.txt`` and the complaint words of ``topic_words.txt``);
nouns, verbs and adjectives of two characters or more, less a stop list, are its keywords.
A keyword's count is the number of texts that mention it (a text counts once). Two keywords
in the same text make a pair (e.g. 抄表员 · 态度): the pairs found in two texts or more are
the topics a supervisor reads as "抄表员态度".
``topic_words.txt`` is a jieba user dictionary (word, frequency, POS); a frequency of 0
removes a word jieba would otherwise keep whole (态度恶劣 -> 态度 + 恶劣).
"""
from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[2]
POWER_TERMS = ROOT / "nlu_components" / "jieba_dict" / "power_terms.txt"
TOPIC_WORDS = Path(__file__).resolve().parent / "topic_words.txt"

# Words every complaint uses whatever it is about.
STOPWORDS = frozenset("""
投诉 建议 意见 希望 问题 情况 一下 什么 怎么 为什么 没有 已经 这个 那个 这样 我们 你们 他们 自己 现在 今天
昨天 上周 本月 上月 时候 还是 就是 可以 能够 需要 要求 反映 表示 觉得 感觉 认为 真是 实在 非常 特别 一直
不是 知道 说明 处理 解决 请问 你好 您好 谢谢 麻烦 客户 用户 我家 家里 这边 那边 出现 发生 进行 导致 造成
提出 提供 有关 关于 还有 然后 但是 因为 所以 如果 而且 多次 每次 几次 一次 两次 好几 马上 尽快 及时 总是
""".split())
KEEP_FLAGS = ("n", "v", "a")  # jieba POS: nouns (n, nr, ns, vn...), verbs, adjectives

_lock = threading.Lock()
_tokenizer = None


def _pos_tokenizer():
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            import jieba
            import jieba.posseg

            jieba.setLogLevel(logging.WARNING)
            base = jieba.Tokenizer()
            for path in (POWER_TERMS, TOPIC_WORDS):
                if path.exists():
                    base.load_userdict(str(path))
            _tokenizer = jieba.posseg.POSTokenizer(base)
        return _tokenizer


def keywords(text: str) -> list[str]:
    """The distinct keywords of one text, in order of appearance."""
    return list(_keywords(text or ""))


@functools.lru_cache(maxsize=65536)
def _keywords(text: str) -> tuple[str, ...]:
    # A ticket's text does not change: each is cut once per process (the previous period's
    # texts were this period's a week ago), not on every page view.
    seen: list[str] = []
    for token in _pos_tokenizer().cut(text or "", HMM=False):
        word = token.word.strip()
        if (len(word) >= 2 and token.flag[:1] in KEEP_FLAGS and word not in STOPWORDS
                and not word.isdigit() and word not in seen):
            seen.append(word)
    return tuple(seen)


def count_topics(texts: Iterable[str]) -> tuple[Counter, Counter, int, dict]:
    """(keyword -> texts, {a, b} -> texts, number of texts, {a, b} -> (a, b) as first written)."""
    words: Counter = Counter()
    pairs: Counter = Counter()
    shown: dict = {}
    n = 0
    for text in texts:
        n += 1
        found = keywords(text)
        words.update(found)
        for pair in combinations(found, 2):
            key = frozenset(pair)
            shown.setdefault(key, pair)
            pairs[key] += 1
    return words, pairs, n, shown


def hot_topics(current: Iterable[str], previous: Iterable[str], limit: int = 15) -> dict:
    """Keywords and pairs of the period with their count in the previous period."""
    words, pairs, n, shown = count_topics(current)
    before_words, before_pairs, n_before, _ = count_topics(previous)

    def entry(count: int, before: int) -> dict:
        return {"count": count, "previous": before, "change": count - before}

    top_words = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    top_pairs = sorted(((shown[k], k, c) for k, c in pairs.items() if c >= 2),
                       key=lambda item: (-item[2], item[0]))[:limit]
    return {
        "texts": n,
        "previous_texts": n_before,
        "keywords": [{"keyword": w, **entry(c, before_words.get(w, 0))} for w, c in top_words],
        "pairs": [{"keywords": list(p), "topic": " · ".join(p), **entry(c, before_pairs.get(k, 0))}
                  for p, k, c in top_pairs],
    }
