"""Where a report pack goes, and who may write it: guard, lock, free space, atomic swap.

Rules (DESIGN.md section 7; issue 15):

- **Guard.** ``--out`` may replace only a pack of the same month and dataset. A folder whose
  ``manifest.json`` names another month or another dataset is refused (:class:`PackError`,
  exit 2), and so is a non-empty folder that is not a pack, a file, or a folder that cannot
  be written.
- **Lock.** One run per output folder at a time. The lock is the file ``.<name>.lock`` beside
  the pack, holding the holder's pid, host, start time and run id, and held with an OS file
  lock (``flock``): a run killed with ``kill -9`` releases it at once. Its file then stays
  behind, stale; the next run takes it over and says so.
- **Space.** A new pack is built beside the old one before it replaces it, so a run needs at
  least :data:`MIN_FREE_BYTES` free, and more than the previous pack's size.
- **Swap.** The finished pack replaces the old one in one step (``renameat2`` with
  ``RENAME_EXCHANGE`` where the file system has it; otherwise two renames, and a pack set
  aside by a run that died between them is put back by the next run).

Whatever happens to a run (a failing notebook, a full disk, SIGINT, ``kill -9``, a second
run), the previous good pack stays byte-identical until a complete replacement is ready.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

#: A run refuses to start with less free space than this on the pack's file system.
MIN_FREE_BYTES = 20 * 1024 * 1024
#: ... and with less than this multiple of the size of the pack it would replace.
FREE_SPACE_FACTOR = 1.5


class PackError(ValueError):
    """The run may not start (nothing was written): the message says why and what to do."""


class RunFailed(RuntimeError):
    """The run started but could not finish its pack; the previous pack is unchanged."""


# --------------------------------------------------------------------------------------------
# Reading a pack
# --------------------------------------------------------------------------------------------


def is_pack(folder: Path) -> bool:
    """Whether ``folder`` is a Fishpond report pack (it has a ``manifest.json``)."""
    return (folder / "manifest.json").is_file()


def read_manifest(folder: Path) -> dict | None:
    """The pack's manifest, or None when it is missing or unreadable."""
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pack_was_ok(folder: Path) -> bool:
    """Whether the pack in ``folder`` is a good one (every notebook succeeded)."""
    manifest = read_manifest(folder)
    return bool(manifest and manifest.get("ok"))


def folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder`` (0 when it does not exist)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


# --------------------------------------------------------------------------------------------
# Guard: may this run write there at all?
# --------------------------------------------------------------------------------------------


def check_out_folder(out_dir: Path) -> None:
    """Refuse an ``--out`` that is a file, sits under a file, or is a folder of other things."""
    if out_dir.exists() and not out_dir.is_dir():
        raise PackError(f"--out {out_dir} is a file, not a folder; choose a folder for the pack")
    for parent in out_dir.parents:
        if parent.exists():
            if not parent.is_dir():
                raise PackError(f"--out {out_dir}: {parent} is a file, not a folder")
            break
    if out_dir.is_dir() and not is_pack(out_dir) and any(out_dir.iterdir()):
        raise PackError(
            f"{out_dir} exists and is not a Fishpond report pack (no manifest.json); "
            "choose another --out or empty it"
        )


def check_same_pack(out_dir: Path, month: str, spec: Path, name: str | None) -> None:
    """Refuse to replace a pack that belongs to another month or another dataset.

    The dataset is the spec file (resolved path) and, when ``name`` is given, its name.
    """
    if not is_pack(out_dir):
        return
    manifest = read_manifest(out_dir)
    if manifest is None:
        raise PackError(
            f"{out_dir} holds a pack whose manifest.json cannot be read; refusing to replace "
            "it. Move it away or choose another --out"
        )
    their_month = str(manifest.get("month", ""))
    dataset = manifest.get("dataset") or {}
    their_spec = str(dataset.get("spec", ""))
    their_name = str(dataset.get("name", ""))
    differences = []
    if their_month != month:
        differences.append(f"month {their_month or '?'} (this run: {month})")
    if their_spec != str(spec):
        differences.append(f"dataset {their_spec or '?'} (this run: {spec})")
    elif name is not None and their_name != name:
        differences.append(f"dataset name {their_name!r} (this run: {name!r})")
    if differences:
        raise PackError(
            f"--out {out_dir} holds the pack of another "
            f"{'month' if their_month != month else 'dataset'}: its manifest names "
            f"{' and '.join(differences)}. Refusing to replace it; choose another --out "
            "(the default is reports/<month>/)"
        )


def check_free_space(out_dir: Path) -> None:
    """Refuse to start when the pack's file system cannot hold a second copy of the pack."""
    existing = next((p for p in [out_dir, *out_dir.parents] if p.exists()), Path("/"))
    try:
        free = shutil.disk_usage(existing).free
    except OSError:  # cannot tell: let the writes themselves report
        return
    previous = folder_bytes(out_dir) if is_pack(out_dir) else 0
    needed = max(MIN_FREE_BYTES, int(previous * FREE_SPACE_FACTOR))
    if free < needed:
        raise PackError(
            f"not enough free disk space for the report pack: {_megabytes(free)} free on the "
            f"file system of {existing}, at least {_megabytes(needed)} needed (the new pack "
            "is built beside the previous one before it replaces it). Free some space or "
            "choose another --out"
        )


def _megabytes(count: int) -> str:
    return f"{count / 1024 / 1024:,.1f} MB"


# --------------------------------------------------------------------------------------------
# Lock: one run per output folder
# --------------------------------------------------------------------------------------------


def lock_path(out_dir: Path) -> Path:
    """The lock file of a pack folder: ``.<name>.lock`` beside it."""
    return out_dir.with_name(f".{out_dir.name}.lock")


@dataclass
class PackLock:
    """A held lock on a pack folder. ``notice`` says when a stale lock was taken over."""

    path: Path
    fd: int
    notice: str | None = None

    def release(self) -> None:
        """Delete the lock file (if it is still ours) and drop the OS lock."""
        if self.fd < 0:
            return
        try:
            if os.stat(self.path).st_ino == os.fstat(self.fd).st_ino:
                os.unlink(self.path)
        except OSError:
            pass
        finally:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> PackLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 65536)
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (OSError, ValueError):
        return {"unreadable": True}
    return data if isinstance(data, dict) else {"unreadable": True}


def _describe_holder(holder: dict) -> str:
    if not holder or holder.get("unreadable"):
        return "holder unknown"
    parts = [f"pid {holder.get('pid', '?')}"]
    if holder.get("host") and holder.get("host") != socket.gethostname():
        parts.append(f"on {holder['host']}")
    parts.append(f"started {holder.get('started_at', '?')}")
    return ", ".join(parts)


def acquire_lock(out_dir: Path, run_id: str) -> PackLock:
    """Take the lock of ``out_dir`` or raise :class:`PackError` naming the run that holds it.

    A lock file left by a run that died (its OS lock is gone) is taken over; the returned
    lock's ``notice`` says whose it was.
    """
    path = lock_path(out_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PackError(f"cannot create the folder for --out {out_dir}: {_reason(error)}") from None
    for _ in range(10):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise PackError(f"cannot write in {path.parent}: {_reason(error)}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _read_holder(fd)
            os.close(fd)
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise PackError(f"cannot lock {path}: {_reason(error)}") from None
            raise PackError(
                f"another fishpond run is writing {out_dir} ({_describe_holder(holder)}); "
                f"one run per output folder at a time. Wait for it to finish (its lock is "
                f"{path})"
            ) from None
        try:
            same_file = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same_file = False
        if not same_file:  # the holder finished and removed the file meanwhile: try again
            os.close(fd)
            continue
        previous = _read_holder(fd)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds"),
            "run_id": run_id,
            "command": " ".join(sys.argv),
        }
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(holder, ensure_ascii=False).encode("utf-8"))
        except OSError as error:
            PackLock(path, fd).release()
            raise PackError(f"cannot write the lock file {path}: {_reason(error)}") from None
        notice = None
        if previous:
            notice = (
                f"took over a stale lock on {out_dir} ({_describe_holder(previous)}; that run "
                "is no longer running)"
            )
        return PackLock(path, fd, notice)
    raise PackError(f"could not lock {path}: it keeps changing; is another run starting?")


def _reason(error: OSError) -> str:
    if error.errno == errno.ENOSPC:
        return "no space left on the device"
    return error.strerror or str(error)


# --------------------------------------------------------------------------------------------
# Build folders and the swap
# --------------------------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (on this host)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def new_build_dir(out_dir: Path) -> Path:
    """Create the hidden sibling folder a pack is built in (``.<name>.tmp-<pid>-<id>``)."""
    build_dir = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    try:
        (build_dir / "artifacts").mkdir(parents=True)
        (build_dir / "executed").mkdir()
    except OSError as error:
        shutil.rmtree(build_dir, ignore_errors=True)
        raise PackError(
            f"cannot create the pack folder beside {out_dir}: {_reason(error)}"
        ) from None
    return build_dir


def remove_stale_builds(out_dir: Path) -> list[str]:
    """Clean up after runs that died; return notices of what was done.

    Build folders of dead runs are deleted. A pack that a dead run had set aside while
    swapping (``.<name>.old-<pid>-<id>``) is put back when the month folder is missing, so a
    kill between the two renames never loses the good pack.
    """
    notices = []
    pattern = re.compile(rf"^\.{re.escape(out_dir.name)}(\.failed)?\.(tmp|old)-(\d+)-")
    for folder in sorted(out_dir.parent.glob(f".{out_dir.name}*")):
        match = pattern.match(folder.name)
        if not match or not folder.is_dir() or pid_alive(int(match.group(3))):
            continue
        target = out_dir.with_name(out_dir.name + (match.group(1) or ""))
        if match.group(2) == "old" and not target.exists() and is_pack(folder):
            os.replace(folder, target)
            notices.append(f"restored the pack {target} that an interrupted run had set aside")
            continue
        shutil.rmtree(folder, ignore_errors=True)
    return notices


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False when not supported here."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    result = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def place_pack(build_dir: Path, out_dir: Path, ok: bool) -> Path:
    """Move a finished pack into place; return where it ended up.

    A good run replaces the month folder and removes a stale ``.failed`` pack. A failed run
    goes to ``<month>.failed`` when a good pack holds the month, otherwise it takes the
    month's place so the failure is visible.
    """
    failed_dir = out_dir.with_name(out_dir.name + ".failed")
    if ok or not (out_dir.exists() and pack_was_ok(out_dir)):
        target = out_dir
    else:
        target = failed_dir
    if target.exists() and exchange(build_dir, target):
        shutil.rmtree(build_dir, ignore_errors=True)  # now holds the replaced pack
    elif target.exists():
        aside = target.with_name(f".{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        os.replace(target, aside)
        os.replace(build_dir, target)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(build_dir, target)
    if ok and failed_dir.exists():
        shutil.rmtree(failed_dir, ignore_errors=True)
    return target


def describe_error(error: BaseException) -> str:
    """One line for a run that could not finish its pack (disk full named as such)."""
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        where = f" while writing {error.filename}" if error.filename else ""
        return f"no space left on the device{where}"
    return _first_line(f"{type(error).__name__}: {error}") or type(error).__name__


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")
