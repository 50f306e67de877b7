"""A cache of compiled plans, so a repeated ``forge plan`` of an unchanged recipe
skips compiling (pydantic validation dominates a cold plan's time).

The key covers the root file's bytes, the command-line overrides and import roots,
the calibration file and the forgelang and runtime sources (their sizes and mtimes: a
step's cache key holds its kernel's code fingerprint); an entry
also lists every file the recipe imported with its sha256, the fingerprint of every
external input directory and the content sha256 of every data file the plan reads (a
step's cache key and data label hold it), all re-checked on each hit.
Only clean plans (no diagnostics at all) are cached. ``FORGE_NO_CACHE=1`` disables it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from forgelang.data_label import DIGEST_CHARS, content_sha256, digest_of
from forgelang.devices import calibration_path
from forgelang.files import read_regular
from forgelang.fingerprint import fingerprint
from forgelang.kernel_code import module_index
from forgelang.plan import EXTERNAL_PREFIX, Plan
from forgelang.source import MAX_SOURCE_BYTES

_PACKAGE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    base = os.environ.get("FORGE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"), "agent-forge", "plans")
    return Path(base)


def enabled() -> bool:
    return os.environ.get("FORGE_NO_CACHE", "") in ("", "0")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _code_stamp() -> str:
    """Sizes and mtimes of forgelang's and runtime's sources (a step's cache key holds
    its kernel's code fingerprint, ``forgelang.kernel_code``) and of the grammar."""
    files = sorted(module_index().items()) + [(p.name, str(p)) for p in _PACKAGE.glob("*.lark")]
    parts = []
    for name, path in files:
        st = os.stat(path)
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def key(path: Path, overrides, import_roots) -> str | None:
    try:
        # regular files only, bounded: a FIFO or /dev/zero gets no key (the loader says why)
        root = read_regular(path, MAX_SOURCE_BYTES)
        cal = calibration_path()
        cal_bytes = cal.read_bytes() if cal.is_file() else b""
    except OSError:
        return None
    meta = json.dumps([str(path.resolve()), list(overrides), [str(p) for p in import_roots],
                       _code_stamp()]).encode()
    return _digest(meta + b"\0" + root + b"\0" + cal_bytes)


def _externals(plan: Plan) -> dict[str, str]:
    """Input model directories and data files the plan reads (the planner made them absolute;
    the synthetic suite's ``data = "suite"`` is not a path), each with its current stamp: a
    data file's is the content digest its steps' data label holds (the planner hashed the
    file; it is not read again here)."""
    paths = {i[len(EXTERNAL_PREFIX):] for s in plan.steps for i in s.inputs
             if i.startswith(EXTERNAL_PREFIX)}
    stamps = {p: _stamp(p) for p in paths}
    for s in plan.steps:
        data = s.params.get("data")
        if isinstance(data, str) and Path(data).is_absolute():
            digest = digest_of(s.data)
            stamps[data] = DATA_STAMP + (digest or content_sha256(data)[:DIGEST_CHARS])
    return stamps


DATA_STAMP = "sha256:"  # a data file's stamp: the first DIGEST_CHARS hex digits of its sha256


def _stamp(name: str, digest_chars: int | None = None) -> str:
    """A data file's content stamp (its sha256, cut to ``digest_chars`` hex digits), or an
    input directory's fingerprint (``digest_chars`` None)."""
    if digest_chars is None:
        return fingerprint(Path(name))
    return DATA_STAMP + content_sha256(name)[:digest_chars]


def load(cache_key: str) -> Plan | None:
    """The cached plan, if every file it was compiled from or reads is unchanged."""
    try:
        entry = json.loads((cache_dir() / f"{cache_key}.json").read_text())
        for name, digest in entry["deps"].items():
            if _digest(read_regular(name, MAX_SOURCE_BYTES)) != digest:
                return None
        for name, stamp in entry["externals"].items():
            chars = len(stamp) - len(DATA_STAMP) if stamp.startswith(DATA_STAMP) else None
            if (chars is not None and chars < DIGEST_CHARS) or _stamp(name, chars) != stamp:
                return None
        return Plan.from_json(entry["plan"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(cache_key: str, plan: Plan, deps: list[Path]) -> None:
    """Save a clean plan; failures to write are ignored (the cache is an optimisation)."""
    try:
        entry = {"deps": {str(p): _digest(p.read_bytes()) for p in deps},
                 "externals": _externals(plan),
                 "plan": plan.to_json()}
        directory = cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{cache_key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(entry))
        os.replace(tmp, directory / f"{cache_key}.json")
    except OSError:
        pass
