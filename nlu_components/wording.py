"""Wording shared by the NLU components and the actions: what marks a message as a question."""
from __future__ import annotations

import re

QUESTION_MARKS = re.compile(r"[吗呢？?]|怎么|为什么|为啥|咋|什么|啥|多少|多久|几点|能不能|可不可以|是不是|有没有|"
                            r"([收要用给算管])不\1|请问|问一下|问下")  # "收不收钱的", "要不要另外给钱"
