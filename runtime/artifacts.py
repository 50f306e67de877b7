"""Content-addressed artifact store: ``WORKSPACE/artifacts/<sha256>/`` model directories.

The address of a directory is the sha256 of its sorted relative paths and their file
hashes, so identical models share one directory and any change of a byte is noticed
by ``verify``. A write goes to a temporary directory on the same file system, every
file and the directory are fsynced, and one ``rename`` puts it in place: after a crash
an artifact is either complete or absent. Nothing is ever unpickled: weights are
safetensors, and directories holding pickle files are refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import uuid
from pathlib import Path

ARTIFACTS_DIR = "artifacts"
# Files that would need pickle to load; we never read them.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
_CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ArtifactError(RuntimeError):
    """An artifact is missing, corrupt or unsafe; the message says which and what to do."""


def file_sha256(path: Path) -> str:
    """sha256 of one file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(root: Path) -> list[Path]:
    return sorted((p for p in root.rglob("*") if p.is_file()),
                  key=lambda p: p.relative_to(root).as_posix())


def hash_directory(root: str | os.PathLike) -> str:
    """sha256 over ``relative/path\\0file-sha256\\n`` for every file, in sorted path order."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in _files(root):
        rel = path.relative_to(root).as_posix()
        digest.update(f"{rel}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def check_no_pickle(root: Path) -> None:
    """Refuse directories whose weights could only be loaded by unpickling."""
    pickled = [p.name for p in _files(root) if p.suffix in PICKLE_SUFFIXES]
    if pickled:
        raise ArtifactError(f"{root} holds pickle files ({', '.join(sorted(pickled))}); Agent "
                            "Forge never unpickles: save the model with safetensors "
                            "(save_pretrained(..., safe_serialization=True))")


def safetensors_params(root: str | os.PathLike) -> int:
    """Parameter count from the safetensors headers (reads no tensor data, no torch)."""
    total = 0
    for path in _files(Path(root)):
        if path.suffix != ".safetensors":
            continue
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(size))
        for name, entry in header.items():
            if name != "__metadata__":
                count = 1
                for dim in entry["shape"]:
                    count *= dim
                total += count
    return total


def directory_bytes(root: str | os.PathLike) -> int:
    """Bytes on disk of every file under ``root``."""
    return sum(p.stat().st_size for p in _files(Path(root)))


def _fsync_tree(root: Path) -> None:
    for path in _files(root):
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    for directory in sorted({p.parent for p in _files(root)} | {root}, reverse=True):
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ArtifactStore:
    """The content-addressed model store of one workspace.

    Args:
        workspace: the workspace directory; artifacts live in ``workspace/artifacts``.
    """

    def __init__(self, workspace: str | os.PathLike):
        self.root = Path(workspace) / ARTIFACTS_DIR
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha: str) -> Path:
        """Where the artifact ``sha`` lives (it may not exist).

        Raises:
            ArtifactError: ``sha`` is not 64 lowercase hex digits (e.g. a damaged registry
                row): no other path is ever made.
        """
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise ArtifactError(f"{str(sha)[:80]!r} is not an artifact address (64 lowercase "
                                "hex digits); the registry entry is damaged, the next "
                                "`forge apply` rebuilds the phase")
        return self.root / sha

    def temp_dir(self) -> Path:
        """A fresh directory on the store's file system, for a kernel to write into."""
        path = self.root / f".tmp-{uuid.uuid4().hex}"
        path.mkdir()
        return path

    def put_dir(self, source: str | os.PathLike, move: bool = False) -> str:
        """Store a model directory atomically; returns its sha256.

        Args:
            source: the directory to store.
            move: take ``source`` itself (it must be on the store's file system, e.g.
                from ``temp_dir``) instead of copying it.
        """
        source = Path(source)
        check_no_pickle(source)
        sha = hash_directory(source)
        target = self.path(sha)
        if target.exists() and self._intact(sha):
            if move:
                shutil.rmtree(source)
            return sha
        staging = source if move else self._copy(source)
        _fsync_tree(staging)
        if target.exists():  # corrupt: keep it aside for inspection, never overwrite in place
            target.rename(self.root / f".corrupt-{sha}-{uuid.uuid4().hex[:8]}")
        staging.rename(target)
        _fsync_dir(self.root)
        return sha

    def _copy(self, source: Path) -> Path:
        staging = self.root / f".tmp-{uuid.uuid4().hex}"
        shutil.copytree(source, staging)
        return staging

    def save_model(self, model, tokenizer=None) -> str:
        """Save a Hugging Face model (+ tokenizer) as safetensors and store it; returns sha256."""
        staging = self.temp_dir()
        try:
            model.save_pretrained(staging, safe_serialization=True)
            if tokenizer is not None:
                tokenizer.save_pretrained(staging)
            return self.put_dir(staging, move=True)
        finally:
            if staging.exists():
                shutil.rmtree(staging)

    def _intact(self, sha: str) -> bool:
        try:
            self.verify(sha)
        except ArtifactError:
            return False
        return True

    def verify(self, sha: str) -> Path:
        """Re-hash the artifact; returns its path.

        Raises:
            ArtifactError: missing, or its content no longer hashes to ``sha``.
        """
        path = self.path(sha)
        if not path.is_dir():
            raise ArtifactError(f"artifact {sha[:12]} is missing from {self.root}; the next "
                                "`forge apply` rebuilds the phase that made it")
        if path.is_symlink() or any(p.is_symlink() for p in path.rglob("*")):
            raise ArtifactError(f"artifact {sha[:12]} holds a symbolic link, but an artifact "
                                "is plain files; the next `forge apply` rebuilds it")
        actual = hash_directory(path)
        if actual != sha:
            raise ArtifactError(f"artifact {sha[:12]} is corrupt (its files now hash to "
                                f"{actual[:12]}); the next `forge apply` rebuilds it")
        return path

    def load_model_dir(self, sha: str, verify: bool = True) -> Path:
        """The verified directory of artifact ``sha`` (load it with ``from_pretrained``)."""
        return self.verify(sha) if verify else self.path(sha)

    def clean_temp(self) -> int:
        """Remove temporary directories left by a crashed write; returns how many."""
        stale = [p for p in self.root.glob(".tmp-*") if p.is_dir()]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
        return len(stale)
