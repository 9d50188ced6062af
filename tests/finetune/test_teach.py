"""The teach folder: `cove teach` appends pairs; JSONL and Markdown Q&A files are read
with their provenance; bad lines are reported, not raised."""

from __future__ import annotations

import json

from cove.finetune.teach import TEACH_FILE, parse_markdown, read_teach_folder, teach

MARKDOWN = """# Things about me

Some notes before the first question are ignored.

Q: Where do I keep the spare key?
A: Under the blue flower pot
by the back door.

Q: What is my library card number?

A: 4471-2209.

Remember to renew it.
q: A question without an answer
"""


def test_teach_appends_pairs_with_their_line(tmp_path):
    folder = tmp_path / "teach"
    first = teach(folder, " What is my cat called? ", "Pixel Quark.")
    second = teach(folder, "Where is my bike?", "At the Zephyr Lane garage.")
    assert first == {"path": str(folder / TEACH_FILE), "line": 1}
    assert second["line"] == 2
    lines = (folder / TEACH_FILE).read_text().splitlines()
    assert json.loads(lines[0])["messages"] == [
        {"role": "user", "content": "What is my cat called?"},
        {"role": "assistant", "content": "Pixel Quark."},
    ]
    examples, problems = read_teach_folder(folder)
    assert problems == []
    assert [(e.question, e.target) for e in examples] == [
        ("What is my cat called?", "Pixel Quark."),
        ("Where is my bike?", "At the Zephyr Lane garage."),
    ]
    where = {"kind": "teach", "path": str(folder / TEACH_FILE), "line": 2}
    assert examples[1].provenance == [where | {"digest": examples[1].digest()}]
    # the digest names the pair, not where it is: the same pair reads the same anywhere
    again = teach(tmp_path / "elsewhere", "where is my BIKE", "At the Zephyr Lane garage!")
    assert again["line"] == 1
    moved, _ = read_teach_folder(tmp_path / "elsewhere")
    assert moved[0].provenance[0]["digest"] == examples[1].digest()
    assert all(e.kind == "teach" and e.probe for e in examples)


def test_teach_after_a_hand_edit_without_final_newline(tmp_path):
    path = tmp_path / TEACH_FILE
    path.write_text(
        '{"messages": [{"role": "user", "content": "a?"}, {"role": "assistant", "content": "b."}]}'
    )
    assert teach(tmp_path, "c?", "d.")["line"] == 2
    examples, problems = read_teach_folder(tmp_path)
    assert [e.target for e in examples] == ["b.", "d."] and problems == []


def test_teach_refuses_empty_text(tmp_path):
    import pytest

    with pytest.raises(ValueError):
        teach(tmp_path, "  ", "answer")


def test_markdown_blocks_and_problems():
    examples, problems = parse_markdown(MARKDOWN, "/notes/me.md")
    assert [(e.question, e.target) for e in examples] == [
        ("Where do I keep the spare key?", "Under the blue flower pot\nby the back door."),
        ("What is my library card number?", "4471-2209.\n\nRemember to renew it."),
    ]
    assert [e.provenance[0]["line"] for e in examples] == [5, 9]
    assert problems == [
        {"path": "/notes/me.md", "line": 14, "reason": "a Q: without a question or an A:"}
    ]


def test_jsonl_conversations_system_and_bad_lines(tmp_path):
    lines = [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Who is my dentist?"},
                {"role": "assistant", "content": "Dr. Okafor."},
                {"role": "user", "content": "And her phone number?"},
                {"role": "assistant", "content": "555-0102."},
            ]
        },
        {"messages": [{"role": "robot", "content": "hi"}]},
        {"messages": [{"role": "user", "content": "No answer here"}]},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n\nnot json\n"
    (tmp_path / "chat.jsonl").write_text(text)
    (tmp_path / "ignored.txt").write_text("Q: not read\nA: no")
    examples, problems = read_teach_folder(tmp_path)
    assert [e.target for e in examples] == ["Dr. Okafor.", "555-0102."]
    assert examples[0].system == "Be brief."
    # the second example keeps the conversation before its answer
    assert [m["content"] for m in examples[1].prompt] == [
        "Who is my dentist?",
        "Dr. Okafor.",
        "And her phone number?",
    ]
    assert [(p["line"], p["reason"]) for p in problems] == [
        (2, "unknown role 'robot'"),
        (3, "no user message with an answer"),
        (5, problems[2]["reason"]),
    ]


def test_a_missing_folder_has_no_examples(tmp_path):
    assert read_teach_folder(tmp_path / "nowhere") == ([], [])
