"""What identifies a result: the model's content (sha256 of the file and of its external
data), graphshape's version and the options that decide the answer.

Hashing a registry of large models every night costs more than the audit of an unchanged
one, so a file's hash is remembered with its stat signature (device, inode, size, mtime,
ctime, as git's index does) and trusted while the signature is unchanged. A signature taken
less than RACY_SECONDS after the file was last modified is not trusted (the file may still
change within the same timestamp tick: git's "racy" case); such a file is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from importlib import metadata

from graphshape.errors import GraphShapeError
from graphshape.loader.wire import load_proto

__all__ = ["Fingerprint", "fingerprint", "result_key", "graphshape_version",
           "external_files", "RACY_SECONDS"]

RACY_SECONDS = 2.0
_CHUNK = 1 << 20
_EXTERNAL = 1  # TensorProto.EXTERNAL
_TENSOR, _GRAPH, _TENSORS, _GRAPHS = 4, 5, 9, 10  # AttributeProto types


@dataclass(frozen=True)
class Fingerprint:
    """A model's content: its sha256 (over the model's bytes and its external data files,
    each with its path relative to the model) and those external files."""

    sha256: str
    files: tuple  # external data files, relative to the model's folder


def graphshape_version() -> str:
    try:
        return metadata.version("graphshape")
    except metadata.PackageNotFoundError:
        return "unknown"


def result_key(content: str, version: str, options: dict) -> str:
    """The key a result is stored and reused under."""
    text = json.dumps({"content": content, "version": version, "options": options},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _stat_signature(path: str) -> list:
    st = os.stat(path)
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def fingerprint(path: str, cache=None, listing: dict | None = None) -> Fingerprint:
    """The model's content hash. ``cache`` (the store) remembers hashes by stat signature;
    ``listing`` caches folder listings across calls (a folder that holds only .onnx files
    cannot hold external data, so its models are not parsed for it)."""
    sig = _stat_signature(path)
    if cache is not None:
        known = cache.cached_hash(path)
        if known is not None:
            old_sigs, sha, files, hashed_at = known
            sigs = [sig] + [_stat_signature_or_none(os.path.join(os.path.dirname(path), f))
                            for f in files]
            if old_sigs == sigs and not _racy(sigs, hashed_at):
                return Fingerprint(sha, tuple(files))
    hashed_at = time.time_ns()
    files = tuple(external_files(path) if _may_have_external_data(path, listing) else ())
    h = hashlib.sha256()
    _feed(h, path, "")  # the model's own name is not content: a renamed model is the same
    for rel in files:
        _feed(h, os.path.join(os.path.dirname(path), rel), rel)
    fp = Fingerprint(h.hexdigest(), files)
    if cache is not None:
        sigs = [sig] + [_stat_signature_or_none(os.path.join(os.path.dirname(path), f))
                        for f in files]
        cache.remember_hash(path, sigs, fp.sha256, list(files), hashed_at)
    return fp


def _stat_signature_or_none(path: str):
    try:
        return _stat_signature(path)
    except OSError:
        return None


def _racy(sigs: list, hashed_at: int) -> bool:
    """A file modified within RACY_SECONDS before it was hashed may have changed again in
    the same timestamp tick (coarse file system clocks) after the hash was taken."""
    return any(s is None or hashed_at - s[3] < RACY_SECONDS * 1e9 for s in sigs)


def _feed(h, path: str, name: str) -> None:
    # an external file's name is content (the model refers to it by name); each part goes
    # in framed by its name's length and its size, so no two different lists of files feed
    # the same bytes
    try:
        with open(path, "rb") as f:
            h.update(f"{len(name)}:{name}:{os.fstat(f.fileno()).st_size}:".encode())
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    except OSError as e:
        h.update(f"<unreadable: {e.strerror}>".encode())


def _may_have_external_data(path: str, listing: dict | None) -> bool:
    folder = os.path.dirname(os.path.abspath(path))
    if listing is not None and folder in listing:
        return listing[folder]
    try:
        names = os.listdir(folder)
    except OSError:
        names = []
    answer = any(not n.endswith(".onnx") and not n.startswith(".") for n in names)
    if listing is not None:
        listing[folder] = answer
    return answer


def external_files(path: str) -> list:
    """The external data files a model names (relative to its folder, sorted); none when
    the file cannot be read (its analysis reports why)."""
    try:
        model, _ = load_proto(path, trim=True)
    except GraphShapeError:
        return []
    out = set()
    for t in _tensors(model.graph):
        if t.data_location == _EXTERNAL:
            loc = {e.key: e.value for e in t.external_data}.get("location")
            if loc:
                out.add(os.path.normpath(loc))
    return sorted(out)


def _tensors(g):
    yield from g.initializer
    for s in g.sparse_initializer:
        yield s.values
        yield s.indices
    for n in g.node:
        for a in n.attribute:
            if a.type == _TENSOR:
                yield a.t
            elif a.type == _TENSORS:
                yield from a.tensors
            elif a.type == _GRAPH:
                yield from _tensors(a.g)
            elif a.type == _GRAPHS:
                for sg in a.graphs:
                    yield from _tensors(sg)
