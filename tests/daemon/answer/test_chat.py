"""Grounded chat on a real daemon, the real model (its sampling from tests.support.generation)
and a real index: answers from the documents with their sources, "I don't know" when nothing is
relevant, follow-ups, general answers, declined topics and the OpenAI surface."""

from __future__ import annotations

import json

import pytest

from cove.daemon.answer.evidence import strip_citations
from cove.daemon.answer.grounding import NOT_FOUND_ANSWER
from tests.support.daemon import start_daemon
from tests.support.generation import forced_pipeline, sampling, sampling_args
from tests.support.kb import wait_idle, write

GREEDY = sampling()
CONTEXT = 2048
PROFILE = """
[[topics]]
name = "diagnosis"
examples = ["what illness do I have", "diagnose my symptoms", "is this rash serious"]
message = "I can't give medical diagnoses. Please ask a doctor."
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("chat")
    docs = root / "docs"
    write(
        docs / "skerry.md",
        "# Skerry Island lighthouse\n\nThe lighthouse on Skerry Island was built by the "
        "engineer Ada Quill. Construction finished in 1872, after four years of work in bad "
        "weather.\n\n## Keepers\n\nThe last keeper, Tomas Reid, left the island in 1991 when "
        "the light was automated.\n",
    )
    write(
        docs / "garden.md",
        "# Garden notes\n\nTomatoes need six hours of sun. Water them at the base in the "
        "morning. The compost heap is turned every second Sunday.\n",
    )
    write(
        docs / "bikes.md",
        "# Bicycle care\n\nOil the chain every 300 km. Tyres are pumped to 4 bar before a "
        "long ride.\n",
    )
    write(root / "medical.toml", PROFILE)
    # A 2048-token context: the huge-history test fills it, and the model reads it all.
    config = f'[model]\ncontext = {CONTEXT}\n[chat]\nguardrails = "{root / "medical.toml"}"\n'
    running = start_daemon(root / "home", config=config)
    try:
        added = running.cove("folders", "add", str(docs))
        assert added.returncode == 0, added.stderr
        wait_idle(running)
        yield running
    finally:
        running.stop()


def ask(daemon, question: str, *args: str) -> dict:
    done = daemon.cove("ask", question, "--json", *sampling_args(), *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def names(result: dict) -> list[str]:
    return [s["path"].rsplit("/", 1)[-1] for s in result["sources"]]


def test_an_answerable_question_is_answered_from_the_right_top_source(daemon):
    result = ask(daemon, "Who built the lighthouse on Skerry Island?")
    assert result["grounded"] is True
    assert names(result)[0] == "skerry.md"
    assert result["answer"].strip() and result["answer"] != NOT_FOUND_ANSWER
    top = result["sources"][0]
    assert top["heading"] == ["Skerry Island lighthouse"] and top["line_start"] >= 1
    assert "Ada Quill" in top["snippet"]
    cited = [s["cited"] for s in result["sources"]]
    assert cited == sorted(cited, reverse=True)  # cited sources come first
    assert set(result["timings"]) >= {"retrieval_ms", "prompt_ms", "first_token_ms", "total_ms"}


def test_an_unanswerable_question_gets_a_plain_refusal_with_no_citations(daemon):
    result = ask(daemon, "What is the capital of Peru?")
    assert result["answer"] == NOT_FOUND_ANSWER
    assert result["sources"] == [] and "[" not in result["answer"]
    assert result["grounded"] is True


def test_a_follow_up_finds_the_documents_of_its_conversation(daemon):
    first = ask(daemon, "Who built the lighthouse on Skerry Island?")
    follow_up = ask(daemon, "and when was that?", "--session", first["session_id"])
    assert names(follow_up)[0] == "skerry.md"
    alone = ask(daemon, "and when was that?")
    assert alone["answer"] == NOT_FOUND_ANSWER


def test_general_answers_are_marked_as_not_from_the_documents(daemon):
    result = ask(daemon, "Say hello.", "--general", "--max-tokens", "16")
    assert result["grounded"] is False and result["sources"] == []
    follow_up = ask(daemon, "What is the capital of Peru?", "--session", result["session_id"])
    assert follow_up["grounded"] is False and follow_up["answer"] != NOT_FOUND_ANSWER


def test_a_declined_topic_gets_the_fixed_message_and_is_logged(daemon):
    result = ask(daemon, "Can you diagnose my symptoms? I have a rash.")
    assert result["answer"] == "I can't give medical diagnoses. Please ask a doctor."
    assert result["sources"] == [] and result["grounded"] is False
    with daemon.client() as client:
        stored = client.request("GET", f"/api/sessions/{result['session_id']}")
    contents = [m["content"] for m in stored["messages"]]
    assert contents == ["Can you diagnose my symptoms? I have a rash.", result["answer"]]


def test_the_streamed_answer_is_the_stored_answer(daemon):
    with daemon.client() as client:
        events = list(client.ask_stream("How often is the chain oiled?", **GREEDY))
    tokens = "".join(data["text"] for event, data in events if event == "token")
    done = [data for event, data in events if event == "done"][0]
    replaced = [data["text"] for event, data in events if event == "replace"]
    # The stored answer is the streamed one with the citations its claims earned, or the
    # quote that replaced it (announced by a `replace` event).
    if replaced:
        assert replaced == [done["answer"]] and done["timings"]["answer_mode"] == "quote"
    else:
        assert strip_citations(tokens) == strip_citations(done["answer"])
    assert done["sources"][0]["path"].endswith("bikes.md")


def test_the_cli_ends_an_answer_with_its_source_list(daemon):
    done = daemon.cove("ask", "How many hours of sun do tomatoes need?", *sampling_args())
    assert done.returncode == 0, done.stderr
    tail = done.stdout.split("\nSources:\n", 1)[1]
    assert tail.lstrip().startswith("[1] ") and "garden.md" in tail.splitlines()[0]


def test_the_cove_model_runs_the_pipeline_on_the_openai_surface(daemon):
    body = {
        "model": "cove",
        "messages": [{"role": "user", "content": "Who built the lighthouse on Skerry Island?"}],
        **GREEDY,
    }
    with daemon.client() as client:
        plain = client.request("POST", "/v1/chat/completions", json=body)
    assert plain["sources"][0]["path"].endswith("skerry.md")
    assert plain["choices"][0]["message"]["content"].strip()


def test_a_huge_history_is_trimmed_and_never_an_error(daemon):
    history = []
    for i in range(300):
        history += [
            {"role": "user", "content": f"Tell me about tides, part {i}. " * 10},
            {"role": "assistant", "content": "The tide turns twice a day. " * 10},
        ]
    body = {
        "model": "cove",
        "messages": [*history, {"role": "user", "content": "When did the last keeper leave?"}],
        "max_tokens": 24,
        **GREEDY,
    }
    with daemon.client() as client:
        answer = client.request("POST", "/v1/chat/completions", json=body)
    assert answer["sources"][0]["path"].endswith("skerry.md")
    assert answer["usage"]["prompt_tokens"] + 24 <= CONTEXT


def skerry_lines(daemon, quote: dict) -> str:
    """The lines of skerry.md a quote names, as the file holds them."""
    lines = (daemon.home.parent / "docs" / "skerry.md").read_text().split("\n")
    return " ".join(" ".join(lines[quote["line_start"] - 1 : quote["line_end"]]).split())


def test_each_source_quotes_the_sentences_that_answer_with_their_lines(daemon):
    result = ask(daemon, "When did the last keeper leave the island?")
    top = result["sources"][0]
    assert top["path"].endswith("skerry.md")
    quote = top["quote"]
    assert "Tomas Reid, left the island in 1991" in quote["text"]
    assert quote["text"] in skerry_lines(daemon, quote)  # the lines hold the quote
    assert quote["line_start"] == quote["line_end"] == 7
    for claim in result["claims"]:  # every claim is reported, supported or not
        assert set(claim) == {"text", "supported", "n", "quote", "score"}
        assert claim["n"] is None or claim["quote"] is not None


def test_search_results_carry_a_query_biased_snippet(daemon):
    with daemon.client() as client:
        hits = client.search("when did the keeper leave", k=3)["results"]
    assert hits[0]["snippet"].startswith("The last keeper, Tomas Reid, left the island")


def test_an_invented_answer_is_unsupported_and_the_quote_answers_instead(daemon):
    done = forced_pipeline(
        daemon, "Who built the lighthouse on Skerry Island?", "It is painted purple."
    )
    cove = done["cove"]
    invented = cove["replaced"]  # what the model wrote, and why it was not kept
    assert invented["answer"] == '"It is painted purple."'
    assert [c["supported"] for c in invented["claims"]] == [False]
    # The answer is the documents' own sentence, attributed, and says so.
    answer = done["choices"][0]["message"]["content"]
    assert answer.startswith('skerry.md says: "The lighthouse on Skerry Island was built by')
    assert answer.endswith("[1]") and done["sources"][0]["cited"] is True
    assert cove["timings"]["answer_mode"] == "quote"
    assert cove["timings"]["fallback"] == "unsupported"
    assert cove["claims"] == [
        {
            "text": done["sources"][0]["quote"]["text"],
            "supported": True,
            "n": 1,
            "quote": done["sources"][0]["quote"]["text"],
            "score": 1.0,
        }
    ]


def test_a_supported_answer_is_kept_and_cited_by_its_claims(daemon):
    copied = "The last keeper, Tomas Reid, left the island in 1991."
    done = forced_pipeline(daemon, "When did the last keeper leave the island?", copied)
    assert "replaced" not in done["cove"]
    assert done["cove"]["claims"][0]["supported"] is True
    n = done["cove"]["claims"][0]["n"]
    assert done["choices"][0]["message"]["content"].endswith(f'[{n}]."')
    cited = [s for s in done["sources"] if s["cited"]]
    assert [s["n"] for s in cited] == [n] and cited[0]["path"].endswith("skerry.md")


def test_claims_are_stored_with_the_answer_and_shown_with_the_session(daemon):
    supported = "The last keeper, Tomas Reid, left the island in 1991."
    done = forced_pipeline(
        daemon, "When did the last keeper leave?", f"{supported} It is painted purple."
    )
    cove = done["cove"]
    # One claim of two supported: the answer is kept, its invented sentence reported.
    assert "replaced" not in cove
    assert [c["supported"] for c in cove["claims"]] == [True, False]
    shown = daemon.cove("sessions", "show", cove["session_id"], "--json")
    assert shown.returncode == 0, shown.stderr
    stored = json.loads(shown.stdout)["messages"][-1]
    assert stored["id"] == cove["message_id"] and stored["claims"] == cove["claims"]
    printed = daemon.cove("sessions", "show", cove["session_id"])
    assert "not supported by your documents: It is painted purple." in printed.stdout


def test_an_answer_that_loops_is_cut_and_reported(daemon):
    loop = "Ada Quill built it. " * 8
    done = forced_pipeline(daemon, "Who built the lighthouse on Skerry Island?", loop.strip())
    cove = done["cove"]
    assert cove["timings"]["finish_reason"] == "repetition"
    assert done["choices"][0]["finish_reason"] == "repetition"
    assert strip_citations(done["choices"][0]["message"]["content"]).count("Ada Quill") == 1
