"""`watcher relevance`: what the triage taught the score, in the user's language.

A few lines over labels.refresh and feedback.leaning; the words follow settings.language.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from watcher.cli import CONTEXT, Env
from watcher.hints import hint

_LABELS = {
    "fr": {
        "learned": (
            "Appris de {pos} résultat{ps} retenu{ps} (retenus, exportés, relayés) et {neg} marqué{ns} hors sujet."
        ),
        "active": "Actif : il compte dans le score, de −{max} à +{max} points.",
        "inactive": (
            "Pas encore actif : il faut {min} étiquettes, dont {each} retenues et {each} hors sujet"
            " (`watcher relay pick ID`, `watcher relay skip --noise ID`)."
        ),
        "quality": (
            "Vérifié sur vos étiquettes (chacune prédite par toutes les autres) : {right} sur {n} bien"
            " prédites ({accuracy} %) ; un résultat retenu passe devant un hors sujet {auc} % du temps."
        ),
        "no_quality": "Trop peu d'étiquettes pour le valider.",
        "words_for": "Mots qui comptent pour :",
        "words_against": "Mots qui comptent contre :",
        "others_for": "Sources, sites et auteurs qui comptent pour :",
        "others_against": "Sources, sites et auteurs qui comptent contre :",
        "counts": "{pos} retenu{ps}, {neg} hors sujet",
        "none": "(aucun)",
        "word": "mot",
        "source": "source",
        "domain": "site",
        "author": "auteur",
    },
    "en": {
        "learned": "Learned from {pos} relevant result{ps} (picked, exported, relayed) and {neg} marked as noise.",
        "active": "Active: it counts in the score, from −{max} to +{max} points.",
        "inactive": (
            "Not active yet: it needs {min} labels, {each} relevant and {each} noise at least"
            " (`watcher relay pick ID`, `watcher relay skip --noise ID`)."
        ),
        "quality": (
            "Checked on your labels (each predicted from all the others): {right} of {n} predicted"
            " right ({accuracy}%); a relevant result ranks above a noise one {auc}% of the time."
        ),
        "no_quality": "Too few labels to check it.",
        "words_for": "Words that count for:",
        "words_against": "Words that count against:",
        "others_for": "Sources, sites and authors that count for:",
        "others_against": "Sources, sites and authors that count against:",
        "counts": "{pos} relevant, {neg} noise",
        "none": "(none)",
        "word": "word",
        "source": "source",
        "domain": "site",
        "author": "author",
    },
}


@click.command(context_settings=CONTEXT)
@click.option("--limit", type=click.IntRange(1), default=10, show_default=True, help="Features shown per list.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def relevance(env: Env, limit: int, as_json: bool) -> None:
    """Show what the triage taught the score: the words, sources, sites and authors for and
    against, and how well it predicts your own labels (cross-validated).

    Picked, exported and relayed hits count as relevant, hits marked with `relay skip --noise`
    as not relevant; a plain skip counts for nothing. It learns again after each triage command.
    """
    from watcher import feedback, labels

    language = env.config().settings.language
    with env.store() as store:
        model = labels.refresh(store, datetime.now(UTC))
    if model is None:
        model = feedback.train([])
    lean_for, lean_against = feedback.leaning(model, limit=max(limit * 3, 30))
    if as_json:
        click.echo(json.dumps(_as_json(model, lean_for, lean_against, limit), ensure_ascii=False, indent=2))
        return
    french = language[:2] == "fr"
    lab = _LABELS["fr" if french else "en"]

    def s(n: int) -> str:  # plural: 0 and 1 are singular in French
        return "s" if (n > 1 if french else n != 1) else ""

    plural = {"ps": s(model.positives), "ns": s(model.negatives)}
    click.echo(lab["learned"].format(pos=model.positives, neg=model.negatives, **plural))
    if model.active:
        click.echo(lab["active"].format(max=f"{feedback.MAX_POINTS:g}"))
    else:
        click.echo(hint(lab["inactive"].format(min=feedback.MIN_LABELS, each=feedback.MIN_EACH)))
    q = model.quality
    if q is None:
        click.echo(lab["no_quality"])
    else:
        click.echo(
            lab["quality"].format(
                right=q.right,
                n=q.labels,
                accuracy=round(100 * q.accuracy),
                auc=round(100 * q.auc),
            )
        )
    for title, rows, words in (
        ("words_for", lean_for, True),
        ("words_against", lean_against, True),
        ("others_for", lean_for, False),
        ("others_against", lean_against, False),
    ):
        shown = [r for r in rows if r[0].startswith("w:") == words][:limit]
        click.echo("")
        click.echo(lab[title])
        if not shown:
            click.echo(f"  {lab['none']}")
        for feature, _weight, pos, neg in shown:
            kind, name = feature.split(":", 1)
            what = name if words else f"{lab[feedback.KINDS[kind]]} {name}"
            counts = lab["counts"].format(pos=pos, neg=neg, ps=s(pos))
            click.echo(f"  {what}  ({counts})")


def _as_json(model: Any, lean_for: Any, lean_against: Any, limit: int) -> dict[str, Any]:
    from watcher import feedback

    def rows(leaning: Any, words: bool) -> list[dict[str, Any]]:
        out = []
        for feature, weight, pos, neg in leaning:
            kind, name = feature.split(":", 1)
            if (kind == "w") == words:
                kind_name = feedback.KINDS[kind]
                out.append({"kind": kind_name, "name": name, "weight": round(weight, 3), "relevant": pos, "noise": neg})
        return out[:limit]

    q = model.quality
    return {
        "relevant": model.positives,
        "noise": model.negatives,
        "active": model.active,
        "needs": {"labels": feedback.MIN_LABELS, "each": feedback.MIN_EACH},
        "max_points": feedback.MAX_POINTS,
        "quality": None
        if q is None
        else {"method": "leave-one-out", "labels": q.labels, "right": q.right, "accuracy": q.accuracy, "auc": q.auc},
        "words_for": rows(lean_for, True),
        "words_against": rows(lean_against, True),
        "others_for": rows(lean_for, False),
        "others_against": rows(lean_against, False),
    }


# --- keywords suggest ----------------------------------------------------------------------------------


@click.command("suggest", context_settings=CONTEXT)
@click.option("--limit", type=click.IntRange(1, 50), default=10, show_default=True, help="Suggestions shown.")
@click.option("--apply", "apply_", type=click.IntRange(1), help="Write suggestion N to keywords.txt or feeds.yaml.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.pass_obj
def suggest(env: Env, limit: int, apply_: int | None, as_json: bool) -> None:
    """Propose exclusions that would have removed most hits marked as noise and few relevant ones.

    \b
    Each is checked on your labels: -word or -"a phrase" added to one query of keywords.txt,
    or a site or an author left out for one source (exclude_domains, exclude_authors in
    feeds.yaml), with how many noise-marked and relevant hits it would have removed.
    --apply N writes suggestion N (files edited in place, atomically, comments kept).
    """
    from watcher import labels
    from watcher import suggest as sg

    config = env.config()
    language = config.settings.language
    lab = sg.WORDING["fr" if language[:2] == "fr" else "en"]

    def s(n: int) -> str:
        return sg.plural(n, language)

    with env.store() as store:
        labelled, found = labels.suggestions(store, config.queries, max(limit, apply_ or 0))
    if apply_ is not None:
        if apply_ > len(found):
            n = len(found)
            raise click.BadParameter(lab["no_such"].format(n=n, s=s(n), are="is" if n == 1 else "are"))
        _apply(env, found[apply_ - 1], lab)
        return
    noise = sum(1 for h in labelled if not h.relevant)
    rel = len(labelled) - noise
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "number": n,
                        "kind": x.kind,
                        "target": x.target,
                        "exclusion": x.exclusion,
                        "new_query": x.new_query,
                        "noise_removed": x.noise,
                        "relevant_removed": x.relevant,
                        "noise_marked": noise,
                        "relevant_marked": rel,
                    }
                    for n, x in enumerate(found[:limit], 1)
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if not found:
        click.echo(hint(lab["none"].format(min=sg.MIN_NOISE, noise=noise, ns=s(noise))))
        return
    click.echo(lab["from"].format(noise=noise, ns=s(noise), rel=rel, rs=s(rel)))
    for n, x in enumerate(found[:limit], 1):
        click.echo(f"{n:>3}. {sg.describe(x, language)}")
    click.echo(hint(lab["apply"]))


def _apply(env: Env, chosen: Any, lab: dict[str, str]) -> None:
    from watcher.cli_manage import config_errors

    if chosen.kind in ("word", "phrase"):
        from watcher.keywords_file import replace_query

        edit = config_errors(lambda: replace_query(env.keywords, chosen.target, chosen.new_query))
        click.echo(f"{env.keywords}:{edit.line}: {chosen.target} -> {edit.query.text}")
    else:
        from watcher.feeds_file import add_to_feed_list

        key = "exclude_domains" if chosen.kind == "domain" else "exclude_authors"
        config_errors(lambda: add_to_feed_list(env.feeds, chosen.target, key, chosen.value))
        click.echo(f"{env.feeds}: {chosen.target}: {key} + {chosen.value}")
    click.echo(lab["kept"])
