"""Fixed costs of a merge through `forge apply` that were cut (issue 21): no transformers
import for a directory merge whose models cannot be measured on the task suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from runtime.phases.evomerge.single import _surely_not_suite
from tests.runtime.merge.tiny_models import save_tokenizer
from tests.runtime.phases.kernel_inputs import suite_tokenizer

ROOT = Path(__file__).resolve().parents[3]


def test_the_suite_tokenizer_is_never_skipped(tmp_path):
    suite_tokenizer().save_pretrained(tmp_path)
    assert not _surely_not_suite(tmp_path)


def test_other_or_missing_tokenizers_are_skipped_without_loading(tmp_path):
    assert _surely_not_suite(tmp_path)  # no tokenizer files
    save_tokenizer(tmp_path)  # a word-level vocabulary without the suite's special tokens
    assert _surely_not_suite(tmp_path)


def test_an_unreadable_tokenizer_json_is_left_to_the_full_load(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json")
    assert not _surely_not_suite(tmp_path)
    (tmp_path / "tokenizer.json").unlink()
    (tmp_path / "tokenizer.model").write_bytes(b"\0")  # sentencepiece: only a load can tell
    assert not _surely_not_suite(tmp_path)


def test_quieting_progress_bars_does_not_import_transformers():
    code = ("import sys; from runtime.phase_runner import _quiet_transformers_bars; "
            "_quiet_transformers_bars(); assert 'transformers' not in sys.modules; "
            "from transformers.utils import logging; "
            "assert not logging.is_progress_bar_enabled(); print('ok')")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
