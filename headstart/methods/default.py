"""The default method, `headstart`: the head the class names give (several similarity families
averaged, exact source rows, recentred), trusted as far as it predicts the shots."""

from __future__ import annotations

import dataclasses

import torch

from headstart import few_shot, transfer
from headstart.evidence import Evidence
from headstart.methods.registry import Plan, register, source_head
from headstart.methods.transfer_init import transferred_head
from headstart.recipe import DEFAULT_RECIPE, SEMANTIC_FAMILIES, Recipe
from headstart.senses import class_senses
from headstart.similarity import similarity
from headstart.train import Head, single_thread


def averaged_head(evidence: Evidence, families=SEMANTIC_FAMILIES, top_k: int = 3) -> Head:
    """Mean over `families` of the top-k transferred heads (W [C, D], b [C]), summed one at a time:
    with 10,000 classes a head is 51 MB, seven stacked twice that again."""
    w, b = transferred_head(evidence, families[0], top_k)
    for family in families[1:]:
        w_f, b_f = transferred_head(evidence, family, top_k)
        w += w_f
        b += b_f
    return w / len(families), b / len(families)


def exact_source_classes(evidence: Evidence) -> dict[int, int]:
    """Class index -> source index for classes whose name resolved to a source class itself: its
    exact synset (or source label), no part (``flamingo_head`` is not the flamingo), and no other
    class of the task on the same source class."""
    position = {label: i for i, label in enumerate(evidence.source.labels)}
    found = {c: position.get(r.synset_id) for c, r in enumerate(class_senses(evidence))
             if r.source != "text" and r.part is None}
    found = {c: s for c, s in found.items() if s is not None}
    taken = list(found.values())
    return {c: s for c, s in found.items() if taken.count(s) == 1}


def wordnet_coverage(evidence: Evidence) -> torch.Tensor:
    """[C] in [0, 1]: how well WordNet places each class among the source classes — its path
    similarity to the nearest one, 1 / (1 + distance), doubled and capped at 1 (1 up to one edge
    away, 1/2 at three); 0 for a name that resolved to no synset. Needs no image."""
    nearest = similarity("path", evidence).max(dim=1).values
    named = torch.tensor([r.source != "text" for r in class_senses(evidence)])
    return torch.where(named, (2 * nearest).clamp(max=1.0), torch.zeros_like(nearest))


def agreement_head(evidence: Evidence, families: tuple[str, ...], recipe: Recipe) -> Head:
    """Names only: per class, each family's top-k row weighted by softmax over the families of
    log(votes) + names_only_agreement x cos(its row, the consensus), the consensus being the votes'
    mean of the unit rows (text has names_only_text_votes votes, each WordNet measure one): a class
    whose families disagree leans on those nearest the consensus. Each head is made again for each
    of the three passes rather than kept (see `averaged_head`); only their sparse top-k weights are."""
    source = source_head(evidence)
    rows = [transfer.top_k_weights(similarity(f, evidence), recipe.names_only_top_k).to_sparse() for f in families]
    votes = torch.tensor([recipe.names_only_text_votes if f == "text" else 1.0 for f in families])

    def unit(a):
        return torch.nn.functional.normalize(transfer.combine(*source, a)[0], dim=1)

    consensus = sum(v * unit(a) for v, a in zip(votes, rows)) / votes.sum()
    weights = torch.stack([v.log() + recipe.names_only_agreement * (unit(a) * consensus).sum(dim=1)
                           for v, a in zip(votes, rows)]).softmax(dim=0)  # [families, C]
    w, b = 0.0, 0.0
    for weight, a in zip(weights, rows):
        w_f, b_f = transfer.combine(*source, a)
        w, b = w + weight[:, None] * w_f, b + weight * b_f
    return w, b


def family_head(evidence: Evidence, families: tuple[str, ...], recipe: Recipe) -> Head:
    """The names' head from `families`: with names only, `agreement_head` (unless the recipe's
    names_only_agreement is None); else the mean of the WordNet families' top-k heads, mixed per class
    with the text family's by WordNet's coverage of the class (`wordnet_coverage` to the recipe's
    coverage power, with or without labelled images: where WordNet places a class far from every
    source class, text leads); with the power None, text is one family among the others."""
    names_only = len(evidence.labels) == 0
    if names_only and recipe.names_only_agreement is not None:
        return agreement_head(evidence, families, recipe)
    top_k = recipe.names_only_top_k if names_only else recipe.top_k
    measures = tuple(f for f in families if f != "text")
    power = recipe.coverage_power if names_only else recipe.shots_coverage_power
    if "text" not in families or not measures or power is None:
        return averaged_head(evidence, families, top_k)
    share = wordnet_coverage(evidence) ** power
    return transfer.mix_rows(averaged_head(evidence, measures, top_k), transferred_head(evidence, "text", top_k), share)


def names_head(evidence: Evidence, recipe: Recipe) -> tuple[Head, dict]:
    """The head the names give, for the evidence's labelled images as `recipe.shots_names` says: the
    families' head (`families_names_head`), the names-only head recentred on the images, or their
    mean; and what it was made of."""
    if len(evidence.labels) == 0 or recipe.shots_names == "families":
        return families_names_head(evidence, recipe)
    names_only = dataclasses.replace(evidence, features=evidence.features[:0], labels=evidence.labels[:0],
                                     unlabelled=None, sample_weight=None)
    head, made_of = families_names_head(names_only, recipe)
    head = transfer.recentre(*head, evidence.target_mean())
    made_of = {**made_of, "recentred": True, "shots_names": recipe.shots_names}
    if recipe.shots_names == "both":
        (w, b), families = families_names_head(evidence, recipe)
        head = ((head[0] + w) / 2, (head[1] + b) / 2)
        made_of = {**made_of, "with_shots": families}
    return head, made_of


def families_names_head(evidence: Evidence, recipe: Recipe) -> tuple[Head, dict]:
    """The head the names give (recentred on the target images when there are any) and what it
    was made of, for the plan's record: the families, and the classes that start from their own
    source row (at the norm of the task's other rows, so that a full source row does not outshout
    the averaged ones)."""
    families = recipe.names_only_families if len(evidence.labels) == 0 else recipe.families
    head = family_head(evidence, tuple(families), recipe)
    exact = exact_source_classes(evidence) if recipe.exact_rows else {}
    head = transfer.with_rows(head, source_head(evidence), exact)
    if exact and len(exact) < evidence.n_classes:
        others = torch.tensor([c for c in range(evidence.n_classes) if c not in exact])
        head = transfer.scale_rows(head, list(exact), head[0][others].norm(dim=1).mean())
    mean_feature = evidence.target_mean()
    if mean_feature is not None:
        head = transfer.recentre(*head, mean_feature)
    top_k = recipe.top_k if len(evidence.labels) else recipe.names_only_top_k
    made_of = {"families": list(families), "top_k": top_k, "recentred": mean_feature is not None,
               "source_rows": {evidence.class_names[c]: evidence.source.labels[s] for c, s in exact.items()}}
    return head, made_of


def competing_start(evidence: Evidence, head: Head, share: float, recipe: Recipe) -> tuple[Head, float]:
    """The start (and prior) once the images compete with the names: share x the names' head, plus the
    images' own head — the imprinted class means of the shots, recentred, at the names' rows' mean
    norm — weighted by `transfer.class_means_weight`; the rest is zero (BiT's start).
    -> (head, the class means' weight)."""
    weight = transfer.class_means_weight(recipe.images_start, share, len(evidence.labels) / evidence.n_classes,
                                         recipe.images_pseudo_shots)
    w, b = share * head[0], share * head[1]
    if weight > 0:
        norm = head[0].norm(dim=1).mean().item()
        imprinted = transfer.recentre(*transfer.imprint(evidence.features, evidence.labels, evidence.n_classes,
                                                        norm), evidence.target_mean())
        w, b = w + weight * imprinted[0], b + weight * imprinted[1]
    return (w, b), weight


@register("headstart", False,
          "default: the mean of the top-3 transferred heads of the path, jcn and text families (names only: "
          "the top-5 heads of text and all six WordNet measures, weighted per class by their agreement "
          "with the families' consensus, text counting as much as the six), a class named as a "
          "source class starting from that row, biases recentred on the target images; with labelled images "
          "it trusts the names as far as they predicted the shots (never seen by them) against the images "
          "alone, in its start and in its pull, the images' class means taking part of the start where both "
          "predict alike; the trained head is then blended with CLAP's fit of the names head "
          "(headstart.recipe.Recipe)",
          recipe=DEFAULT_RECIPE)
def headstart_plan(evidence: Evidence, seed: int, recipe: Recipe) -> Plan:
    head, record = names_head(evidence, recipe)
    if len(evidence.labels) == 0:  # names only
        return Plan(head, record=record)
    partner = None
    if recipe.cosine_share > 0:  # CLAP's fit of the names head, blended with the trained one at the end
        with single_thread():
            partner, chosen = few_shot.clap_head(evidence.features, evidence.labels, head, evidence.target_mean(),
                                                 recipe.cosine_epochs, sample_weight=evidence.sample_weight)
        record.update(cosine_share=recipe.cosine_share,
                      cosine_lambda=dict(zip(evidence.class_names, chosen["lambda"])))
    logits = evidence.features @ head[0].T + head[1]
    trust, task_trust = transfer.class_trust(logits, evidence.labels, evidence.n_classes, recipe.trust_shrinkage)
    strength = recipe.prior_weight * trust.pow(recipe.trust_power) / len(evidence.labels) ** recipe.prior_decay
    share, images_weight = 1.0, 0.0
    if recipe.images_compete:  # the names keep the start as far as they out-predict the images alone
        images = transfer.leave_one_out_prototype_logits(evidence.features, evidence.labels, evidence.n_classes)
        share = transfer.names_share(logits, images, evidence.labels)
        head, images_weight = competing_start(evidence, head, share, recipe)
    why = (f"the names' head predicted the {len(evidence.labels)} training images it never saw "
           f"{100 * task_trust:.0f} % of the way from chance to certainty")
    if recipe.images_compete:
        why += (f"; the images alone (each left out) predicted them {'worse' if share > 0.5 else 'better'}: "
                f"the names keep {100 * share:.0f} % of the start")
    if images_weight:
        why += f", the images' class means take {100 * images_weight:.0f} %"
    if partner is not None:
        why += f"; the trained head is blended with CLAP's fit of the names head ({100 * recipe.cosine_share:.0f} %)"
    record.update(task_trust=round(task_trust, 4), names_share=round(share, 4), images_share=round(images_weight, 4),
                  trust={name: round(t, 4) for name, t in zip(evidence.class_names, trust.tolist())}, why=why)
    return Plan(head, prior=head, prior_strength=strength, record=record, partner=partner,
                partner_share=recipe.cosine_share)
