"""The stage cache: complete entries only, atomic stores, concurrent writers of one key, one
computation per key (a lock that a killed holder does not leave behind, a wait that names the
holder and ends), day-old temporaries cleaned, a full disk named."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from latentgraph.atomic import DiskFullError, atomic_target, read_json, write_json
from latentgraph.runtime.cache.store import (
    COMPLETE,
    STALE_TEMPORARY_AGE_S,
    LockTimeoutError,
    StageCache,
    remove_stale_temporaries,
    stage_key,
)


def test_store_then_lookup(tmp_path):
    cache = StageCache(tmp_path)
    assert cache.lookup("wae", "k1") is None
    with cache.store("wae", "k1") as entry:
        (entry / "model.ckpt").write_bytes(b"weights")
    found = cache.lookup("wae", "k1")
    assert found is not None and (found / "model.ckpt").read_bytes() == b"weights" and (found / COMPLETE).is_file()
    assert not [p for p in (tmp_path / "wae").iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_failed_store_leaves_nothing_and_an_unmarked_entry_is_not_trusted(tmp_path):
    cache = StageCache(tmp_path)
    with pytest.raises(RuntimeError):
        with cache.store("perturbation", "k") as entry:
            (entry / "result.npz").write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert cache.lookup("perturbation", "k") is None and list((tmp_path / "perturbation").iterdir()) == []
    (tmp_path / "perturbation" / "k").mkdir()  # e.g. copied by hand, without the marker
    assert cache.lookup("perturbation", "k") is None


def test_two_writers_of_one_key_both_finish_with_one_entry(tmp_path):
    cache = StageCache(tmp_path)
    inside, errors = threading.Barrier(2), []

    def writer(payload: bytes) -> None:
        try:
            with cache.store("wae", "same") as entry:
                (entry / "model.ckpt").write_bytes(payload)
                inside.wait(timeout=10)  # both are mid-write at once
        except Exception as error:  # noqa: BLE001 - the test reports any
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(b"same bytes",)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (cache.lookup("wae", "same") / "model.ckpt").read_bytes() == b"same bytes"
    assert [p.name for p in (tmp_path / "wae").iterdir()] == ["same"]


HOLDER = """
import sys, time
from pathlib import Path
from latentgraph.runtime.cache.store import StageCache
cache = StageCache(sys.argv[1])
with cache.claim("wae", "k") as hit:
    assert hit is None
    Path(sys.argv[2]).write_text("holding")
    time.sleep(float(sys.argv[3]))
    with cache.store("wae", "k") as entry:
        (entry / "model.ckpt").write_bytes(b"the holder's weights")
"""


def start_holder(tmp_path, seconds: float) -> subprocess.Popen:
    """A process that claims key ``k``, says so in a file, holds it ``seconds``, then stores it."""
    ready = tmp_path / "holding"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "cache"), str(ready), str(seconds)])
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert holder.poll() is None and time.monotonic() < deadline, "the holder never claimed the key"
        time.sleep(0.05)
    return holder


def claim_in_thread(cache: StageCache) -> list:
    """Claim ``k`` in a thread (a test must not hang on a lock that never frees); [hit] once it returns."""
    got: list = []

    def claim() -> None:
        with cache.claim("wae", "k") as hit:
            got.append(hit)

    thread = threading.Thread(target=claim, daemon=True)
    thread.start()
    thread.join(timeout=60)
    return got


def test_a_job_that_finds_its_key_being_computed_waits_and_reuses_the_entry(tmp_path):
    holder = start_holder(tmp_path, seconds=1.5)
    got = claim_in_thread(StageCache(tmp_path / "cache"))
    assert holder.wait(timeout=60) == 0
    assert len(got) == 1 and got[0] is not None  # it waited for the holder, then found the entry
    assert (got[0] / "model.ckpt").read_bytes() == b"the holder's weights"


def test_a_lock_left_by_a_killed_job_is_recovered(tmp_path):
    holder = start_holder(tmp_path, seconds=600)
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(timeout=60) == -signal.SIGKILL
    got = claim_in_thread(StageCache(tmp_path / "cache"))
    assert got == [None]  # the lock died with its holder; nothing was stored, so this job computes it


def test_keys_are_stable_and_order_free():
    assert stage_key({"a": 1, "b": [1, 2]}) == stage_key({"b": [1, 2], "a": 1})
    assert stage_key({"a": 1}) != stage_key({"a": 2})


def test_keys_follow_upstream_settings_only():
    from conftest import settings_for

    from latentgraph.runtime.cache.keys import wae_key

    base = wae_key(settings_for())
    same = [
        "graph.alpha=0.01",
        "predictor.seeds=3",
        "trainer.enable_progress_bar=false",
        "logger=csv_only",
        "perturbation.n_base=64",
        "model.folded_decode=false",  # decodes the same to float tolerance; trains the same
        "trainer.enable_model_summary=false",
        "trainer.check_val_every_n_epoch=1",  # without early stopping validation does not touch the fit
        "trainer.check_val_every_n_epoch=3",
        "trainer.limit_val_batches=0.5",
    ]
    for override in same:
        assert wae_key(settings_for(override)) == base, override
    for override in [
        "model.latent_dim=64",
        "data.split_seed=1",
        "trainer.max_epochs=3",
        "seed=1",
        "data.bucket_by_length=true",
        "model.recurrence=nn",  # the same function, another float order: another fit
    ]:
        assert wae_key(settings_for(override)) != base, override
    # with early stopping the validation loop decides where the fit ends, so its settings count
    stopping = wae_key(settings_for("callbacks.early_stopping.enabled=true"))
    for override in ["trainer.check_val_every_n_epoch=1", "trainer.limit_val_batches=0.5"]:
        assert wae_key(settings_for("callbacks.early_stopping.enabled=true", override)) != stopping, override


def test_unfinished_fits_are_listed_until_cleared(tmp_path):
    cache = StageCache(tmp_path / "stages")
    first, second = tmp_path / "a" / "last.ckpt", tmp_path / "b" / "last.ckpt"
    cache.mark_unfinished("wae", "k", first)
    cache.mark_unfinished("wae", "k", second)
    assert cache.unfinished_checkpoints("wae", "k") == []  # neither fit has saved yet
    second.parent.mkdir()
    second.write_bytes(b"x")
    assert cache.unfinished_checkpoints("wae", "k") == [second.resolve()]
    first.parent.mkdir()
    first.write_bytes(b"x")
    assert cache.unfinished_checkpoints("wae", "k") == [first.resolve(), second.resolve()]
    assert cache.unfinished_checkpoints("wae", "other") == []
    cache.clear_unfinished("wae", "k")
    assert cache.unfinished_checkpoints("wae", "k") == []


def test_a_cached_fit_from_other_code_is_named_stale():
    import torch

    from latentgraph.runtime.cache.keys import WAE_FIT_REVISION, fit_provenance, stale_fit_warning

    now = fit_provenance()
    assert now["fit_revision"] == WAE_FIT_REVISION and now["torch"] == torch.__version__
    assert stale_fit_warning(now) is None
    older = {**now, "fit_revision": WAE_FIT_REVISION - 1}
    assert f"revision {WAE_FIT_REVISION - 1} (this code: {WAE_FIT_REVISION})" in stale_fit_warning(older)
    other_torch = {**now, "torch": "1.0.0"}
    assert stale_fit_warning(other_torch) == f"it was fitted with torch 1.0.0 (this one: {torch.__version__})"
    assert " and torch 1.0.0" in stale_fit_warning({**older, "torch": "1.0.0"})


def test_stereochemistry_is_part_of_the_fit():
    from conftest import settings_for

    from latentgraph.runtime.cache.keys import data_settings, wae_key

    molecules = settings_for("domain=molecules")
    stripped = settings_for("domain=molecules", "data.stereo=strip")
    assert data_settings(molecules)["stereo"] == "keep" and data_settings(stripped)["stereo"] == "strip"
    assert wae_key(stripped) != wae_key(molecules)


def test_a_waiting_job_names_the_holder_and_stops_when_the_lock_timeout_expires(tmp_path, caplog):
    holder = start_holder(tmp_path, seconds=600)
    try:
        cache = StageCache(tmp_path / "cache", lock_timeout_s=0.5)
        with caplog.at_level("INFO", logger="latentgraph.runtime.cache"):
            with pytest.raises(LockTimeoutError) as raised:
                with cache.claim("wae", "k"):
                    pytest.fail("the lock was taken while its holder held it")
    finally:
        holder.kill()
        holder.wait(timeout=60)
    message = str(raised.value)
    assert f"pid {holder.pid}" in message and "stage wae, key k" in message and "paths.lock_timeout_s" in message
    assert f"pid {holder.pid}" in caplog.text and "waiting up to 0.5 s" in caplog.text  # said once, before the wait
    assert claim_in_thread(StageCache(tmp_path / "cache", lock_timeout_s=0.5)) == [None]  # the holder died: free


def test_day_old_temporaries_of_killed_writers_are_removed_and_nothing_else(tmp_path):
    cache = StageCache(tmp_path / "stages")
    with cache.store("wae", "done") as entry:
        (entry / "model.ckpt").write_bytes(b"weights")
    old_folder = tmp_path / "stages" / "wae" / ".k1.abc.tmp"  # a store() killed mid-write
    old_file = tmp_path / "classifiers" / ".amp-k.ckpt.xyz.tmp"  # an atomic write killed mid-write
    fresh = tmp_path / "stages" / "wae" / ".k2.def.tmp"  # a writer at work now
    for folder in (old_folder, fresh):
        folder.mkdir(parents=True)
        (folder / "model.ckpt").write_bytes(b"half")
    old_file.parent.mkdir()
    old_file.write_bytes(b"half")
    day_and_a_bit = time.time() - STALE_TEMPORARY_AGE_S - 60
    for path in (old_folder, old_file):
        os.utime(path, (day_and_a_bit, day_and_a_bit))
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([old_folder, old_file])
    assert not old_folder.exists() and not old_file.exists() and fresh.is_dir()
    assert (cache.lookup("wae", "done") / "model.ckpt").read_bytes() == b"weights"
    assert remove_stale_temporaries(tmp_path / "no such cache") == []


def test_a_full_disk_during_a_store_is_named_and_earlier_entries_stay_whole(tmp_path):
    cache = StageCache(tmp_path)
    with cache.store("perturbation", "earlier") as entry:
        (entry / "result.npz").write_bytes(b"complete")
    with pytest.raises(DiskFullError) as raised:
        with cache.store("perturbation", "next") as entry:
            (entry / "result.npz").write_bytes(b"ha")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert raised.value.errno == errno.ENOSPC and str(tmp_path / "perturbation" / "next") in str(raised.value)
    assert cache.lookup("perturbation", "next") is None
    assert [p.name for p in (tmp_path / "perturbation").iterdir()] == ["earlier"]  # no temporary left
    assert (cache.lookup("perturbation", "earlier") / "result.npz").read_bytes() == b"complete"


def test_a_full_disk_during_an_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = write_json(tmp_path / "metrics" / "summary.json", {"old": 1})

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DiskFullError, match=f"while writing {path}"):
        write_json(path, {"new": 2})
    assert read_json(path) == {"old": 1} and os.listdir(path.parent) == ["summary.json"]
    with pytest.raises(OSError) as other:  # any other failure is not called a full disk
        with atomic_target(path):
            raise OSError(errno.EACCES, "Permission denied")
    assert not isinstance(other.value, DiskFullError)


def test_a_full_disk_ends_the_run_with_status_1_naming_the_file(tmp_path):
    """Every atomic write fails as on a full disk: the run stops at its first file, one line, no traceback."""
    full = (
        "import errno, os, sys\n"
        "def full(fd): raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "os.fsync = full\n"
        "import latentgraph.cli.main as app\n"
        "app.entry()\n"
    )
    command = [sys.executable, "-c", full, "experiment=smoke", "logger=csv_only", f"hydra.run.dir={tmp_path / 'run'}"]
    env = {**os.environ, "LATENTGRAPH_CACHE": str(tmp_path / "cache"), "HYDRA_FULL_ERROR": "0"}
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "latentgraph: error: no space left on the device while writing " + str(tmp_path / "run") in result.stderr
    assert "Traceback" not in result.stderr
