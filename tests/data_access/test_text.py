"""The one control-character check shared by every input path."""

from data_access.text import code_point, control_characters, has_control_characters, visible

C0 = [chr(c) for c in range(0x20)]
C1 = [chr(c) for c in range(0x80, 0xA0)]


def test_every_c0_c1_and_del_is_a_control_character():
    for ch in C0 + ["\x7f"] + C1:
        assert has_control_characters(f"张{ch}三"), code_point(ch)
        assert control_characters(f"a{ch}b{ch}") == [ch]


def test_printable_text_has_none():
    # Spaces of every width, CJK punctuation, a soft hyphen and Latin letters are text.
    for text in ["宁化县实验小学", "13800000001", "Café Lycée", "张\u3000三", "a\u00a0b",
                 "阿卜杜·热合曼", "2022–2023学年", "①Ⅱ℃", "x\u00adx", ""]:
        assert not has_control_characters(text)
        assert control_characters(text) == []


def test_allowed_characters_are_skipped_and_order_is_kept():
    assert control_characters("a\nb\x00c\td\x1b\x00", allow="\n") == ["\x00", "\t", "\x1b"]
    assert not has_control_characters("两行\n文字", allow="\n")
    assert has_control_characters("两行\r\n文字", allow="\n")


def test_names_and_visible_form():
    assert code_point("\x00") == "U+0000" and code_point("\x9b") == "U+009B"
    assert visible("学校\x00名称\x7f") == "学校[U+0000]名称[U+007F]"
    assert visible("一中") == "一中"
