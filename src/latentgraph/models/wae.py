"""A CLaSS-like sequence Wasserstein autoencoder (docs/method.md §3).

Encoder: token embedding → bidirectional GRU → the final forward and backward states → a linear
map to the code ``z`` (and to a log-variance when the regulariser is ``kl``). Decoder: a GRU whose
input at every step is the previous token's embedding concatenated with ``z``, with its initial
state a linear map of ``z``. Training uses teacher forcing with word dropout (decoder inputs
replaced by ``<unk>``), cross-entropy over non-pad target tokens, and ``β · regulariser`` with β
annealed linearly.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override

from latentgraph.config.choices import Recurrence
from latentgraph.config.schema import ModelConfig
from latentgraph.data.alphabet import BOS, EOS, PAD, PEPTIDES, UNK, Alphabet, get_alphabet
from latentgraph.data.records import require_valid
from latentgraph.models.folded_gru import fold_input, gru_step
from latentgraph.models.lr_schedule import learning_rate_factor
from latentgraph.models.packed_gru import bigru_last_states, gru_packed
from latentgraph.models.regularizers import beta_at, kl_standard_normal, mmd_random_features
from latentgraph.models.training_curves import EpochMeanTrainingCurves


class SequenceWAE(EpochMeanTrainingCurves):
    """GRU encoder/decoder autoencoder over padded token tensors ``[n, max_len + 2]``.

    Training logs ``train/{loss,recon,reg}_step`` and ``_epoch``, and ``train/beta``.

    All constructor arguments are primitives, so checkpoints reload with ``weights_only=True``.

    Args:
        latent_dim: size of ``z``.
        embedding_dim: token embedding size (shared by encoder and decoder).
        encoder_hidden: hidden size per direction of the BiGRU encoder.
        decoder_hidden: hidden size of the GRU decoder.
        encoder_layers, decoder_layers: GRU depths.
        word_dropout: probability of replacing a decoder input token by ``<unk>`` in training.
        regularizer: ``"mmd_rf"`` (WAE) or ``"kl"`` (VAE).
        beta, beta_start, beta_anneal_steps: the linear β schedule.
        rf_features: random Fourier features for the MMD.
        mmd_sigma: MMD kernel bandwidth; ``None`` means ``sqrt(latent_dim)``.
        lr: Adam learning rate.
        max_len: longest sequence (residues, without ``<bos>``/``<eos>``).
        decode: ``"greedy"`` or ``"sample"`` for :meth:`decode`.
        temperature: sampling temperature when ``decode="sample"``.
        prior_samples: prior draws per validation epoch for validity/uniqueness.
        positional: add learned position embeddings to encoder and decoder inputs (this
            project's choice: it lets the decoder index residues in ``z`` by position, which
            speeds up learning to reconstruct several-fold on CPU budgets).
        recurrence: how the encoder and the teacher-forced decoder run their GRUs: ``"nn"``
            (``torch.nn.GRU``, the decoder over padded batches), ``"packed"``
            (:mod:`latentgraph.models.packed_gru`: padding skipped, a hand-written backward; the
            same function to float tolerance, about twice as fast to train on CPU) or ``"auto"``
            (packed on CPU, nn elsewhere; a deeper encoder than one layer always runs nn).
            Decoding (:meth:`generate`) is unaffected.
        alphabet: the alphabet's name (``peptides``, ``selfies``, ``smiles``;
            :func:`~latentgraph.data.alphabet.get_alphabet`).
    """

    step_only_terms = ("beta",)  # the annealing schedule: no epoch mean

    def __init__(
        self,
        *,
        latent_dim: int = ModelConfig.latent_dim,
        embedding_dim: int = ModelConfig.embedding_dim,
        encoder_hidden: int = ModelConfig.encoder_hidden,
        decoder_hidden: int = ModelConfig.decoder_hidden,
        encoder_layers: int = ModelConfig.encoder_layers,
        decoder_layers: int = ModelConfig.decoder_layers,
        word_dropout: float = ModelConfig.word_dropout,
        regularizer: str = ModelConfig.regularizer.value,  # plain strings: checkpoints load with weights_only
        beta: float = ModelConfig.beta,
        beta_start: float = ModelConfig.beta_start,
        beta_anneal_steps: int = ModelConfig.beta_anneal_steps,
        rf_features: int = ModelConfig.rf_features,
        mmd_sigma: float | None = ModelConfig.mmd_sigma,
        lr: float = ModelConfig.lr,
        lr_schedule: str = ModelConfig.lr_schedule.value,
        max_len: int = ModelConfig.max_len,
        decode: str = ModelConfig.decode.value,
        temperature: float = ModelConfig.temperature,
        prior_samples: int = ModelConfig.prior_samples,
        positional: bool = ModelConfig.positional,
        folded_decode: bool = ModelConfig.folded_decode,
        recurrence: str = ModelConfig.recurrence.value,
        alphabet: str = "peptides",
    ) -> None:
        super().__init__()
        assert regularizer in ("mmd_rf", "kl"), f"regularizer must be 'mmd_rf' or 'kl', got {regularizer!r}"
        learning_rate_factor(lr_schedule, 0, 1)  # an unknown schedule fails here, not at fit time
        assert decode in ("greedy", "sample"), f"decode must be 'greedy' or 'sample', got {decode!r}"
        recurrences = [choice.value for choice in Recurrence]
        assert recurrence in recurrences, f"recurrence must be one of {recurrences}, got {recurrence!r}"
        self.alphabet: Alphabet = get_alphabet(alphabet)  # an unknown alphabet fails here, naming it
        self.save_hyperparameters(logger=False)
        self.latent_dim = latent_dim
        self.max_len = max_len
        vocab_size = self.alphabet.size
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        # position embeddings, added to the token embeddings of encoder and decoder inputs
        self.position = nn.Embedding(max_len + 2, embedding_dim) if positional else None
        self.encoder = nn.GRU(
            embedding_dim, encoder_hidden, num_layers=encoder_layers, batch_first=True, bidirectional=True
        )
        code_out = 2 * latent_dim if regularizer == "kl" else latent_dim
        self.to_code = nn.Linear(2 * encoder_hidden, code_out)
        self.to_decoder_state = nn.Linear(latent_dim, decoder_layers * decoder_hidden)
        self.decoder = nn.GRU(embedding_dim + latent_dim, decoder_hidden, num_layers=decoder_layers, batch_first=True)
        self.to_logits = nn.Linear(decoder_hidden, vocab_size)
        self._mmd_generator = torch.Generator().manual_seed(0)

    def _embed(self, tokens: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Token embeddings plus position embeddings (position ``offset`` for column 0)."""
        embedded = self.embedding(tokens)
        if self.position is None:
            return embedded
        positions = torch.arange(offset, offset + tokens.shape[1], device=tokens.device)
        return embedded + self.position(positions)[None]

    # ----------------------------------------------------------------------------- encoder
    def encode_tokens(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Codes for token rows ``[n, L]``: ``(mu, logvar)``; ``logvar`` is ``None`` for the WAE."""
        lengths = (tokens != PAD).sum(dim=1).clamp(min=1)
        if self._packed_recurrence and self.hparams.encoder_layers == 1:
            summary = bigru_last_states(self.encoder, self._embed(tokens), lengths)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(
                self._embed(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            _, hidden = self.encoder(packed)  # [layers * 2, n, h]
            summary = torch.cat([hidden[-2], hidden[-1]], dim=1)
        code = self.to_code(summary)
        if self.hparams.regularizer == "kl":
            mu, logvar = code.chunk(2, dim=1)
            return mu, logvar.clamp(-10, 10)
        return code, None

    @property
    def _packed_recurrence(self) -> bool:
        setting = self.hparams.get("recurrence", "auto")
        return setting == "packed" or (setting == "auto" and self.device.type == "cpu")

    # ----------------------------------------------------------------------------- decoder
    def _initial_state(self, z: torch.Tensor) -> torch.Tensor:
        layers, hidden = self.hparams.decoder_layers, self.hparams.decoder_hidden
        return torch.tanh(self.to_decoder_state(z)).view(-1, layers, hidden).transpose(0, 1).contiguous()

    def decoder_logits(self, z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits ``[n, T, vocab]`` for decoder input tokens ``[n, T]``."""
        embedded = self._embed(inputs)
        z_steps = z.unsqueeze(1).expand(-1, inputs.shape[1], -1)
        output, _ = self.decoder(torch.cat([embedded, z_steps], dim=2), self._initial_state(z))
        return self.to_logits(output)

    @torch.no_grad()
    def generate(
        self,
        z: torch.Tensor,
        *,
        sample: bool | None = None,
        temperature: float | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Decode codes ``[n, d]`` into tokens ``[n, max_len + 1]`` (no ``<bos>``; ``<pad>`` after ``<eos>``).

        Greedy (argmax) unless ``sample`` (default: the ``decode`` hyperparameter), which draws
        from ``softmax(logits / temperature)`` with ``generator``. With ``folded_decode`` (the
        default) the first layer's input projection is folded into tables
        (:mod:`latentgraph.models.folded_gru`) and a row stops computing once it has emitted
        ``<eos>``; its logits equal the plain GRU's to float tolerance.
        """
        sample = (self.hparams.decode == "sample") if sample is None else sample
        temperature = self.hparams.temperature if temperature is None else temperature
        decode = self._generate_folded if self.hparams.folded_decode else self._generate_plain
        return decode(z, sample, temperature, generator)

    def _next_token(
        self, logits: torch.Tensor, sample: bool, temperature: float, generator: torch.Generator | None
    ) -> torch.Tensor:
        # never emit padding, a second <bos>, or <unk> (word dropout's input-only token, which
        # detokenize would silently drop)
        logits[:, [PAD, BOS, UNK]] = -math.inf
        return self._choose(logits, sample, temperature, generator)

    @staticmethod
    def _choose(
        logits: torch.Tensor, sample: bool, temperature: float, generator: torch.Generator | None
    ) -> torch.Tensor:
        if sample:
            probs = torch.softmax(logits / temperature, dim=1)
            return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(logits.device)
        return logits.argmax(dim=1)

    def _generate_plain(
        self, z: torch.Tensor, sample: bool, temperature: float, generator: torch.Generator | None
    ) -> torch.Tensor:
        """The reference decode: ``nn.GRU`` on ``[emb(token) + pos(t); z]``, every row every step."""
        n = z.shape[0]
        steps = self.max_len + 1
        state = self._initial_state(z)
        token = torch.full((n,), BOS, dtype=torch.long, device=z.device)
        out = torch.full((n, steps), PAD, dtype=torch.long, device=z.device)
        finished = torch.zeros(n, dtype=torch.bool, device=z.device)
        z_step = z.unsqueeze(1)
        for t in range(steps):
            step_input = torch.cat([self._embed(token.unsqueeze(1), offset=t), z_step], dim=2)
            output, state = self.decoder(step_input, state)
            token = self._next_token(self.to_logits(output[:, 0]), sample, temperature, generator)
            out[:, t] = torch.where(finished, torch.full_like(token, PAD), token)
            finished |= token == EOS
            if bool(finished.all()):
                break
        return out

    def _generate_folded(
        self, z: torch.Tensor, sample: bool, temperature: float, generator: torch.Generator | None
    ) -> torch.Tensor:
        """The folded decode: table look-ups for the input gates; finished rows leave the batch.

        The output layer's bias carries ``-inf`` for the tokens never emitted, so each step's
        logits come from one ``addmm`` (the same values as :meth:`_next_token`'s masking).
        """
        steps = self.max_len + 1
        out = torch.full((z.shape[0], steps), PAD, dtype=torch.long, device=z.device)
        state = list(self._initial_state(z))  # one [n, H] per layer
        inputs = fold_input(self.decoder, self.embedding, self.position, z, steps)
        masked_bias = self.to_logits.bias.clone()
        masked_bias[[PAD, BOS, UNK]] = -math.inf
        output_weight = self.to_logits.weight.T
        rows = torch.arange(z.shape[0], device=z.device)  # the codes still decoding
        token = torch.full((z.shape[0],), BOS, dtype=torch.long, device=z.device)
        for t in range(steps):
            if len(rows) == 0:
                break
            state = gru_step(self.decoder, inputs.gates(token, t), state)
            token = self._choose(torch.addmm(masked_bias, state[-1], output_weight), sample, temperature, generator)
            out[rows, t] = token
            going = token != EOS
            if not bool(going.all()):
                rows, token = rows[going], token[going]
                state = [layer[going] for layer in state]
                inputs.code = inputs.code[going]
        return out

    # ----------------------------------------------------------------------------- sequence API
    @torch.no_grad()
    def encode(self, sequences: list[str]) -> torch.Tensor:
        """Codes ``[n, d]`` (posterior means) for sequences in the model's alphabet.

        Raises:
            DataError: a sequence that is empty, longer than ``max_len`` or holds a symbol
                outside the alphabet (for peptides: the 20 canonical residues), named with its index.
        """
        require_valid(sequences, self.max_len, what="encoded", alphabet=self.alphabet)
        tokens = self.alphabet.tokenize(sequences, self.max_len).to(self.device)
        return self.encode_tokens(tokens)[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> list[str]:
        """Sequences decoded from codes ``[n, d]`` (greedy unless configured to sample)."""
        return self.alphabet.detokenize(self.generate(z.to(self.device)))

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` codes from the prior N(0, I), on the model's device."""
        return torch.randn(n, self.latent_dim, generator=generator).to(self.device)

    # ----------------------------------------------------------------------------- training
    def reseed(self, seed: int) -> None:
        """Seed every draw of the next training step: word dropout, code noise, MMD random features."""
        torch.manual_seed(seed)
        self._mmd_generator.manual_seed(seed)

    def _code(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sampled code and regulariser value for a batch."""
        mu, logvar = self.encode_tokens(tokens)
        if logvar is None:
            sigma = self.hparams.mmd_sigma or math.sqrt(self.latent_dim)
            reg = mmd_random_features(
                mu, n_features=self.hparams.rf_features, sigma=sigma, generator=self._mmd_generator
            )
            return mu, reg
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return z, kl_standard_normal(mu, logvar)

    def _word_dropout(self, inputs: torch.Tensor) -> torch.Tensor:
        rate = self.hparams.word_dropout
        if not self.training or rate <= 0:
            return inputs
        drop = (torch.rand(inputs.shape, device=inputs.device) < rate) & (inputs != PAD) & (inputs != BOS)
        return inputs.masked_fill(drop, UNK)

    def _packed_recon(self, z: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the non-pad targets, the decoder run only up to each row's end."""
        lengths = (targets != PAD).sum(dim=1).clamp(min=1)  # targets are <eos>-terminated prefixes
        out, _ = gru_packed(self.decoder, self._embed(inputs), lengths, self._initial_state(z), code=z)
        packed_targets = nn.utils.rnn.pack_padded_sequence(
            targets, lengths.cpu(), batch_first=True, enforce_sorted=False
        ).data
        return F.cross_entropy(self.to_logits(out), packed_targets)

    def loss_terms(self, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """``loss = recon + β·reg`` for a token batch, with its parts (no logging)."""
        z, reg = self._code(tokens)
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        if self._packed_recurrence:
            recon = self._packed_recon(z, self._word_dropout(inputs), targets)
        else:
            logits = self.decoder_logits(z, self._word_dropout(inputs))
            recon = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD)
        beta = beta_at(
            self.global_step,
            beta=self.hparams.beta,
            beta_start=self.hparams.beta_start,
            anneal_steps=self.hparams.beta_anneal_steps,
        )
        return {"loss": recon + beta * reg, "recon": recon, "reg": reg, "beta": torch.tensor(beta)}

    @override
    def training_terms(self, batch: torch.Tensor, batch_idx: int) -> dict[str, torch.Tensor]:
        return self.loss_terms(batch)  # logged as train/<term>_step and _epoch (EpochMeanTrainingCurves)

    @override
    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        terms = self.loss_terms(batch)
        del terms["beta"]
        self.log_dict(
            {f"val/{k}": v for k, v in terms.items()}, on_epoch=True, prog_bar=True, batch_size=batch.shape[0]
        )
        with self._float32():  # reconstruction measured as the perturbation decodes: in float32
            mu, _ = self.encode_tokens(batch)
            decoded = self.generate(mu, sample=False)
        token_acc, exact = reconstruction_accuracy(batch[:, 1:], decoded)
        self.log_dict(
            {"val/token_acc": token_acc, "val/exact_match": exact},
            on_epoch=True,
            prog_bar=True,
            batch_size=batch.shape[0],
        )

    @override
    def on_validation_epoch_end(self) -> None:
        generator = torch.Generator().manual_seed(12345)  # same draws every epoch: comparable curves
        z = self.sample_prior(self.hparams.prior_samples, generator=generator)
        with self._float32():
            decoded = self.generate(z, sample=False)
        validity, uniqueness = prior_sample_quality(decoded, self.alphabet)
        self.log_dict({"val/prior_valid": validity, "val/prior_unique": uniqueness})

    def _float32(self) -> torch.autocast:
        """Turn off a mixed-precision fit's autocast (``trainer.precision=bf16-mixed``) inside the block."""
        return torch.autocast(device_type=self.device.type, enabled=False)

    @override
    def configure_optimizers(self) -> Any:
        # fused: one kernel over all parameters (0.4 ms a step here against 1.2 ms for foreach)
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr, fused=self.device.type in ("cpu", "cuda"))
        schedule = self.hparams.lr_schedule
        if schedule == "constant":
            return optimizer
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: learning_rate_factor(schedule, step, total)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def reconstruction_accuracy(targets: torch.Tensor, decoded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy reconstruction quality of token rows without ``<bos>``.

    ``targets`` and ``decoded`` are ``[n, T]`` (widths may differ; the narrower is padded). Token
    accuracy is the fraction of target positions up to and including ``<eos>`` where the decode
    holds the same token; exact match is the fraction of rows where every such position matches.
    """
    width = max(targets.shape[1], decoded.shape[1])  # batches may be trimmed of trailing pad columns
    targets = F.pad(targets, (0, width - targets.shape[1]), value=PAD)
    decoded = F.pad(decoded, (0, width - decoded.shape[1]), value=PAD)
    mask = targets != PAD
    hits = (decoded == targets) & mask
    token_acc = hits.sum().float() / mask.sum().clamp(min=1)
    exact = (hits.sum(dim=1) == mask.sum(dim=1)).float().mean()
    return token_acc, exact


def prior_sample_quality(decoded: torch.Tensor, alphabet: Alphabet = PEPTIDES) -> tuple[float, float]:
    """(fraction of valid decodes, fraction of valid decodes that are unique).

    Valid is :meth:`~latentgraph.data.alphabet.Alphabet.decoded_is_valid`: for molecules, a
    decode RDKit reads as a molecule.
    """
    valid = alphabet.decoded_is_valid(decoded)
    n_valid = int(valid.sum())
    if n_valid == 0:
        return 0.0, 0.0
    strings = alphabet.detokenize(decoded[valid])
    return n_valid / len(decoded), len(set(strings)) / n_valid
