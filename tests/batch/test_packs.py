"""The pack guard, the lock, the free-space check and the swap (helpers.batch.packs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers.batch import packs


def _pack(folder, month="2026-10", spec="/data/dataset.yaml", name="bank", ok=True):
    folder.mkdir(parents=True)
    manifest = {"ok": ok, "month": month, "dataset": {"spec": spec, "name": name}}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (folder / "index.html").write_text(f"<p>{month}</p>", encoding="utf-8")
    return folder


def test_guard_names_the_other_month_and_dataset(tmp_path):
    pack = _pack(tmp_path / "2026-10")
    packs.check_same_pack(pack, "2026-10", "/data/dataset.yaml", "bank")  # same: fine
    with pytest.raises(
        packs.PackError, match=r"another month: .*month 2026-10 \(this run: 2026-09\)"
    ):
        packs.check_same_pack(pack, "2026-09", "/data/dataset.yaml", "bank")
    with pytest.raises(packs.PackError, match=r"another dataset: .*/data/dataset\.yaml \(this run"):
        packs.check_same_pack(pack, "2026-10", "/other/dataset.yaml", "bank")
    with pytest.raises(packs.PackError, match=r"dataset name 'bank' \(this run: 'shop'\)"):
        packs.check_same_pack(pack, "2026-10", "/data/dataset.yaml", "shop")
    packs.check_same_pack(pack, "2026-10", "/data/dataset.yaml", None)  # name unknown yet
    packs.check_same_pack(tmp_path / "nothing", "2026-09", "/x", "y")  # no pack: fine


def test_out_folder_shapes(tmp_path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(packs.PackError, match="is a file, not a folder"):
        packs.check_out_folder(tmp_path / "file")
    with pytest.raises(packs.PackError, match=r"file is a file, not a folder"):
        packs.check_out_folder(tmp_path / "file" / "2026-10")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(packs.PackError, match="not a Fishpond report pack"):
        packs.check_out_folder(tmp_path / "mine")
    packs.check_out_folder(tmp_path / "new" / "2026-10")  # missing: created later


def test_lock_is_exclusive_names_its_holder_and_is_removed(tmp_path):
    out = tmp_path / "2026-10"
    with packs.acquire_lock(out, "run-1") as lock:
        assert lock.notice is None
        holder = json.loads(packs.lock_path(out).read_text(encoding="utf-8"))
        assert holder["pid"] == os.getpid() and holder["run_id"] == "run-1"
        with pytest.raises(packs.PackError, match=rf"another fishpond run .*pid {os.getpid()}"):
            packs.acquire_lock(out, "run-2")
    assert not packs.lock_path(out).exists()
    packs.acquire_lock(out, "run-3").release()  # free again


def test_a_lock_held_by_another_process_is_refused_and_a_dead_ones_taken_over(tmp_path):
    out = tmp_path / "2026-10"
    # packs.py needs only the standard library: load it alone (importing helpers.batch pulls
    # in nbconvert and papermill, seconds on a busy machine).
    script = (
        "import importlib.util, sys; from pathlib import Path;"
        f"spec = importlib.util.spec_from_file_location('packs', {packs.__file__!r});"
        "packs = sys.modules['packs'] = importlib.util.module_from_spec(spec);"
        "spec.loader.exec_module(packs);"
        f"lock = packs.acquire_lock(Path({str(out)!r}), 'other'); print('held', flush=True);"
        "sys.stdin.readline()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(packs.PackError, match=rf"pid {holder.pid}, started "):
            packs.acquire_lock(out, "mine")
    finally:
        holder.kill()  # like kill -9: no clean-up, the lock file stays
        holder.wait()
    assert packs.lock_path(out).exists()
    with packs.acquire_lock(out, "mine") as lock:
        assert f"pid {holder.pid}" in lock.notice and "no longer running" in lock.notice


def test_free_space_needed_grows_with_the_previous_pack(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    pack = _pack(tmp_path / "2026-10")
    (pack / "big.bin").write_bytes(b"\0" * 4096)
    monkeypatch.setattr(packs, "MIN_FREE_BYTES", 1000)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(0, 0, 5000))
    with pytest.raises(packs.PackError, match="not enough free disk space"):
        packs.check_free_space(pack)  # 4 KB pack x 1.5 > 5000 bytes free
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(0, 0, 10_000))
    packs.check_free_space(pack)


def test_place_pack_swaps_in_one_step_and_keeps_a_good_pack_from_a_failure(tmp_path):
    out = _pack(tmp_path / "2026-10", name="old")
    build = _pack(tmp_path / ".2026-10.tmp-1-abc", name="new")
    assert packs.place_pack(build, out, ok=True) == out
    assert json.loads((out / "manifest.json").read_text())["dataset"]["name"] == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-10"]
    failed = _pack(tmp_path / ".2026-10.tmp-2-abc", name="broken", ok=False)
    assert packs.place_pack(failed, out, ok=False) == tmp_path / "2026-10.failed"
    assert json.loads((out / "manifest.json").read_text())["dataset"]["name"] == "new"


def test_exchange_swaps_two_folders(tmp_path):
    first, second = _pack(tmp_path / "a", "2026-01"), _pack(tmp_path / "b", "2026-02")
    if not packs.exchange(first, second):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available on this file system")
    assert "2026-02" in (first / "index.html").read_text()
    assert "2026-01" in (second / "index.html").read_text()


def test_a_pack_set_aside_by_a_dead_run_is_put_back(tmp_path):
    out = tmp_path / "2026-10"
    aside = _pack(tmp_path / ".2026-10.old-999999999-abcdef")
    notices = packs.remove_stale_builds(out)
    assert not aside.exists() and (out / "manifest.json").exists()
    assert notices and "restored the pack" in notices[0]
