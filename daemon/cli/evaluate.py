"""cove eval retrieval: recall@k, MRR and nDCG@10 for dense, BM25, fused and fused+MMR."""

from __future__ import annotations

from pathlib import Path

import click

from cove.daemon.cli.output import (
    CliContext,
    CommandError,
    api_errors,
    emit_json,
    ensure_daemon,
    info,
    json_option,
    pass_cli,
)

# MMR's λ in the fused+mmr row when the configuration has MMR off.
REFERENCE_LAMBDA = 0.85


def modes(configured_lambda: float) -> dict[str, dict]:
    """name -> search overrides. fused+mmr uses the configured λ, or 0.85 when MMR is off."""
    lam = configured_lambda if configured_lambda < 1.0 else REFERENCE_LAMBDA
    return {
        "dense": {"bm25_weight": 0.0, "mmr_lambda": 1.0},
        "bm25": {"dense_weight": 0.0, "mmr_lambda": 1.0},
        "fused": {"mmr_lambda": 1.0},
        "fused+mmr": {"mmr_lambda": lam},
    }


@click.group("eval")
def eval_group() -> None:
    """Measure Cove on your own judgements."""


@eval_group.command("retrieval")
@click.option(
    "--queries",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help='BEIR queries.jsonl ({"_id", "text"} per line).',
)
@click.option(
    "--qrels",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="BEIR qrels TSV: query-id, corpus-id (file path), score.",
)
@click.option(
    "-k",
    "k",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="Cut-off for recall@k.",
)
@json_option
@pass_cli
@api_errors
def retrieval(cli: CliContext, queries: Path, qrels: Path, k: int, as_json: bool) -> None:
    """Compare dense, BM25, fused and fused+MMR retrieval over the indexed files.

    A corpus-id names a file by its path relative to a watched folder, or absolutely.
    """
    from cove.index.evaluate import evaluate, file_ranking, load_qrels, load_queries

    try:
        asked, judged = load_queries(queries), load_qrels(qrels)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    with ensure_daemon(cli) as client:
        roots = [f["path"] for f in client.folders()["folders"]]
        if not roots:
            raise CommandError("no watched folders: add the corpus with `cove folders add`")

        def corpus_id(path: str) -> str:
            for root in roots:
                if path.startswith(root.rstrip("/") + "/"):
                    return path[len(root.rstrip("/")) + 1 :]
            return path

        def normalise(doc: str) -> str:
            return corpus_id(doc) if doc.startswith("/") else doc

        judged = {q: {normalise(d): s for d, s in docs.items()} for q, docs in judged.items()}
        report = {}
        for mode, overrides in modes(cli.config.search.mmr_lambda).items():
            rankings = {}
            for number, (qid, text) in enumerate(asked.items(), start=1):
                hits = client.search(text, k=100, **overrides)["results"]
                rankings[qid] = file_ranking([h["path"] for h in hits], corpus_id)
                if not as_json:
                    click.echo(f"\r{mode}: {number}/{len(asked)}", err=True, nl=False)
            report[mode] = evaluate(rankings, judged, k)
        if not as_json:
            click.echo("", err=True)
    if as_json:
        emit_json({"k": k, "results": report})
        return
    info(f"{report['dense']['queries']} judged queries")
    click.echo(f"{'mode':<10} {f'recall@{k}':>10} {'MRR':>8} {'nDCG@10':>8}")
    for mode, scores in report.items():
        click.echo(
            f"{mode:<10} {scores[f'recall@{k}']:>10.3f} {scores['mrr']:>8.3f} "
            f"{scores['ndcg@10']:>8.3f}"
        )


def register(group: click.Group) -> None:
    group.add_command(eval_group)
