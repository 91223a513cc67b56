"""Names only (issue 32 item 3): how the names-only head could mix its similarity families, each way
chosen leave-one-dataset-out against the names-only peers (text, lin, path, jcn).

    python benchmarks/names_only_lodo.py benchmarks/suites/thirteen-names-only.json --grid recipe agree

At 0 shots the head needs no training and no seed: this builds, once per dataset, every family's
top-k transferred head (`transfer_init.transferred_head`), then each candidate mixes them per class
and is scored on the bench's whole test split (`bench.test_indices`). Grids:

- recipe: what `Recipe` can say today (names_only_families x top_k x coverage_power x exact_rows),
  plus `eq`: every row brought to the rows' mean norm (a research variant, not in `Recipe`);
- agree / agree-fine: per class, each family weighted by how well its (unit) row agrees with the
  classes' consensus row, softmax(log votes + tau * cos(row, consensus)); the WordNet measures have
  one vote each, text `tv` votes. agree-fine is a finer grid around agree's best.

A candidate's score on a set of datasets is lodo.py's: the mean margin over the best of the four
peers, minus 3 x the mean shortfall beyond the rule's 3 pp. For each dataset the candidate best on
the other twelve is scored on it (the held-out table). The default before this research (the coverage
mix, `BEFORE`) and the default now (agree-k5-tau12.5-tv6) are rebuilt here from the same parts and
checked against `methods.default.names_head` (the same accuracy on every dataset).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools

import torch
import torch.nn.functional as F

from headstart import transfer
from headstart.data import load_dataset
from headstart.data.features import FeatureCache
from headstart.evidence import Evidence
from headstart.lab.suite import load_suite, slug
from headstart.methods.default import exact_source_classes, names_head, wordnet_coverage
from headstart.methods.registry import source_head
from headstart.methods.transfer_init import transferred_head
from headstart.protocol import test_indices
from headstart.recipe import DEFAULT_RECIPE, SEMANTIC_FAMILIES
from headstart.sources import load_source

PEERS, PEER_TOP_K = ("text", "lin", "path", "jcn"), 5  # the registered names-only peers' top_k
TOLERANCE, LOSS_WEIGHT = 3.0, 3.0
BEFORE = dataclasses.replace(DEFAULT_RECIPE, names_only_agreement=None, names_only_top_k=3)  # issue 32's start
FAMILY_SETS = {"F7": SEMANTIC_FAMILIES, "F5": ("path", "lch", "jcn", "lin", "text"),
               "F4": ("path", "lin", "jcn", "text"), "F3": ("path", "jcn", "text"), "F2": ("path", "lin", "text")}


class Task:
    """One dataset's test features and every family's names-only head at every top_k."""

    def __init__(self, source, entry: dict, resolution: int, top_ks):
        data = load_dataset(entry["dataset"])
        idx = test_indices(data.test.labels, None)
        self.name = slug(entry["dataset"])
        self.x = FeatureCache(source, data, "test", resolution).get(idx, progress=False)
        self.y = torch.from_numpy(data.test.labels[idx])
        ev = self.evidence = Evidence.names_only(source, data.class_names)
        self.heads = {(f, k): transferred_head(ev, f, k) for f in SEMANTIC_FAMILIES for k in top_ks}
        self.coverage, self.exact, self.source = wordnet_coverage(ev), exact_source_classes(ev), source_head(ev)
        self.peers = {p: self.accuracy(transferred_head(ev, p, PEER_TOP_K)) for p in PEERS}

    def accuracy(self, head) -> float:
        return 100 * ((self.x @ head[0].T + head[1]).argmax(1) == self.y).float().mean().item()

    def score(self, weights: dict[str, torch.Tensor], top_k: int, exact: bool = True, equal: bool = False) -> float:
        """Accuracy of the head whose row c is sum_f weights[f][c] x family f's row c, then (as
        `names_head`) exact source rows at the other rows' mean norm; `equal`: every row at the mean norm."""
        w = sum(weights[f][:, None] * self.heads[(f, top_k)][0] for f in weights)
        b = sum(weights[f] * self.heads[(f, top_k)][1] for f in weights)
        head, rows = (w, b), self.exact if exact else {}
        head = transfer.with_rows(head, self.source, rows)
        if rows and len(rows) < len(w):
            others = torch.tensor([c for c in range(len(w)) if c not in rows])
            head = transfer.scale_rows(head, list(rows), head[0][others].norm(dim=1).mean())
        if equal:
            head = transfer.scale_rows(head, list(range(len(w))), head[0].norm(dim=1).mean())
        return self.accuracy(head)


def coverage_weights(task: Task, families, power) -> dict[str, torch.Tensor]:
    """`default.family_head`'s mix: the WordNet measures' mean, mixed with text by coverage ** power."""
    n = len(task.coverage)
    measures = [f for f in families if f != "text"]
    if "text" not in families or not measures or power is None:
        return {f: torch.full((n,), 1 / len(families)) for f in families}
    share = task.coverage ** power
    return {**{f: share / len(measures) for f in measures}, "text": 1 - share}


def agreement_weights(task: Task, top_k: int, tau: float, text_votes: float) -> dict[str, torch.Tensor]:
    """Per class, softmax over families of log(votes) + tau x cos(family's row, the votes' mean row)."""
    rows = {f: F.normalize(task.heads[(f, top_k)][0], dim=1) for f in SEMANTIC_FAMILIES}
    votes = {f: text_votes if f == "text" else 1.0 for f in SEMANTIC_FAMILIES}
    consensus = sum(votes[f] * rows[f] for f in rows) / sum(votes.values())
    logits = torch.stack([torch.log(torch.tensor(votes[f])) + tau * (rows[f] * consensus).sum(1) for f in rows])
    return dict(zip(rows, torch.softmax(logits, 0)))


def grid(name: str) -> dict:
    """candidate name -> (weights(task), top_k, exact, equal)."""
    out = {}
    if name == "recipe":
        for (fs, families), k, power, exact, equal in itertools.product(
                FAMILY_SETS.items(), (3, 5), (None, 0.5, 1.0, 2.0, 4.0), (True, False), (False, True)):
            out[f"{fs}-k{k}-p{power}{'' if exact else '-noexact'}{'-eq' if equal else ''}"] = (
                lambda t, fam=families, p=power: coverage_weights(t, fam, p), k, exact, equal)
    else:
        taus, votes, ks = ((0, 5, 10, 20), (1, 3, 6, 10, 20), (3, 5)) if name == "agree" else \
            ((0, 5, 7.5, 10, 12.5, 15), (4, 5, 6, 7, 8), (4, 5, 6))
        for k, tau, tv in itertools.product(ks, taus, votes):
            out[f"agree-k{k}-tau{tau}-tv{tv}"] = (lambda t, k=k, tau=tau, tv=tv: agreement_weights(t, k, tau, tv),
                                                 k, True, False)
    return out


def margin(task: Task, accuracy: float) -> float:
    return accuracy - max(task.peers.values())


def score(accuracies: dict, tasks: list[Task]) -> float:
    margins = [margin(t, accuracies[t.name]) for t in tasks]
    return (sum(margins) - LOSS_WEIGHT * sum(max(0.0, -m - TOLERANCE) for m in margins)) / len(margins)


def held_out_table(tasks: list[Task], candidates: dict[str, dict], title: str) -> None:
    print(f"\n### {title}: {len(candidates)} candidates\n")
    print("| held-out dataset | chosen on the others | accuracy | " + " | ".join(f"vs {p}" for p in PEERS) + " |")
    print("|---|---|---:|" + "---:|" * len(PEERS))
    chosen_acc, failing = [], []
    for held in tasks:
        others = [t for t in tasks if t is not held]
        best = max(candidates, key=lambda c: score(candidates[c], others))
        acc = candidates[best][held.name]
        chosen_acc.append(acc)
        if margin(held, acc) < -TOLERANCE:
            failing.append(f"{held.name} {margin(held, acc):+.1f}")
        margins = " | ".join(f"{acc - held.peers[p]:+.1f}" for p in PEERS)
        print(f"| {held.name} | {best} | {acc:.1f} | {margins} |")
    print(f"\nHeld-out mean {sum(chosen_acc) / len(chosen_acc):.2f} %; more than {TOLERANCE:g} pp behind a peer: "
          + (", ".join(failing) or "none"))
    ranked = sorted(candidates, key=lambda c: -score(candidates[c], tasks))[:5]
    print("Best on all datasets: " + "; ".join(
        f"{c} (score {score(candidates[c], tasks):+.2f}, mean {sum(candidates[c].values()) / len(tasks):.2f}, "
        f"{sum(margin(t, candidates[c][t.name]) < -TOLERANCE for t in tasks)} failing)" for c in ranked))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite")
    parser.add_argument("--grid", nargs="+", default=["recipe", "agree", "agree-fine"],
                        choices=["recipe", "agree", "agree-fine"])
    parser.add_argument("--together", action="store_true", help="one held-out table over all the grids' candidates")
    args = parser.parse_args()
    torch.set_num_threads(1)
    suite = load_suite(args.suite)
    source = load_source(suite["model"])
    tasks = [Task(source, e, suite["resolution"], (3, 4, 5, 6)) for e in suite["datasets"]]
    today, now = {}, {}
    r = DEFAULT_RECIPE
    for t in tasks:  # the rebuilt defaults are the real ones
        today[t.name] = t.score(coverage_weights(t, BEFORE.names_only_families, BEFORE.coverage_power),
                                BEFORE.names_only_top_k, BEFORE.exact_rows)
        assert today[t.name] == t.accuracy(names_head(t.evidence, BEFORE)[0]), t.name
        weights = agreement_weights(t, r.names_only_top_k, r.names_only_agreement, r.names_only_text_votes)
        now[t.name] = t.score(weights, r.names_only_top_k, r.exact_rows)
        assert abs(now[t.name] - t.accuracy(names_head(t.evidence, r)[0])) < 1e-9, t.name
    print("| dataset | default before | default now | " + " | ".join(PEERS) + " |")
    print("|---|---:|---:|" + "---:|" * len(PEERS))
    for t in tasks:
        print(f"| {t.name} | {today[t.name]:.1f} | {now[t.name]:.1f} | " +
              " | ".join(f"{t.peers[p]:.1f}" for p in PEERS) + " |")
    print(f"\nMean: default before {sum(today.values()) / len(tasks):.2f} %, "
          f"now {sum(now.values()) / len(tasks):.2f} %")
    tables = [args.grid] if args.together else [[name] for name in args.grid]
    for names in tables:
        candidates = {c: {t.name: t.score(w(t), k, exact, equal) for t in tasks}
                      for name in names for c, (w, k, exact, equal) in grid(name).items()}
        held_out_table(tasks, {**candidates, "before": today}, f"grid {' + '.join(names)} and the default before")


if __name__ == "__main__":
    main()
