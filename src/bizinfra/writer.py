"""The only module that touches the disk.

Ownership: a file is bizinfra's only when the output folder's manifest lists it and its first two lines
still carry the header render.py writes. A hand-written file is never overwritten or removed, and neither
is a generated file someone took over by deleting its header.

Safety: every path is walked from the real output folder without following links; a symlink on the way
(file or folder), a file where a folder goes or a folder where a file goes refuses the run, naming the path,
before anything changes.

Atomicity: new contents are staged as temporary files beside their targets, and files to remove are renamed
aside, so a full disk or a read-only folder shows before the first swap. A swap that still fails puts the old
bytes back. While files are swapped the manifest lists old and new files alike, so after a crash the next
`generate` owns, and repairs, all of them; `check` reports the crash's temporary files.

One writer at a time: `generate` holds an exclusive lock on a file in the output folder, `check` a shared
one; the last holder removes the file.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import fcntl
import os
import posixpath
import re
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bizinfra.artifacts import Owner
from bizinfra.render import MARKER, header

MANIFEST = ".bizinfra-manifest"
LOCK = ".bizinfra-lock"
TEMPORARY = ".bizinfra-tmp"  # the suffix of staged files: one left over means a run was interrupted

_BEFORE, _AFTER = header("\0").split("\0")
_HEADER = re.compile((re.escape(_BEFORE) + r"[^\n]+" + re.escape(_AFTER)).encode())


class NotOwnedError(Exception):
    """Generating would overwrite a file bizinfra did not write."""


class UnsafePathError(Exception):
    """A path to read, write or remove goes through a symlink, or meets a file where a folder goes (or the reverse)."""


class WriteError(Exception):
    """Writing failed; the message says what changed on disk: nothing, unless it names the files."""


@dataclass
class WriteReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Drift:
    path: str
    kind: str  # modified | missing | extra | mode | temporary
    diff: str = ""  # modified: the unified diff; otherwise what to know about it

    def __str__(self) -> str:
        if self.kind == "modified":
            return self.diff
        return f"{self.kind}: {self.path}" + (f" ({self.diff})" if self.diff else "")


@dataclass(frozen=True)
class Scope:
    """The part of the tree a partial `generate` rebuilt: these targets, and these environments (None: all)."""

    targets: frozenset[str]
    environments: frozenset[str] | None = None

    def covers(self, owner: Owner | None) -> bool:
        return owner is not None and owner.target in self.targets and (
            self.environments is None or owner.environment in self.environments)


@dataclass(frozen=True)
class _Entry:
    """What stands at a path: a regular file's bytes and executable bit, or a folder, or something else."""

    kind: str  # file | folder | other
    content: bytes = b""
    executable: bool = False


class _Folder:
    """The output folder, read without following a link: every path is walked from its real location."""

    def __init__(self, out: Path) -> None:
        self.out = out  # as the user named it, for messages
        self.root = out.resolve()
        self._exists: dict[str, bool] = {"": self.root.is_dir()}

    def shown(self, relative: str) -> str:
        return (self.out / relative).as_posix()

    def path(self, relative: str) -> Path:
        return self.root / relative

    def has_folder(self, relative: str) -> bool:
        """Whether the folder exists: refuses a symlink or a file on its way."""
        if relative not in self._exists:
            exists = self.has_folder(posixpath.dirname(relative))
            if exists:
                try:
                    mode = os.lstat(self.path(relative)).st_mode
                except FileNotFoundError:
                    exists = False
                else:
                    if stat.S_ISLNK(mode):
                        raise UnsafePathError(self._symlink(relative, "folder"))
                    if not stat.S_ISDIR(mode):
                        raise UnsafePathError(f"{self.shown(relative)}: a file stands where bizinfra needs a folder; "
                                              "move it away")
            self._exists[relative] = exists
        return self._exists[relative]

    def read(self, relative: str) -> _Entry | None:
        if not _is_inside(relative):
            raise UnsafePathError(f"{relative}: not a path inside the output folder")
        if not self.has_folder(posixpath.dirname(relative)):
            return None
        try:  # O_NONBLOCK: a FIFO standing there must not hang the run
            descriptor = os.open(self.path(relative), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise UnsafePathError(self._symlink(relative, "file")) from None
            raise
        try:
            mode = os.fstat(descriptor).st_mode
            if not stat.S_ISREG(mode):
                return _Entry("folder" if stat.S_ISDIR(mode) else "other")
            with open(descriptor, "rb", closefd=False) as stream:
                return _Entry("file", stream.read(), bool(mode & stat.S_IXUSR))
        finally:
            os.close(descriptor)

    def temporaries(self, folders: Iterable[str]) -> list[str]:
        """Temporary files an interrupted run left in these folders."""
        found = []
        for folder in sorted(set(folders)):
            if self.has_folder(folder):
                with os.scandir(self.path(folder)) as entries:
                    found += [posixpath.join(folder, entry.name) for entry in entries
                              if _is_temporary(entry.name) and not entry.is_dir(follow_symlinks=False)]
        return found

    def _symlink(self, relative: str, kind: str) -> str:
        return (f"{self.shown(relative)}: a symlink; bizinfra never writes or removes through one: "
                f"replace it with a real {kind}")


def with_manifest(files: Mapping[str, bytes], owners: Mapping[str, Owner] | None = None) -> dict[str, bytes]:
    """The files plus the manifest that records them as ours: path, target, environment (- for none)."""
    owners = owners or {}
    return {**files, MANIFEST: _manifest({path: owners.get(path) for path in files})}


def write_tree(out: Path, files: Mapping[str, bytes], owners: Mapping[str, Owner] | None = None,
               scope: Scope | None = None) -> WriteReport:
    """Make `out` hold exactly `files` among the files bizinfra owns there (within `scope`, when given)."""
    created = _make_output_folder(out)
    try:
        with _locked(out, exclusive=True):
            return _write(_Folder(out), files, owners or {}, scope)
    except BaseException:
        _remove_folders(created)  # a first run that failed leaves no empty output folder behind
        raise


def check_tree(out: Path, files: Mapping[str, bytes], owners: Mapping[str, Owner] | None = None) -> list[Drift]:
    """Every difference between `out` and what generating would write there."""
    if out.exists() and not out.is_dir():
        raise UnsafePathError(f"{out}: not a folder; --out must name a folder")
    with _locked(out, exclusive=False) if out.is_dir() else contextlib.nullcontext():
        return _check(_Folder(out), with_manifest(files, owners))


def _write(folder: _Folder, files: Mapping[str, bytes], owners: Mapping[str, Owner],
           scope: Scope | None) -> WriteReport:
    try:
        listed = _listed(folder)
        on_disk = {path: folder.read(path) for path in sorted({*listed, *files, MANIFEST})}
    except OSError as error:
        raise WriteError(f"cannot read {_shown_error(folder, error)}: {error.strerror}; nothing was written.") from None
    owned = {path: owner for path, owner in listed.items() if _is_ours(on_disk[path])}
    if scope is not None:  # keep what was generated outside the scope, and its manifest rows
        kept = {path: owner for path, owner in owned.items() if not scope.covers(owner) and path not in files}
        files = {**{path: _content(on_disk[path]) for path in kept}, **files}
        owners = {**{path: owner for path, owner in kept.items() if owner}, **owners}
    _refuse_conflicts(folder, [*files, MANIFEST], on_disk, listed, owned)
    changed = {path: content for path, content in files.items() if not _is_current(on_disk[path], content)}
    first, last = _manifest_swaps(on_disk, owned, {path: owners.get(path) for path in files},
                                  any(on_disk[path] is None for path in changed))
    stale = sorted(owned.keys() - files.keys())
    leftovers = folder.temporaries(posixpath.dirname(path) for path in {*files, *listed, MANIFEST})
    _apply(folder, [*first, *sorted(changed.items()), *last], stale, on_disk)
    _remove_quietly(folder.path(path) for path in leftovers)
    for path in stale:
        _remove_empty_parents(folder.root, folder.path(path))
    written = sorted({*changed, *(MANIFEST for _ in first + last)})
    return WriteReport(written, sorted({*files, MANIFEST} - set(written)), stale)


def _manifest_swaps(on_disk: Mapping[str, _Entry | None], owned: Mapping[str, Owner | None],
                    rows: Mapping[str, Owner | None], adds_files: bool) -> tuple[list[tuple[str, bytes]], ...]:
    """The manifest swaps to make before and after the files': the final manifest goes in last, and when
    files appear, one naming old and new files alike goes in first, so a crash in between leaves no file
    a later run would refuse as not its own."""
    final = _manifest(rows)
    if adds_files:
        interim = _manifest({**owned, **rows})
        return [(MANIFEST, interim)], [] if interim == final else [(MANIFEST, final)]
    return [], [] if _is_current(on_disk[MANIFEST], final) else [(MANIFEST, final)]


def _check(folder: _Folder, expected: Mapping[str, bytes]) -> list[Drift]:
    listed = _listed(folder)
    on_disk = {path: folder.read(path) for path in sorted({*listed, *expected})}
    drift = []
    for path, content in sorted(expected.items()):
        current = on_disk[path]
        if current is None:
            drift.append(Drift(path, "missing"))
        elif current.kind != "file":
            raise UnsafePathError(_not_a_file(folder, path, current))
        elif current.content != content:
            drift.append(Drift(path, "modified", _diff(path, current.content, content)))
        elif current.executable != _executable(content):
            drift.append(Drift(path, "mode", "should " + ("" if _executable(content) else "not ") + "be executable"))
    owned = {path for path in listed if _is_ours(on_disk[path])}
    drift += [Drift(path, "extra") for path in sorted(owned - expected.keys())]
    leftovers = folder.temporaries(posixpath.dirname(path) for path in {*expected, *listed})
    drift += [Drift(path, "temporary", "left by an interrupted generate") for path in leftovers]
    return drift


def _refuse_conflicts(folder: _Folder, paths: Iterable[str], on_disk: Mapping[str, _Entry | None],
                      listed: Mapping[str, Owner | None], owned: Mapping[str, Owner | None]) -> None:
    for path in sorted(paths):
        current = on_disk[path]
        if current is None:
            continue
        if current.kind != "file":
            raise UnsafePathError(_not_a_file(folder, path, current))
        if path == MANIFEST or path in owned:
            continue
        if path in listed:
            raise NotOwnedError(f"{folder.shown(path)}: exists and does not carry bizinfra's header, so it is no "
                                "longer bizinfra's; move it away first")
        raise NotOwnedError(f"{folder.shown(path)}: exists and was not generated by bizinfra; move it away first")


def _not_a_file(folder: _Folder, path: str, entry: _Entry) -> str:
    what = "a folder" if entry.kind == "folder" else "something other than a file"
    return f"{folder.shown(path)}: {what} stands where bizinfra writes a file; move it away"


def _apply(folder: _Folder, swaps: list[tuple[str, bytes]], stale: list[str],
           on_disk: Mapping[str, _Entry | None]) -> None:
    """Stage every swap and removal, then swap; a failure while staging undoes it, one while swapping rolls back."""
    staged: list[tuple[str, Path]] = []
    aside: dict[str, Path] = {}
    created: list[Path] = []
    path, doing = "", "write"
    try:
        for path, content in swaps:
            created += _make_folders(folder.path(path).parent)
            staged.append((path, _stage(folder.path(path), content, _executable(content))))
        doing = "remove"
        for path in stale:
            aside[path] = _move_aside(folder.path(path))
    except OSError as error:
        _undo_staging(staged, aside, created, folder)
        raise WriteError(f"cannot {doing} {folder.shown(path)}: {error.strerror}; nothing was written.") from None
    except BaseException:
        _undo_staging(staged, aside, created, folder)
        raise
    done: list[str] = []
    try:
        for path, temporary in staged:
            os.replace(temporary, folder.path(path))
            done.append(path)
    except OSError as error:
        unrestored = _roll_back(folder, done, on_disk)
        _undo_staging(staged[len(done):], aside, created, folder)
        raise WriteError(_swap_failure(folder.shown(path), error, done, unrestored)) from None
    _remove_quietly(aside.values())


def _swap_failure(shown: str, error: OSError, done: list[str], unrestored: list[str]) -> str:
    problem = f"cannot write {shown}: {error.strerror}"
    if not unrestored:
        return f"{problem}; the {len(set(done))} files already replaced were restored: no file changed."
    return (f"{problem}; these files hold their new contents and could not be restored: {', '.join(unrestored)}. "
            "Fix the cause and run generate again.")


def _roll_back(folder: _Folder, done: list[str], on_disk: Mapping[str, _Entry | None]) -> list[str]:
    """Put the old bytes back where files were swapped; the paths that could not be restored."""
    unrestored = []
    for path in reversed(list(dict.fromkeys(done))):
        old = on_disk[path]
        try:
            if old is None:
                os.unlink(folder.path(path))
            else:
                os.replace(_stage(folder.path(path), old.content, old.executable), folder.path(path))
        except OSError:
            unrestored.append(path)
    return sorted(unrestored)


def _undo_staging(staged: list[tuple[str, Path]], aside: Mapping[str, Path], created: list[Path],
                  folder: _Folder) -> None:
    for path, temporary in aside.items():
        os.rename(temporary, folder.path(path))
    _remove_quietly(temporary for _, temporary in staged)
    _remove_folders(created)


def _stage(target: Path, content: bytes, executable: bool) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMPORARY, dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.chmod(name, 0o755 if executable else 0o644)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def _move_aside(target: Path) -> Path:
    """Rename a file to remove to a temporary name beside it: proves it can be removed, and can be put back."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMPORARY, dir=target.parent)
    os.close(handle)
    try:
        os.rename(target, name)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


@contextlib.contextmanager
def _locked(out: Path, exclusive: bool) -> Iterator[None]:
    """Hold the output folder's lock: exclusive to write, shared to read."""
    path = out / LOCK
    descriptor = _acquire(path, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH, out)
    try:
        yield
    finally:
        if descriptor is not None:
            _release(path, descriptor)


def _acquire(path: Path, operation: int, out: Path) -> int | None:
    waiting = False
    while True:
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as error:
            if operation == fcntl.LOCK_SH and error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                return None  # a folder this user cannot write to is read without the lock
            raise
        try:
            try:
                fcntl.flock(descriptor, operation | fcntl.LOCK_NB)
            except BlockingIOError:
                if not waiting:
                    print(f"{out}: waiting for another bizinfra run to finish (it holds {path})", file=sys.stderr,
                          flush=True)
                    waiting = True
                fcntl.flock(descriptor, operation)
            if _is_same_file(descriptor, path):
                return descriptor
        except BaseException:
            os.close(descriptor)
            raise
        os.close(descriptor)  # the run we waited for removed the file we locked: lock the current one


def _release(path: Path, descriptor: int) -> None:
    """Unlock; the last holder removes the lock file (holding it exclusively, so no one else uses it)."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if _is_same_file(descriptor, path):
            os.unlink(path)
    except OSError:
        pass  # another run holds it now: that run removes it
    finally:
        os.close(descriptor)


def _is_same_file(descriptor: int, path: Path) -> bool:
    try:
        on_disk = os.lstat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (on_disk.st_dev, on_disk.st_ino) == (opened.st_dev, opened.st_ino)


def _make_output_folder(out: Path) -> list[Path]:
    if out.exists() and not out.is_dir():
        raise UnsafePathError(f"{out}: not a folder; --out must name a folder")
    try:
        return _make_folders(out)
    except OSError as error:
        raise WriteError(f"cannot create {out}: {error.strerror}; nothing was written.") from None


def _make_folders(directory: Path) -> list[Path]:
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    created = []
    try:
        for new in reversed(missing):
            new.mkdir()
            created.append(new)
    except BaseException:
        _remove_folders(created)
        raise
    return created


def _remove_folders(created: list[Path]) -> None:
    for directory in reversed(created):
        with contextlib.suppress(OSError):
            directory.rmdir()


def _remove_quietly(paths: Iterable[Path]) -> None:
    """Remove temporary files once the tree is whole; one left behind is reported by `check`, removed next run."""
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _remove_empty_parents(root: Path, file: Path) -> None:
    directory = file.parent
    with contextlib.suppress(OSError):
        while directory != root and not any(directory.iterdir()):
            directory.rmdir()
            directory = directory.parent


def _listed(folder: _Folder) -> dict[str, Owner | None]:
    """The manifest's rows: path, and the owner when recorded. Rows that leave the folder are ignored."""
    manifest = folder.read(MANIFEST)
    if manifest is None or manifest.kind != "file":
        return {}
    listed: dict[str, Owner | None] = {}
    for line in manifest.content.decode("utf-8", "replace").splitlines():
        path, *owner = line.split("\t")
        if path and not path.startswith("#") and path != MANIFEST and _is_inside(path):
            listed[path] = Owner(owner[0], None if owner[1] == "-" else owner[1]) if len(owner) == 2 else None
    return listed


def _manifest(rows: Mapping[str, Owner | None]) -> bytes:
    lines = [f"{path}\t{owner.target}\t{owner.environment or '-'}\n" if owner else f"{path}\n"
             for path, owner in sorted(rows.items())]
    return f"# {MARKER}: the files bizinfra owns in this folder.\n{''.join(lines)}".encode()


def _is_ours(entry: _Entry | None) -> bool:
    """A regular file whose first two lines (the second after a `#!` or a JSON `{`) carry bizinfra's header."""
    if entry is None or entry.kind != "file":
        return False
    first_lines = b"\n".join(entry.content[:4096].split(b"\n", 2)[:2])
    return _HEADER.search(first_lines) is not None


def _content(entry: _Entry | None) -> bytes:
    return entry.content if entry else b""


def _is_current(entry: _Entry | None, content: bytes) -> bool:
    return entry is not None and entry.content == content and entry.executable == _executable(content)


def _executable(content: bytes) -> bool:
    return content.startswith(b"#!")


def _is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMPORARY)


def _is_inside(relative: str) -> bool:
    return not relative.startswith("/") and all(part not in ("", ".", "..") for part in relative.split("/"))


def _shown_error(folder: _Folder, error: OSError) -> str:
    if error.filename is None:
        return str(folder.out)
    try:
        return folder.shown(Path(os.fsdecode(error.filename)).relative_to(folder.root).as_posix())
    except ValueError:
        return os.fsdecode(error.filename)


def _diff(path: str, current: bytes, expected: bytes) -> str:
    lines = difflib.unified_diff(
        current.decode("utf-8", "replace").splitlines(keepends=True),
        expected.decode("utf-8", "replace").splitlines(keepends=True),
        fromfile=f"{path} (on disk)",
        tofile=f"{path} (from the spec)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
