"""End-to-end: the bench on a small real Fashion-MNIST subset (112 px, 200 test images)."""

import csv

import pytest
import torch

from headstart import transfer
from headstart.bench import BenchConfig, run_bench, unlabelled_indices
from headstart.data import few_shot_indices
from headstart.data.features import FeatureCache
from headstart.errors import UserError
from headstart.methods import SEMANTIC_FAMILIES, averaged_head, create_method, get_method, transferred_head
from headstart.similarity import Evidence

SMALL = dict(model="efficientnet-lite0", dataset="fashion-mnist", resolution=112, test_size=200,
             epochs=20, eval_epochs=[0, 1, 5, 20])


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def key(row):
    return row["method"], row["shots"], row["seed"], row["epoch"]


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    config = BenchConfig(methods=["random", "logreg", "imprint", "wup", "headstart"], shots=[0, 1, 5],
                         seeds=2, out=str(out), **SMALL)
    run_bench(config, progress=False)
    return out, config


def test_bench_rows_follow_the_contract(bench_dir):
    out, _ = bench_dir
    rows = read_rows(out / "results.csv")
    assert {"model", "dataset", "method", "shots", "seed", "epoch", "accuracy"} <= set(rows[0])
    assert all(0.0 <= float(r["accuracy"]) <= 1.0 for r in rows)
    groups = {(r["method"], r["shots"], r["seed"]) for r in rows}
    # logreg and imprint need images: no shots-0 rows; every other group for 2 seeds x 3 shots
    assert len(groups) == 2 * (3 * 3 + 2 * 2)
    assert len({key(r) for r in rows}) == len(rows)
    random_curve = [r for r in rows if r["method"] == "random" and r["shots"] == "5" and r["seed"] == "0"]
    assert [r["epoch"] for r in random_curve] == ["0", "1", "5", "20"]
    assert [r["final"] for r in random_curve] == ["0", "0", "0", "1"]


def test_transfer_beats_chance_before_training(bench_dir):
    out, _ = bench_dir
    zero_shot = [float(r["accuracy"]) for r in read_rows(out / "results.csv")
                 if r["shots"] == "0" and r["method"] in ("wup", "headstart")]
    assert min(zero_shot) > 0.25  # chance is 0.10


def test_a_killed_bench_resumes_without_duplicates(bench_dir):
    out, config = bench_dir
    results = out / "results.csv"
    complete = read_rows(results)
    lines = results.read_text().splitlines(keepends=True)
    results.write_text("".join(lines[: len(lines) // 2]) + lines[len(lines) // 2][:7])  # torn last line
    run_bench(config, progress=False)
    resumed = read_rows(results)
    assert sorted(map(key, resumed)) == sorted(map(key, complete))
    by_key = {key(r): r["accuracy"] for r in complete}
    assert all(by_key[key(r)] == r["accuracy"] for r in resumed)  # same seed -> same numbers


def test_unknown_method_lists_the_valid_ones(tmp_path):
    with pytest.raises(UserError, match="logreg"):
        run_bench(BenchConfig(methods=["magic"], out=str(tmp_path), **SMALL), progress=False)


def evidence_with_names(lite0, fashion, names, shots=5):
    idx = few_shot_indices(fashion.train.labels, shots, seed=0)
    features = FeatureCache(lite0, fashion, "train", 112).get(idx, progress=False)
    return Evidence(lite0, names, features, torch.from_numpy(fashion.train.labels[idx]))


def test_headstart_falls_back_to_logreg_when_names_mislead(lite0, fashion):
    # names that point at the wrong classes (each name moved one class on) mislead the prior
    shifted = fashion.class_names[1:] + fashion.class_names[:1]
    meaningless = evidence_with_names(lite0, fashion, shifted)
    plan = get_method("headstart").build(meaningless, 0)
    reference = get_method("logreg").build(meaningless, 0)
    assert not plan.trains and torch.allclose(plan.init[0], reference.init[0])
    meaningful = evidence_with_names(lite0, fashion, fashion.class_names)
    plan = get_method("headstart").build(meaningful, 0)
    assert plan.trains and plan.prior_strength > 0


def test_headstart_starts_from_the_averaged_families_and_keeps_them_as_prior(lite0, fashion):
    evidence = evidence_with_names(lite0, fashion, fashion.class_names, shots=5)
    plan = get_method("headstart").build(evidence, 0)
    heads = [transferred_head(evidence, family, top_k=3) for family in ("path", "jcn", "text")]
    mean_head = (sum(w for w, _ in heads) / len(heads), sum(b for _, b in heads) / len(heads))
    expected = transfer.recentre(*mean_head, evidence.features.mean(dim=0))
    assert torch.allclose(plan.init[0], expected[0]) and torch.allclose(plan.init[1], expected[1], atol=1e-5)
    assert torch.allclose(plan.prior[0], expected[0]) and plan.prior_strength == 1 / 50
    assert plan.record["families"] == ["path", "jcn", "text"] and plan.record["recentred"]
    no_images = evidence_with_names(lite0, fashion, fashion.class_names, shots=0)
    names_only = get_method("headstart").build(no_images, 0)  # names only: all seven families
    assert names_only.prior is None and not names_only.record["recentred"]
    assert names_only.record["families"] == list(SEMANTIC_FAMILIES)
    assert torch.allclose(names_only.init[0], averaged_head(no_images, SEMANTIC_FAMILIES)[0])
    tuned = create_method("headstart", top_k=5, prior_weight=0.0).build(evidence, 0)
    assert tuned.prior_strength == 0 and tuned.record["top_k"] == 5
    with pytest.raises(UserError, match="no option 'topk'"):
        create_method("headstart", topk=5)


def test_unlabelled_images_recentre_the_names_only_head(lite0, fashion, bench_dir, tmp_path):
    out, config = bench_dir
    names_only = [float(r["accuracy"]) for r in read_rows(out / "results.csv")
                  if r["shots"] == "0" and r["method"] == "headstart" and r["seed"] == "0"]
    with_pool = BenchConfig(**{**vars(config), "methods": ["headstart"], "shots": [0], "seeds": 1,
                               "unlabelled": 100, "out": str(tmp_path)})
    run_bench(with_pool, progress=False)
    recentred = [float(r["accuracy"]) for r in read_rows(tmp_path / "results.csv")]
    assert recentred[0] > names_only[0]  # the same names; 100 unlabelled images (37.5 -> 39.5 % here)

    pool = FeatureCache(lite0, fashion, "train", 112).get(unlabelled_indices(len(fashion.train), 100, 0),
                                                          progress=False)
    evidence = evidence_with_names(lite0, fashion, fashion.class_names, shots=0)
    plain = get_method("headstart").build(evidence, 0).init
    evidence.unlabelled = pool
    w, b = get_method("headstart").build(evidence, 0).init
    assert torch.equal(w, plain[0]) and torch.allclose(b, plain[1] - plain[0] @ pool.mean(dim=0))


def test_unlabelled_count_must_not_be_negative(tmp_path):
    with pytest.raises(UserError, match="--unlabelled"):
        run_bench(BenchConfig(unlabelled=-1, out=str(tmp_path), **SMALL), progress=False)
