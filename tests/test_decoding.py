"""Constrained diverse beam search (semid_nb.evaluation) against exact references, on a tiny random T5."""
import pytest
import torch
from transformers import T5Config, T5ForConditionalGeneration

from semid_nb.decoding import IDTrie, _decoder_logits, _encode, diverse_beam_search, exhaustive_scores

N_ITEMS, L, N_Q = 25, 3, 6


@pytest.fixture(scope="module")
def setup():
    """Tiny random T5, 25 unique L=3 IDs over tokens 10..40, and 6 random queries."""
    torch.manual_seed(0)
    cfg = T5Config(vocab_size=64, d_model=32, d_ff=64, num_layers=1, num_decoder_layers=1, num_heads=2, d_kv=16,
                   decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    model = T5ForConditionalGeneration(cfg).eval()
    codes = set()
    while len(codes) < N_ITEMS:  # few distinct first tokens so the trie actually branches
        codes.add((int(torch.randint(10, 14, ())), int(torch.randint(10, 41, ())), int(torch.randint(10, 41, ()))))
    item_tokens = torch.tensor(sorted(codes))
    input_ids = torch.randint(2, 64, (N_Q, 7))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[::2, 5:] = 0  # some padded queries
    return model, IDTrie(item_tokens), item_tokens, input_ids, attention_mask


def test_trie_structure_and_lookup(setup):
    _, trie, item_tokens, _, _ = setup
    assert trie.level_sizes[-1] == N_ITEMS and trie.level_sizes[0] == 1
    assert torch.equal(trie.cand_tokens, torch.unique(item_tokens))
    assert torch.equal(trie.tokens_to_items(item_tokens), torch.arange(N_ITEMS))
    bad = torch.tensor([[10, 10, 63], [5, 11, 12], [41, 41, 41]])  # 63/5/41 not in catalogue -> -1
    assert torch.equal(trie.tokens_to_items(bad), torch.full((3,), -1))
    assert (trie.leaf_item >= 0).sum() == N_ITEMS


def test_last_logits_match_model(setup):
    model, _, _, ids, am = setup
    dec = torch.randint(2, 64, (N_Q, 3))
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=am, decoder_input_ids=dec, use_cache=False).logits
        got = _decoder_logits(model, _encode(model, ids, am), am, dec, last_only=False)
    assert torch.allclose(ref, got, atol=1e-5)


def test_exhaustive_beam_equals_exhaustive_scores(setup):
    model, trie, item_tokens, ids, am = setup
    ref = exhaustive_scores(model, ids, am, trie, batch_size=4, item_batch_size=7)
    assert torch.allclose(ref, exhaustive_scores(model, ids, am, item_tokens), atol=1e-5)
    k = 32  # >= nodes at every level -> beam search is exact
    assert k >= max(trie.level_sizes)
    items, scores = diverse_beam_search(model, ids, am, trie, num_beams=k, num_groups=1, diversity_penalty=0.0)
    top, top_idx = ref.sort(dim=1, descending=True)
    assert torch.equal(items[:, :N_ITEMS], top_idx)
    assert torch.allclose(scores[:, :N_ITEMS], top, atol=1e-4)
    assert (items[:, N_ITEMS:] == -1).all() and torch.isinf(scores[:, N_ITEMS:]).all()


def test_first_group_equals_plain_beam_search(setup):
    model, trie, _, ids, am = setup
    _, _, grp = diverse_beam_search(model, ids, am, trie, num_beams=8, num_groups=4, diversity_penalty=0.7,
                                    return_groups=True)
    _, _, plain = diverse_beam_search(model, ids, am, trie, num_beams=2, num_groups=1, return_groups=True)
    assert torch.equal(grp["tokens"][:, 0], plain["tokens"][:, 0])
    assert torch.allclose(grp["raw_scores"][:, 0], plain["raw_scores"][:, 0], atol=1e-5)
    assert torch.allclose(grp["pen_scores"][:, 0], plain["pen_scores"][:, 0], atol=1e-5)
    assert not torch.equal(grp["tokens"][:, 1], grp["tokens"][:, 0])  # later groups are pushed elsewhere


@pytest.mark.parametrize("constrained", [True, False])
@pytest.mark.parametrize("num_beams,num_groups", [(8, 4), (30, 15), (40, 10)])
def test_outputs_valid_and_deduplicated(setup, constrained, num_beams, num_groups):
    model, trie, _, ids, am = setup
    items, scores = diverse_beam_search(model, ids, am, trie, num_beams=num_beams, num_groups=num_groups,
                                        diversity_penalty=0.5, constrained=constrained)
    assert items.shape == scores.shape == (N_Q, num_beams)
    assert not torch.isnan(scores).any()
    for row, sc in zip(items.tolist(), scores):
        n_valid = sum(i >= 0 for i in row)
        assert all(0 <= i < N_ITEMS for i in row[:n_valid]) and all(i == -1 for i in row[n_valid:])
        assert len(set(row[:n_valid])) == n_valid
        assert torch.isfinite(sc[:n_valid]).all() and torch.isinf(sc[n_valid:]).all()
        assert (sc[:n_valid].diff() <= 0).all()
        if constrained:
            assert n_valid >= 1
    # scores are exact log-probs of the returned items
    ref = exhaustive_scores(model, ids, am, trie)
    valid = items >= 0
    assert torch.allclose(ref.gather(1, items.clamp(min=0))[valid], scores[valid], atol=1e-4)


def test_zero_penalty_gives_identical_groups(setup):
    model, trie, _, ids, am = setup
    _, _, grp = diverse_beam_search(model, ids, am, trie, num_beams=12, num_groups=4, diversity_penalty=0.0,
                                    return_groups=True)
    for g in range(1, 4):
        assert torch.equal(grp["tokens"][:, g], grp["tokens"][:, 0])
        assert torch.allclose(grp["raw_scores"][:, g], grp["raw_scores"][:, 0], atol=1e-5)
    items, _ = diverse_beam_search(model, ids, am, trie, num_beams=12, num_groups=4, diversity_penalty=0.0)
    assert ((items >= 0).sum(1) <= 3).all()  # only the 3 beams of one group are distinct


def test_penalty_increases_diversity(setup):
    model, trie, _, ids, am = setup
    n_distinct = []
    for pen in (0.0, 0.5, 5.0):
        items, _ = diverse_beam_search(model, ids, am, trie, num_beams=20, num_groups=10, diversity_penalty=pen)
        n_distinct.append((items >= 0).sum(1))
    assert (n_distinct[1] >= n_distinct[0]).all() and (n_distinct[2] >= n_distinct[0]).all()
    assert (n_distinct[2] > n_distinct[0]).any()


@pytest.mark.parametrize("constrained", [True, False])
def test_batch_chunking_is_invariant(setup, constrained):
    model, trie, _, ids, am = setup
    kw = dict(num_beams=10, num_groups=5, diversity_penalty=0.3, constrained=constrained)
    a_items, a_scores = diverse_beam_search(model, ids, am, trie, batch_size=64, **kw)
    b_items, b_scores = diverse_beam_search(model, ids, am, trie, batch_size=4, **kw)
    assert torch.equal(a_items, b_items)
    assert torch.allclose(a_scores, b_scores, atol=1e-5)


def _naive_group_beam_search(model, ids, am, item_tokens, K, G, penalty):
    """Loop-per-beam reference of HF-style diverse beam search (constrained) for one query."""
    S, L_ = K // G, item_tokens.shape[1]
    prefixes = {tuple(r[:d]) for r in item_tokens.tolist() for d in range(1, L_ + 1)}
    cand = torch.unique(item_tokens).tolist()
    groups = [[((), 0.0, 0.0)] for _ in range(G)]  # (seq, penalized, raw); dead beams are simply absent
    for _ in range(L_):
        counts, new_groups = {}, []
        for beams in groups:
            options = []
            for seq, p, r in beams:
                with torch.no_grad():
                    lp = model(input_ids=ids, attention_mask=am, decoder_input_ids=torch.tensor([[0, *seq]]),
                               use_cache=False).logits[0, -1].log_softmax(-1)
                options += [(p + lp[t].item() - penalty * counts.get(t, 0), r + lp[t].item(), seq + (t,))
                            for t in cand if seq + (t,) in prefixes]
            chosen = sorted(options, key=lambda o: -o[0])[:S]
            for _, _, seq in chosen:
                counts[seq[-1]] = counts.get(seq[-1], 0) + 1
            new_groups.append([(s, p, r) for p, r, s in chosen])
        groups = new_groups
    return groups


@pytest.mark.parametrize("penalty", [0.0, 0.5, 2.0])
def test_matches_naive_reference(setup, penalty):
    model, trie, item_tokens, ids, am = setup
    K, G = 6, 3
    _, _, grp = diverse_beam_search(model, ids[:3], am[:3], trie, num_beams=K, num_groups=G,
                                    diversity_penalty=penalty, return_groups=True)
    for q in range(3):
        ref = _naive_group_beam_search(model, ids[q:q + 1], am[q:q + 1], item_tokens, K, G, penalty)
        for g, beams in enumerate(ref):
            for j, (seq, p, r) in enumerate(beams):
                assert tuple(grp["tokens"][q, g, j].tolist()) == seq
                assert abs(grp["pen_scores"][q, g, j].item() - p) < 1e-4
                assert abs(grp["raw_scores"][q, g, j].item() - r) < 1e-4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(setup):
    model, trie, item_tokens, ids, am = setup
    kw = dict(num_beams=10, num_groups=5, diversity_penalty=0.3)
    c_items, c_scores = diverse_beam_search(model, ids, am, trie, **kw)
    g_model, g_trie = T5ForConditionalGeneration(model.config).cuda().eval(), IDTrie(item_tokens).to("cuda")
    g_model.load_state_dict(model.state_dict())
    g_items, g_scores = diverse_beam_search(g_model, ids.cuda(), am.cuda(), g_trie, **kw)
    assert torch.equal(g_items.cpu(), c_items) and torch.allclose(g_scores.cpu(), c_scores, atol=1e-4)
    assert torch.allclose(exhaustive_scores(g_model, ids, am, g_trie).cpu(),
                          exhaustive_scores(model, ids, am, trie), atol=1e-4)
