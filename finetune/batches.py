"""Rows to token batches with the prompt masked, and the response-only loss.

Shared by the CPU trainer and the held-out evaluation, so both compute the same loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

IGNORE = -100  # label of a token the loss skips (the prompt, the padding)


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]

    @property
    def completion_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def encode(tokenizer, row: dict, max_tokens: int = 1024) -> Encoded:
    """Token ids of prompt + completion, labels masking the prompt with -100.

    The whole text is tokenized at once (as at inference); the prompt's own tokenization
    marks where the answer starts. Too long, the prompt is cut from the left: the answer
    and the question right before it are what matter.
    """
    prompt = tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]
    full = tokenizer(row["prompt"] + row["completion"], add_special_tokens=False)["input_ids"]
    if full[: len(prompt)] != prompt:  # the boundary merged into one token: tokenize apart
        full = prompt + tokenizer(row["completion"], add_special_tokens=False)["input_ids"]
    labels = [IGNORE] * len(prompt) + full[len(prompt) :]
    if len(full) > max_tokens:
        full, labels = full[-max_tokens:], labels[-max_tokens:]
    return Encoded(full, labels)


def collate(batch: Sequence[Encoded], pad_id: int):
    """Right-padded tensors: input_ids, attention_mask, labels."""
    import torch

    width = max(len(item.input_ids) for item in batch)
    ids, mask, labels = [], [], []
    for item in batch:
        pad = width - len(item.input_ids)
        ids.append(item.input_ids + [pad_id] * pad)
        mask.append([1] * len(item.input_ids) + [0] * pad)
        labels.append(item.labels + [IGNORE] * pad)
    return torch.tensor(ids), torch.tensor(mask), torch.tensor(labels)


def _plain_head(model) -> bool:
    """Whether logits are just `lm_head(hidden)` (no soft-capping or scaling after it)."""
    config = model.config
    return not any(
        getattr(config, name, None) not in (None, 1.0)
        for name in ("final_logit_softcapping", "logit_scale", "logits_scaling")
    )


def _answer_logits(model, input_ids, attention_mask, labels):
    """Logits at the labelled positions, their target tokens, and the mask that chose them.

    Logits are computed only where a label is: on short answers after long prompts this
    skips most of the vocabulary projection, the largest single matmul of a small model.
    `model` is a causal LM (a PEFT wrapper is unwrapped to it).
    """
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    targets = labels[:, 1:]
    keep = targets != IGNORE
    if _plain_head(inner):
        hidden = inner.get_decoder()(input_ids=input_ids, attention_mask=attention_mask)[0]
        logits = inner.get_output_embeddings()(hidden[:, :-1][keep])
    else:
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1][keep]
    return logits.float(), targets[keep], keep


def batch_loss(model, input_ids, attention_mask, labels):
    """Sum of token losses over the labelled positions, and how many there are."""
    import torch.nn.functional as F

    logits, targets, keep = _answer_logits(model, input_ids, attention_mask, labels)
    return F.cross_entropy(logits, targets, reduction="sum"), int(keep.sum())


def mean_loss(model, encoded: Sequence[Encoded], pad_id: int, batch_size: int = 8) -> float | None:
    """Mean response-token loss of `model` over `encoded` (None when there is nothing)."""
    import torch

    if not encoded:
        return None
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            batch = collate(encoded[start : start + batch_size], pad_id)
            loss, n = batch_loss(model, *(t.to(device) for t in batch))
            total += float(loss)
            count += n
    model.train(was_training)
    return total / count if count else None


@dataclass
class RowScore:
    """How well a model predicts one row's answer, teacher-forced.

    `greedy`: every answer token is the model's most likely next token, so greedy decoding
    writes exactly this answer. `worst`: the largest single token loss (nats).
    """

    loss_sum: float
    tokens: int
    greedy: bool
    worst: float

    @property
    def loss(self) -> float | None:
        return self.loss_sum / self.tokens if self.tokens else None


def row_scores(
    model, encoded: Sequence[Encoded], pad_id: int, batch_size: int = 8
) -> list[RowScore]:
    """A `RowScore` per row of `encoded`, in order (rows without answer tokens score 0)."""
    import torch
    import torch.nn.functional as F

    scores: list[RowScore] = []
    # Rows of like length batched together: less padding to compute.
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            batch = collate([encoded[i] for i in order[start : start + batch_size]], pad_id)
            logits, targets, keep = _answer_logits(model, *(t.to(device) for t in batch))
            losses = F.cross_entropy(logits, targets, reduction="none")
            hits = logits.argmax(-1) == targets
            owner = keep.nonzero()[:, 0]  # the batch row of each labelled position
            for row in range(keep.shape[0]):
                mine = owner == row
                count = int(mine.sum())
                mine_losses = losses[mine]
                scores.append(
                    RowScore(
                        loss_sum=float(mine_losses.sum()),
                        tokens=count,
                        greedy=bool(hits[mine].all()) if count else False,
                        worst=float(mine_losses.max()) if count else 0.0,
                    )
                )
    model.train(was_training)
    by_row = dict(zip(order, scores, strict=True))
    return [by_row[i] for i in range(len(order))]


def pooled_loss(scores: Sequence[RowScore]) -> float | None:
    """Mean token loss over several rows (each token counts once, as in `mean_loss`)."""
    tokens = sum(score.tokens for score in scores)
    return sum(score.loss_sum for score in scores) / tokens if tokens else None
