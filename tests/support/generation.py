"""How tests ask the real model to generate: pinned, or perturbed as another CPU perturbs it.

llama.cpp is compiled for the host CPU and picks its kernels there, so the default model's
greedy output differs from one machine to the next (an AVX-512 machine answers the capital
of France with "Le Grand Château"). No test may depend on what the model says: a test
checks what the prompt carried, a mechanism, or text the output was constrained to.

`COVE_TEST_PERTURB=N` shows that it holds: every test that takes its sampling from here
then samples at a high temperature with a seed derived from N, so the model writes
something else, as it would on another CPU. Tests that pin generation on purpose (the
reproducibility of a seeded answer, what a trained adapter learned) use `PINNED` and are
left alone. `make test-perturbed` runs the whole suite under three such seeds.
"""

from __future__ import annotations

import os

PERTURB_ENV = "COVE_TEST_PERTURB"
PERTURBED_TEMPERATURE = 1.0

_perturb = os.environ.get(PERTURB_ENV, "").strip()
PERTURB_SEED: int | None = int(_perturb) if _perturb else None

# Generation a test pins on purpose: temperature 0 and a fixed seed on every run.
PINNED = {"temperature": 0.0, "seed": 1}

# A word the model is made to write whatever it would have said: the OpenAI surface's
# `response_format` turns this JSON schema into a llama.cpp grammar admitting nothing else.
FORCED_WORD = "PINEAPPLE"
FORCED_PROMPT = [{"role": "user", "content": f"Repeat exactly this word: {FORCED_WORD}"}]
FORCED_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "word", "schema": {"type": "string", "enum": [FORCED_WORD]}},
}

# Output that cannot end by itself: a JSON string the grammar keeps open for 4,000
# characters, so a token cap or a time limit is what stops it, whatever the model says.
ENDLESS_SCHEMA = {"type": "string", "minLength": 4000}
ENDLESS_FORMAT = {"type": "json_schema", "json_schema": {"name": "text", "schema": ENDLESS_SCHEMA}}


def sampling(seed: int = 1) -> dict:
    """`temperature` and `seed` for a request: greedy with `seed`, or perturbed."""
    if PERTURB_SEED is None:
        return {"temperature": 0.0, "seed": seed}
    return {"temperature": PERTURBED_TEMPERATURE, "seed": PERTURB_SEED * 1000 + seed}


def sampling_args(seed: int = 1) -> tuple[str, ...]:
    """The same as `cove ask`/`cove chat` options."""
    chosen = sampling(seed)
    return ("--temperature", str(chosen["temperature"]), "--seed", str(chosen["seed"]))


def params(max_tokens: int | None = None, seed: int = 1, **extra):
    """The same as the runtime's `GenerationParams`."""
    from cove.daemon.runtime.base import GenerationParams

    return GenerationParams(max_tokens=max_tokens, **sampling(seed), **extra)


def forced_pipeline(daemon, question: str, forced: str, **extra) -> dict:
    """The `cove` pipeline answering `question` through the OpenAI surface with the model
    forced (by a grammar) to write exactly `forced`, whatever it would have said."""
    schema = {"type": "string", "enum": [forced]}
    body = {
        "model": "cove",
        "messages": [{"role": "user", "content": question}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
        **sampling(),
        **extra,
    }
    with daemon.client() as client:
        return client.request("POST", "/v1/chat/completions", json=body)
