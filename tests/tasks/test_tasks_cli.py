from PIL import Image
from tasks_fixtures import GERMAN_LINES, make_imagefolder

from benchmark.cli import main


def test_list_shows_languages_scripts_and_shipped_specs(capsys):
    assert main(["tasks", "list"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    languages, scripts = int(first.split()[0]), int(first.split()[2])
    assert languages >= 12 and scripts >= 7
    assert "fa    Persian" in out and "persian" in out and "faker:fa_IR" in out
    assert "fa-pages-degraded" in out and "georgian-wordlist" in out


def test_show_a_language_and_a_task(capsys):
    assert main(["tasks", "show", "fa"]) == 0
    out = capsys.readouterr().out
    assert "Arabic (right-to-left)" in out and "ZWNJ U+200C kept" in out and "KurintoSans-Rg" in out
    assert main(["tasks", "show", "georgian-wordlist"]) == 0
    out = capsys.readouterr().out
    assert "source         wordlist" in out and "not in the registry" in out
    assert main(["tasks", "show", "no-such-thing"]) == 2
    assert "no such spec file" in capsys.readouterr().err


def test_preview_writes_a_contact_sheet(tmp_path, capsys):
    out = tmp_path / "fa.png"
    assert (
        main(["tasks", "preview", "fa", "--out", str(out), "--count", "2", "--level", "clean,degraded"]) == 0
    )
    sheet = Image.open(out)
    assert sheet.width == 1000 and sheet.height > 150
    folder = make_imagefolder(tmp_path / "scans", GERMAN_LINES[:3])
    assert main(["tasks", "preview", f"imagefolder:{folder}:de", "--out", str(tmp_path / "de.png")]) == 0
    assert "3 samples" in capsys.readouterr().out
    assert main(["tasks", "preview", "fa", "--out", str(out), "--level", "blurry"]) == 2
    assert "--level blurry: choose from clean, scanned, degraded" in capsys.readouterr().err


def test_validate_a_good_folder_exits_zero(tmp_path, capsys):
    folder = make_imagefolder(tmp_path / "scans", GERMAN_LINES[:7])
    assert main(["tasks", "validate", f"imagefolder:{folder}:de"]) == 0
    assert "scans: 7 samples read, 0 problem(s)" in capsys.readouterr().out


def test_validate_a_broken_spec_exits_non_zero(tmp_path, capsys):
    spec = tmp_path / "broken.toml"
    spec.write_text('source = "imagefolder"\nlanguage = "de"\npath = "nowhere"\n')
    assert main(["tasks", "validate", str(spec)]) == 1
    assert f"{spec} [path]: {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err


def test_validate_a_generated_task_whose_font_lacks_the_script(tmp_path, capsys):
    spec = tmp_path / "fa_latin_font.toml"
    spec.write_text('source = "synthetic"\nlanguage = "fa"\nfonts = ["SourceSans3-Regular.ttf"]\n')
    assert main(["tasks", "validate", str(spec)]) == 1
    assert f"{spec}: could not draw 20 distinct fa lines" in capsys.readouterr().out
    assert main(["tasks", "validate", "fa-pages-degraded"]) == 0
