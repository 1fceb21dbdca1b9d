import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import Dataset, Image
from tasks_fixtures import GERMAN_LINES, make_imagefolder, png_bytes, png_header

from tasks.checks import TaskError
from tasks.languages import normalise_for
from tasks.sources import build_datasets, last_skip_report
from tasks.taskspec import load_task

GEORGIAN_WORDS = (
    "საქართველო თბილისი ენა წიგნი სახლი წყალი პური ქალაქი სკოლა მეგობარი მზე მთა ზღვა ღვინო დრო დღე"
)
REPO = Path(__file__).resolve().parents[2]
REAL_FRAKTUR = REPO / "../shared/data/real-ocr/german_fraktur"


def text_lines(datasets):
    return {
        normalise_for(language, line)
        for ds in datasets
        for text, language in zip(ds["text"], ds["language"])
        for line in text.splitlines()
    }


def assert_disjoint(pool, tests):
    """Train and test share no text line; every set has the columns; ids are unique."""
    assert len(pool) and tests
    assert not text_lines([pool]) & text_lines(tests.values())
    for ds in [pool, *tests.values()]:
        assert set(ds.column_names) >= {"image", "text", "language", "id"}
    ids = list(pool["id"]) + [i for ds in tests.values() for i in ds["id"]]
    assert len(ids) == len(set(ids))


def write_spec(spec_file, **keys):
    """A TOML spec file with `keys` (dict values become tables)."""
    spec_file.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in keys.items() if not isinstance(v, dict)]
    for name, table in keys.items():
        if isinstance(table, dict):
            lines.append(f"[{name}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    spec_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return spec_file


# ------------------------------------------------------------------ every source


def test_imagefolder_shorthand_splits_by_text_and_keeps_rows_whole(tmp_path, data_cfg):
    folder = make_imagefolder(tmp_path / "scans", GERMAN_LINES)
    data_cfg.tasks = [f"imagefolder:{folder}:de"]
    pool, tests = build_datasets(data_cfg)
    assert list(tests) == ["de"] and len(tests["de"]) == 5 and len(pool) == 20
    assert_disjoint(pool, tests)
    row = tests["de"][0]
    assert row["language"] == "de" and row["id"].startswith("scans-")
    assert row["image"].size == (120, 32) and row["text"] in GERMAN_LINES
    assert "metadata.jsonl line" in row["source"]


def test_duplicate_texts_stay_on_one_side(tmp_path, data_cfg):
    texts = [f"immer derselbe Satz {i % 6}" for i in range(30)]
    folder = make_imagefolder(tmp_path / "dups", texts)
    data_cfg.tasks = [f"imagefolder:{folder}:de"]
    data_cfg.train_per_language = 100
    pool, tests = build_datasets(data_cfg)
    assert_disjoint(pool, tests)
    assert len(pool) + len(tests["de"]) == 30  # every copy went somewhere, none to both


def test_spec_file_in_a_users_folder_with_test_role_and_column_mapping(tmp_path, data_cfg):
    folder = tmp_path / "data" / "letters"
    folder.mkdir(parents=True)
    rows = []
    for i, text in enumerate(GERMAN_LINES[:12]):
        (folder / f"p{i}.png").write_bytes(png_bytes(i))
        rows.append(json.dumps({"file_name": f"p{i}.png", "transcription": text}))
    (folder / "metadata.jsonl").write_text("\n".join(rows))
    spec = write_spec(
        tmp_path / "specs" / "letters.toml",
        name="letters",
        source="imagefolder",
        language="de",
        path="../data/letters",
        role="test",
        columns={"text": "transcription"},
    )
    data_cfg.languages = ["de"]
    data_cfg.tasks = [str(spec)]
    pool, tests = build_datasets(data_cfg)
    # Another "de" test set exists (the synthetic one), so the task's is named after the task.
    assert set(tests) == {"de", "de@letters"} and len(tests["de@letters"]) == 12
    assert set(tests["de@letters"]["language"]) == {"de"}
    assert_disjoint(pool, tests)


def test_jsonl_source_with_image_paths(tmp_path, data_cfg):
    (tmp_path / "imgs").mkdir()
    lines = []
    for i, text in enumerate(GERMAN_LINES[:15]):
        (tmp_path / "imgs" / f"{i}.png").write_bytes(png_bytes(i))
        lines.append(json.dumps({"path": f"imgs/{i}.png", "text": text}))
    (tmp_path / "lines.jsonl").write_text("\n".join(lines))
    spec = write_spec(
        tmp_path / "lines.toml",
        source="jsonl",
        language="de",
        path="lines.jsonl",
        test_size=4,
        columns={"image": "path"},
    )
    data_cfg.tasks = [str(spec)]
    pool, tests = build_datasets(data_cfg)
    assert len(tests["de"]) == 4 and len(pool) == 11
    assert_disjoint(pool, tests)


def test_parquet_source_with_encoded_images(tmp_path, data_cfg):
    table = pa.table(
        {
            "image": [{"bytes": png_bytes(i), "path": None} for i in range(10)],
            "transcription": GERMAN_LINES[:10],
        }
    )
    pq.write_table(table, tmp_path / "train.parquet")
    spec = write_spec(
        tmp_path / "pq.toml",
        source="parquet",
        language="de",
        path="train.parquet",
        test_fraction=0.3,
        train_size="all",
        columns={"text": "transcription"},
    )
    data_cfg.tasks = [str(spec)]
    pool, tests = build_datasets(data_cfg)
    assert len(tests["de"]) == 3 and len(pool) == 7
    assert_disjoint(pool, tests)


def test_parquet_missing_column_is_named(tmp_path, data_cfg):
    pq.write_table(pa.table({"image": [png_bytes()], "label": ["x"]}), tmp_path / "a.parquet")
    data_cfg.tasks = [f"parquet:{tmp_path / 'a.parquet'}:de"]
    with pytest.raises(TaskError, match=r"a\.parquet: no column 'text'; it has \['image', 'label'\]"):
        build_datasets(data_cfg)


def test_hub_source_reads_a_dataset_by_name(tmp_path, data_cfg, monkeypatch):
    import datasets

    def load_dataset(name, subset, split):
        assert (name, split) == ("someone/fa-lines", "train")
        local = Dataset.from_dict(
            {"img": [png_bytes(i) for i in range(8)], "text": [f"خط {i}" for i in range(8)]}
        )
        return local.cast_column("img", Image())

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    spec = write_spec(
        tmp_path / "hub.toml",
        source="hub",
        language="fa",
        path="someone/fa-lines",
        test_size=2,
        columns={"image": "img"},
    )
    data_cfg.tasks = [str(spec)]
    pool, tests = build_datasets(data_cfg)
    assert len(tests["fa"]) == 2 and len(pool) == 6
    assert_disjoint(pool, tests)


def test_hub_source_offline_gives_a_clear_error(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    code = (
        "from benchmark.cli import main; "
        "raise SystemExit(main(['tasks', 'validate', 'hub:nobody/no-such-ocr-dataset:fa']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    assert result.returncode == 1
    assert (
        "task no-such-ocr-dataset: could not load the hub dataset 'nobody/no-such-ocr-dataset'"
        in result.stderr
    )
    assert "needs internet access" in result.stderr and "Traceback" not in result.stderr


def test_wordlist_source_generates_a_language_the_registry_lacks(tmp_path, data_cfg):
    (tmp_path / "ka.txt").write_text("\n".join(GEORGIAN_WORDS.split()), encoding="utf-8")
    spec = write_spec(
        tmp_path / "ka.toml", source="wordlist", language="ka", path="ka.txt", fonts=["KurintoSans-Rg.ttf"]
    )
    data_cfg.tasks = [str(spec)]
    pool, tests = build_datasets(data_cfg)
    assert len(tests["ka"]) == 5 and len(pool) == 20
    assert_disjoint(pool, tests)
    letters = {c for t in pool["text"] for c in t if c.isalpha()}
    assert letters and all(0x10D0 <= ord(c) <= 0x10FF for c in letters)
    assert set(pool["language"]) == {"ka"}


def test_synthetic_page_task_beside_the_same_language(tmp_path, data_cfg):
    spec = write_spec(
        tmp_path / "pages.toml",
        name="fa-pages",
        source="synthetic",
        language="fa",
        granularity="page",
        lines_per_page=[2, 3],
        train_size=3,
        test_size=2,
    )
    data_cfg.languages = ["fa"]
    data_cfg.train_per_language, data_cfg.test_per_language = 6, 3
    data_cfg.tasks = [str(spec)]
    pool, tests = build_datasets(data_cfg)
    assert set(tests) == {"fa", "fa@fa-pages"}
    pages = tests["fa@fa-pages"]
    assert len(pages) == 2 and all(2 <= len(t.split("\n")) <= 3 for t in pages["text"])
    assert pages[0]["image"].height > 80  # several lines tall
    assert len(pool) == 6 + 3
    assert_disjoint(pool, tests)


def test_shipped_specs_load():
    for name in ("fa-pages-degraded", "georgian-wordlist", "ru-lines-degraded"):
        task = load_task(name)
        assert task.name == name


# ------------------------------------------------------------------ bad input


@pytest.fixture
def bad_folder(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    good = [f"gute Zeile {i}" for i in range(6)]
    for i in range(6):
        (folder / f"ok{i}.png").write_bytes(png_bytes(i))
    (folder / "truncated.png").write_bytes(png_bytes(1)[:60])
    (folder / "empty.png").write_bytes(b"")
    (folder / "zero.png").write_bytes(png_header(0, 12))
    (folder / "bomb.png").write_bytes(png_header(30000, 30000))
    (folder / "blank.png").write_bytes(png_bytes(2))
    (folder / "spaces.png").write_bytes(png_bytes(3))
    records = [json.dumps({"file_name": f"ok{i}.png", "text": t}).encode() for i, t in enumerate(good)]
    records += [
        json.dumps({"file_name": "missing.png", "text": "fehlt"}).encode(),  # line 7
        json.dumps({"file_name": "truncated.png", "text": "kaputt"}).encode(),  # line 8
        json.dumps({"file_name": "empty.png", "text": "leer"}).encode(),  # line 9
        json.dumps({"file_name": "zero.png", "text": "null"}).encode(),  # line 10
        json.dumps({"file_name": "bomb.png", "text": "riesig"}).encode(),  # line 11
        json.dumps({"file_name": "blank.png", "text": ""}).encode(),  # line 12
        json.dumps({"file_name": "spaces.png", "text": "   "}).encode(),  # line 13
        b'{"file_name": "ok0.png", "text": ',  # line 14
        b'{"file_name": "ok1.png", "text": "\xff\xfe"}',  # line 15
    ]
    (folder / "metadata.jsonl").write_bytes(b"\n".join(records) + b"\n")
    return folder


EXPECTED_PROBLEMS = [
    ("line 7 (missing.png)", "image file not found"),
    ("line 8 (truncated.png)", "corrupt or truncated image"),
    ("line 9 (empty.png)", "empty image file (0 bytes)"),
    ("line 10 (zero.png)", "zero-size image (0x12)"),
    ("line 11 (bomb.png)", "image too large"),
    ("line 12 (blank.png)", "empty transcription"),
    ("line 13 (spaces.png)", "empty transcription (only whitespace)"),
    ("line 14", "not valid JSON"),
    ("line 15", "not valid UTF-8"),
]


def test_validate_lists_every_problem_with_file_row_and_reason(bad_folder, capsys):
    from benchmark.cli import main

    assert main(["tasks", "validate", f"imagefolder:{bad_folder}:de"]) == 1
    out = capsys.readouterr().out
    for where, reason in EXPECTED_PROBLEMS:
        assert f"{bad_folder / 'metadata.jsonl'} {where}: {reason}" in out, (where, out)
    assert "bad: 15 samples read, 9 problem(s)" in out


def test_run_stops_with_the_same_messages(bad_folder, data_cfg):
    data_cfg.tasks = [f"imagefolder:{bad_folder}:de"]
    with pytest.raises(TaskError) as err:
        build_datasets(data_cfg)
    message = str(err.value)
    assert message.startswith(f"task bad (imagefolder:{bad_folder}:de): 9 bad sample(s):")
    for where, reason in EXPECTED_PROBLEMS:
        assert f"{where}: {reason}" in message
    assert 'data.on_bad_sample = "skip"' in message


def test_skip_mode_leaves_bad_samples_out_and_reports_them(bad_folder, data_cfg, capsys):
    data_cfg.tasks = [f"imagefolder:{bad_folder}:de"]
    data_cfg.on_bad_sample = "skip"
    data_cfg.test_per_language = 2
    pool, tests = build_datasets(data_cfg)
    assert len(pool) + len(tests["de"]) == 6
    report = last_skip_report()
    assert report["skipped"] == 9 and report["by_task"] == {"bad": 9}
    assert any("line 11 (bomb.png): image too large" in p for p in report["problems"])
    assert "task bad: skipped 9 bad sample(s)" in capsys.readouterr().err
    # The report is about the last build only.
    build_datasets(replace(data_cfg, tasks=[], languages=["en"], train_per_language=2, test_per_language=1))
    assert last_skip_report()["skipped"] == 0


def test_image_size_limit_comes_from_the_spec(tmp_path, data_cfg):
    folder = make_imagefolder(tmp_path / "big", GERMAN_LINES[:6])
    spec = write_spec(
        tmp_path / "big.toml", source="imagefolder", language="de", path="big", max_image_pixels=1000
    )
    data_cfg.tasks = [str(spec)]
    with pytest.raises(
        TaskError, match=r"line 1 \(0000\.png\): image too large \(120x32 = 3,840 pixels, limit 1,000\)"
    ):
        build_datasets(data_cfg)
    assert folder.exists()


def test_unknown_language_codes(tmp_path, data_cfg):
    make_imagefolder(tmp_path / "f", GERMAN_LINES[:4])
    with pytest.raises(TaskError, match=r"\[language\]: unknown language code 'xx': not an ISO 639"):
        load_task(f"imagefolder:{tmp_path / 'f'}:xx")
    # A real code the registry lacks is fine, with a note on scoring.
    task = load_task(f"imagefolder:{tmp_path / 'f'}:ka")
    assert "default normalisation" in task.notes[0]
    # Per-row language codes are checked too.
    rows = [json.dumps({"file_name": "0000.png", "text": "a b c", "lang": "qq1"})]
    (tmp_path / "f" / "metadata.jsonl").write_text("\n".join(rows))
    spec = write_spec(
        tmp_path / "rows.toml", source="imagefolder", language="de", path="f", columns={"language": "lang"}
    )
    data_cfg.tasks = [str(spec)]
    with pytest.raises(TaskError, match=r"metadata\.jsonl line 1 \(0000\.png\): unknown language code 'qq1'"):
        build_datasets(data_cfg)


def test_missing_folder_and_metadata(tmp_path, data_cfg):
    with pytest.raises(TaskError, match=r"\[path\]: .*nowhere does not exist"):
        load_task(f"imagefolder:{tmp_path / 'nowhere'}:de")
    (tmp_path / "no_meta").mkdir()
    from tasks.sources import check_task

    _, problems = check_task(load_task(f"imagefolder:{tmp_path / 'no_meta'}:de"), data_cfg)
    assert (
        str(problems[0])
        == f"{tmp_path / 'no_meta' / 'metadata.jsonl'}: file not found (an imagefolder needs metadata.jsonl with file_name and text for each image)"
    )


def test_wordlist_characters_the_font_cannot_draw(tmp_path, data_cfg):
    (tmp_path / "words.txt").write_bytes("ენა\nword\n".encode() + b"\xff\xfe\n")
    spec = write_spec(
        tmp_path / "w.toml",
        source="wordlist",
        language="ka",
        path="words.txt",
        fonts=["SourceSans3-Regular.ttf"],
    )
    data_cfg.tasks = [str(spec)]
    with pytest.raises(TaskError) as err:
        build_datasets(data_cfg)
    message = str(err.value)
    assert f"{tmp_path / 'words.txt'} line 1: 'ენა': no font can draw U+10D0 GEORGIAN LETTER AN" in message
    assert f"{tmp_path / 'words.txt'} line 3: not valid UTF-8" in message
    assert "line 2" not in message


def test_spec_problems_are_all_listed(tmp_path):
    spec = write_spec(
        tmp_path / "bad.toml", source="imagefolder", language="de", role="both", test_fraction=2, colour="red"
    )
    with pytest.raises(TaskError, match=r"\[colour\]: unknown key"):
        load_task(str(spec))
    spec = write_spec(
        tmp_path / "bad.toml", source="imagefolder", language="de", role="both", test_fraction=2
    )
    with pytest.raises(TaskError) as err:
        load_task(str(spec))
    message = str(err.value)
    assert f"{spec} [path]: missing" in message
    assert f"{spec} [role]: 'both' is not one of train+test, test, train" in message
    assert f"{spec} [test_fraction]: 2 must be between 0 and 1" in message
    with pytest.raises(
        TaskError, match="the synthetic source knows no language 'ka'.*use the wordlist source"
    ):
        load_task(str(write_spec(tmp_path / "s.toml", source="synthetic", language="ka")))
    with pytest.raises(TaskError, match="no such spec file"):
        load_task(str(tmp_path / "absent.toml"))


# ------------------------------------------------------------------ the real sample folder


@pytest.mark.skipif(not REAL_FRAKTUR.is_dir(), reason="real-ocr sample data not present")
@pytest.mark.parametrize("role", ["test", "train+test"])
def test_real_fraktur_folder_as_a_task(tmp_path, data_cfg, role):
    spec = write_spec(
        tmp_path / "fraktur.toml",
        name="fraktur",
        source="imagefolder",
        language="de",
        path=str(REAL_FRAKTUR.resolve()),
        role=role,
    )
    data_cfg.languages = ["en"]
    data_cfg.tasks = [str(spec)]
    pool, tests = build_datasets(data_cfg)
    expected = 200 if role == "test" else 5
    assert len(tests["de"]) == expected and len(pool) == 20 + (0 if role == "test" else 20)
    assert_disjoint(pool, tests)
    assert "ſ" in "".join(tests["de"]["text"]) or role != "test"
