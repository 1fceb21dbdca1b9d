from reports.gallery import char_diff_html, pick_samples


def test_char_diff_marks_deletions_insertions_and_substitutions():
    assert char_diff_html("abcd", "abcd") == "abcd"
    assert char_diff_html("abcd", "acd") == 'a<del class="del">b</del>cd'
    assert char_diff_html("abc", "abcx") == 'abc<ins class="ins">x</ins>'
    assert char_diff_html("abc", "axc") == 'a<del class="sub">b</del><ins class="sub">x</ins>c'


def test_char_diff_escapes_both_sides():
    assert char_diff_html("<a>", "<b>") == '&lt;<del class="sub">a</del><ins class="sub">b</ins>&gt;'


def test_pick_samples_takes_the_worst_and_the_median_lines():
    rows = [{"id": f"l{i}", "reference": "abcdefghij", "prediction": "abcdefghij"[i:]} for i in range(9)]
    picked = pick_samples(rows, k=2)
    assert [r["id"] for r in picked["worst"]] == ["l8", "l7"]
    assert [r["id"] for r in picked["typical"]] == ["l3", "l4"]
    assert picked["worst"][0]["line_cer"] == 0.8
