"""The pre-trained WAE members the package ships, and when a run may use them (docs/method.md §3b).

Five peptide WAEs, fitted by this project's own code at the default settings on the default corpus
(``scripts/train_members.py``), with the seeds that docs/analysis-plan.md named before any of them
was fitted (100–104). Weights are stored in float16 and loaded into float32, so every machine
holds the same model. ``pretrained_members/members.json`` records each member's provenance: the
code revision that exported it, its settings and stage-cache key, its seed, its held-out token
accuracy and its file's SHA-256; ``corpus_sha256.bin`` holds the SHA-256 of every corpus
sequence it was fitted on (sorted, 32 bytes each).

A member serves a run only where that is honest: none of the run's OOD sequences may be in its
corpus, and its alphabet and ``max_len`` must fit the run's data. The default corpus holds
ACPvsTM, for example, so no member serves ``data=acp``, whose OOD set that is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from latentgraph.atomic import atomic_target, atomic_write_bytes, atomic_write_text
from latentgraph.data.alphabet import PAD
from latentgraph.models.wae import SequenceWAE, reconstruction_accuracy

MEMBERS_DIR = Path(__file__).with_name("pretrained_members")
MANIFEST = "members.json"
CORPUS_DIGESTS = "corpus_sha256.bin"
DIGEST_BYTES = 32
# the fit's logged val/token_acc averages its batches by rows, so it reads about 0.01 higher
HELD_OUT_MEASURE = (
    "greedy decodes of the posterior means, float32, pooled over every token of the corpus's validation split"
)


class BrokenInstall(RuntimeError):
    """A shipped file that is missing or does not match the hash recorded for it: the package is
    damaged, which is not the user's input (the command line exits with status 1)."""

    def __init__(self, path: Path, problem: str):
        self.path = path
        super().__init__(f"broken install: {path} {problem}; reinstall latentgraph")


@dataclass(frozen=True)
class ShippedMember:
    """One shipped WAE: its seed, weights file, the file's SHA-256 and its provenance record."""

    seed: int
    path: Path
    sha256: str
    provenance: dict

    @property
    def token_accuracy(self) -> float:
        """Held-out greedy token accuracy of the shipped (float16-stored) weights, in float32."""
        return float(self.provenance["held_out"]["token_acc"])


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sequence_digest(sequence: str) -> bytes:
    """The SHA-256 of one sequence (UTF-8), as stored in ``corpus_sha256.bin``."""
    return hashlib.sha256(sequence.encode()).digest()


def manifest(folder: Path = MEMBERS_DIR) -> dict:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise BrokenInstall(path, "is missing")
    return json.loads(path.read_text())


def shipped_members(folder: Path = MEMBERS_DIR, record: dict | None = None) -> list[ShippedMember]:
    """The shipped members in seed order, as the manifest (``record``, read if not given) records
    them (files not yet verified)."""
    record = manifest(folder) if record is None else record
    return [
        ShippedMember(int(entry["seed"]), Path(folder) / entry["file"], entry["sha256"], entry)
        for entry in sorted(record["members"], key=lambda entry: int(entry["seed"]))
    ]


def verify(folder: Path = MEMBERS_DIR) -> list[ShippedMember]:
    """The members, after checking every shipped file (weights and corpus digests) against its
    recorded SHA-256. Raises :class:`BrokenInstall` naming the first file that fails."""
    record = manifest(folder)
    expected = {Path(folder) / entry["file"]: entry["sha256"] for entry in record["members"]}
    expected[Path(folder) / CORPUS_DIGESTS] = record["corpus"]["sha256"]
    for path, digest in expected.items():
        if not path.is_file():
            raise BrokenInstall(path, "is missing")
        if sha256_of(path) != digest:
            raise BrokenInstall(path, f"does not match its recorded SHA-256 ({digest[:12]}…)")
    return shipped_members(folder, record)


def save_member(model: SequenceWAE, path: Path) -> None:
    """Write ``model``'s settings and its weights in float16 (what the package ships)."""
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    with atomic_target(path) as tmp:
        torch.save({"hyper_parameters": dict(model.hparams), "state_dict": state}, tmp)


def write_manifest(folder: Path, entries: list[dict], settings: dict, corpus: list[str], **record) -> dict:
    """Write ``corpus_sha256.bin`` (the digests of ``corpus``) and ``members.json`` into ``folder``,
    beside member files :func:`save_member` wrote there. Each of ``entries`` names its ``seed`` and
    ``file`` (and any provenance); its file's SHA-256 is added here. ``settings`` is the recipe
    (``alphabet``, ``max_len``, ``data``, ``model``, ``trainer``); ``record`` adds top-level fields."""
    folder = Path(folder)
    digests = corpus_digest_bytes(corpus)
    atomic_write_bytes(folder / CORPUS_DIGESTS, digests)
    manifest_record = {
        **record,
        "settings": settings,
        "corpus": {"sequences": len(digests) // DIGEST_BYTES, "sha256": sha256_of(folder / CORPUS_DIGESTS)},
        "members": [{**entry, "sha256": sha256_of(folder / entry["file"])} for entry in entries],
    }
    atomic_write_text(folder / MANIFEST, json.dumps(manifest_record, indent=1, default=str) + "\n")
    return manifest_record


def load_member(member: ShippedMember) -> SequenceWAE:
    """The member's WAE in float32 and eval mode."""
    return load_weights(member.path)


def load_weights(path: Path) -> SequenceWAE:
    """A file :func:`save_member` wrote, as a float32 WAE in eval mode (no pickled code runs:
    ``weights_only``)."""
    stored = torch.load(path, map_location="cpu", weights_only=True)
    model = SequenceWAE(**stored["hyper_parameters"])
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in stored["state_dict"].items()})
    return model.eval()


def corpus_digests(folder: Path = MEMBERS_DIR) -> set[bytes]:
    raw = (Path(folder) / CORPUS_DIGESTS).read_bytes()
    return {raw[i : i + DIGEST_BYTES] for i in range(0, len(raw), DIGEST_BYTES)}


def corpus_digest_bytes(sequences: list[str]) -> bytes:
    """The sorted SHA-256 digests of ``sequences`` (distinct), concatenated: ``corpus_sha256.bin``."""
    return b"".join(sorted({sequence_digest(s) for s in sequences}))


def recipe_differences(recorded: dict, run: dict, ignored: dict[str, set[str]]) -> list[tuple[str, object, object]]:
    """The ``model.*`` and ``trainer.*`` settings in which a run's recipe (``run``: section → key →
    value) differs from the members' recorded one: (full key, the members' value, the run's);
    ``ignored`` names, per section, the settings that are not the recipe (hardware, display)."""
    return [
        (f"{section}.{key}", value, run.get(section, {}).get(key))
        for section in ("model", "trainer")
        for key, value in recorded.get(section, {}).items()
        if key not in ignored[section] and run.get(section, {}).get(key) != value
    ]


def describe_difference(key: str, shipped: object, run: object) -> str:
    return f"{key}: {shipped!r} in the shipped members, {run!r} in this run"


def why_not_served(
    ood_sets: dict[str, list[str]],
    alphabet: str,
    max_len: int,
    folder: Path = MEMBERS_DIR,
    *,
    corpus: list[str] | None = None,
    differences: list[tuple[str, object, object]] = (),
) -> str | None:
    """Why the shipped members may not serve a run with these OOD sets, alphabet and ``max_len``
    (``None``: they may). A member whose corpus holds an OOD sequence has seen that test set.

    With ``corpus`` (the run's corpus sequences) and ``differences`` (:func:`recipe_differences`
    of its settings), the members must also have been fitted on that very corpus, by that recipe:
    only then are they fits of the method the run's own fit is one of."""
    record = manifest(folder)
    settings = record["settings"]
    reasons = []
    if corpus is not None and hashlib.sha256(corpus_digest_bytes(corpus)).hexdigest() != record["corpus"]["sha256"]:
        reasons.append(
            f"they were fitted on another corpus ({record['corpus']['sequences']} sequences; this run's has "
            f"{len(set(corpus))})"
        )
    if differences:
        shown = "; ".join(describe_difference(*d) for d in differences[:3]) + (
            f" (and {len(differences) - 3} more)" if len(differences) > 3 else ""
        )
        reasons.append(f"they were fitted with other settings: {shown}")
    if settings["alphabet"] != alphabet:
        reasons.append(f"they model the alphabet {settings['alphabet']!r}, this run's data is {alphabet!r}")
    if int(settings["max_len"]) < max_len:
        reasons.append(f"they take sequences up to {settings['max_len']} long, this run's data.max_len is {max_len}")
    corpus = corpus_digests(folder)
    for name, sequences in ood_sets.items():
        distinct = set(sequences)
        seen = sum(sequence_digest(s) in corpus for s in distinct)
        if seen:
            reasons.append(f"their corpus holds {seen} of the {len(distinct)} sequences of the OOD set {name}")
    return "; ".join(reasons) or None


def held_out_accuracy(model: SequenceWAE, sequences: list[str], batch_size: int = 512) -> dict[str, float]:
    """Greedy token accuracy and exact match of ``model`` on ``sequences``, in float32 (as the
    fit's validation measures them), weighted by each batch's tokens and rows."""
    hits = tokens = exact = 0.0
    with torch.no_grad():
        for start in range(0, len(sequences), batch_size):
            batch = model.alphabet.tokenize(sequences[start : start + batch_size], model.max_len)
            decoded = model.generate(model.encode_tokens(batch)[0], sample=False)
            accuracy, matched = reconstruction_accuracy(batch[:, 1:], decoded)
            weight = float((batch[:, 1:] != PAD).sum())
            hits, tokens, exact = hits + float(accuracy) * weight, tokens + weight, exact + float(matched) * len(batch)
    return {"token_acc": hits / max(tokens, 1.0), "exact_match": exact / max(len(sequences), 1), "n": len(sequences)}
