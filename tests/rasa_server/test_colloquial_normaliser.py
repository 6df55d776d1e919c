"""The dialect/typo normaliser: customer spellings become the words the NLU was trained on."""
import pytest

from nlu_components.colloquial import load_pairs, normalise, normalise_text


@pytest.mark.parametrize("text, expected", [
    ("点费多少钱", "电费多少钱"),
    ("户好是多少", "户号是多少"),
    ("我要报休", "我要报修"),
    ("家里调闸了", "家里跳闸了"),
    ("查一哈上个月电费", "查一下上个月电费"),
    ("电费咋这么贵", "电费怎么这么贵"),
    ("咋办嘛", "怎么办嘛"),
    ("啥时候来电", "什么时候来电"),
    ("屋头莫得电了", "家里没有电了"),
    ("秦怀区长乐路明天挺电吗", "秦淮区长乐路明天停电吗"),
    ("喂 屋里莫得电了", "喂 家里没有电了"),
    ("我家里头没得电了", "我家里没有电了"),
    ("用了好多度电", "用了多少度电"),
    ("没店了", "没电了"),                       # aa: 电 typed as its homophone 店
    ("我们村是不是要停店", "我们村是不是要停电"),
    ("我想差一下我家点费交了没得 阿欠钱", "我想查一下我家电费交了没有 有没有欠钱"),   # al-bill-002 (voice typing)
    ("阿是停电了啊", "是不是停电了啊"),                                                # Nanjing 阿 = whether
])
def test_typos_and_dialect_become_standard(text, expected):
    assert normalise_text(text) == expected


@pytest.mark.parametrize("text", ["查电费", "家里没电了", "我要报修", "什么时候来电", "一下子就跳闸了",
                                  "服务太差了", "差不多两百块", "阿姨在家"])
def test_standard_text_is_unchanged(text):
    assert normalise_text(text) == text


def test_a_rewritten_word_is_not_rewritten_again():
    for source, target in load_pairs().items():
        assert normalise_text(target) == target, (source, target)


def test_offsets_follow_the_longer_text():
    text = "咋没电了 户好3201000003"
    new, offsets = normalise(text)
    assert new == "怎么没电了 户号3201000003"
    start = text.index("3201")
    assert new[offsets(start):offsets(start + 10)] == "3201000003"


def test_the_pipeline_normaliser_applies_dialect_before_numerals():
    from rasa.shared.nlu.training_data.message import Message

    from nlu_components.normaliser import ORIGINAL_TEXT, normalise_message

    text = "户好三二零一零零零零零三 咋还没来电"
    message = Message(data={"text": text, "entities": [
        {"entity": "account_no", "start": 2, "end": 12, "value": text[2:12]}]})
    normalise_message(message)
    assert message.get("text") == "户号3201000003 怎么还没来电"
    assert message.get(ORIGINAL_TEXT) == text
    (account,) = message.get("entities")
    assert (account["start"], account["end"], account["value"]) == (2, 12, "3201000003")
