"""The shipped pre-trained WAE members: every file matches its recorded hash, a damaged install is
named, and members serve only runs whose OOD sets their corpus does not hold (docs/method.md §3b)."""

from __future__ import annotations

import shutil

import pytest
import torch

from latentgraph.data.sources import iter_modlamp
from latentgraph.models import pretrained

PLANNED_SEEDS = [100, 101, 102, 103, 104]  # docs/analysis-plan.md names them before any was fitted


def test_every_shipped_file_matches_its_recorded_hash_and_the_planned_seeds():
    members = pretrained.verify()
    assert [member.seed for member in members] == PLANNED_SEEDS
    record = pretrained.manifest()
    assert record["corpus"]["sequences"] * pretrained.DIGEST_BYTES == (
        (pretrained.MEMBERS_DIR / pretrained.CORPUS_DIGESTS).stat().st_size
    )
    for member in members:
        assert member.path.stat().st_size < 2_000_000  # float16 weights: a few MB for all five
        assert member.provenance["held_out"]["n"] > 0 and 0.5 < member.token_accuracy <= 1.0
        assert member.provenance["wae_key"] and member.provenance["fit_provenance"]["fit_revision"] >= 1


def test_a_damaged_or_missing_file_is_a_broken_install_that_names_it(tmp_path):
    copy = tmp_path / "members"
    shutil.copytree(pretrained.MEMBERS_DIR, copy)
    damaged = copy / "wae-seed101.pt"
    data = bytearray(damaged.read_bytes())
    data[-100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(pretrained.BrokenInstall, match="wae-seed101.pt does not match its recorded SHA-256"):
        pretrained.verify(copy)
    shutil.copy(pretrained.MEMBERS_DIR / "wae-seed101.pt", damaged)
    assert len(pretrained.verify(copy)) == 5
    (copy / pretrained.CORPUS_DIGESTS).unlink()
    with pytest.raises(pretrained.BrokenInstall, match="corpus_sha256.bin is missing"):
        pretrained.verify(copy)


def test_a_member_loads_the_same_model_every_time():
    member = pretrained.verify()[0]
    first, second = pretrained.load_member(member), pretrained.load_member(member)
    sequences = ["GLFDIVKKVVGALGSL", "KWKLFKKIEKVGQNIRDGIIKAGPAVAVVGQATQIAK"]
    codes = first.encode(sequences)
    assert codes.dtype == torch.float32 and codes.shape == (2, first.latent_dim)
    assert torch.equal(codes, second.encode(sequences))
    assert first.decode(codes) == second.decode(codes)


def _modlamp(name: str) -> list[str]:
    return [sequence for _, sequence, _ in iter_modlamp(name)]


def test_members_serve_only_runs_whose_ood_sets_their_corpus_does_not_hold():
    # the default corpus leaves the default OOD set (AMPvsTM) out, and holds ACPvsTM (data=acp's)
    assert pretrained.why_not_served({"AMPvsTM": _modlamp("AMPvsTM")}, "peptides", 50) is None
    refused = pretrained.why_not_served({"ACPvsTM": _modlamp("ACPvsTM")}, "peptides", 50)
    assert refused is not None and "sequences of the OOD set ACPvsTM" in refused
    other = pretrained.why_not_served({}, "smiles", 80)
    assert "alphabet 'peptides'" in other and "data.max_len is 80" in other


def test_corpus_digests_are_sorted_distinct_sha256s():
    digests = pretrained.corpus_digest_bytes(["AAA", "CCC", "AAA"])
    assert len(digests) == 2 * pretrained.DIGEST_BYTES
    assert {digests[:32], digests[32:]} == {pretrained.sequence_digest("AAA"), pretrained.sequence_digest("CCC")}
    assert digests[:32] < digests[32:]
