"""On a GPU (skipped without one): decoding on CUDA returns what it returns on the CPU, and training on CUDA (bf16
autocast) follows the CPU's loss within 5%. tools/device_check.sh runs this file on a lent GPU."""
import pytest, torch
from transformers import T5Config, T5ForConditionalGeneration
from semid_nb.decoding import IDTrie, diverse_beam_search, trie_scores, exact_top_items
from semid_nb.joint_model import train_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def tiny(seed=0):
    torch.manual_seed(seed)
    return T5ForConditionalGeneration(T5Config(vocab_size=80, d_model=32, d_ff=64, num_layers=2, num_heads=2, d_kv=16,
                                               decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)).eval()


@pytest.fixture(scope="module")
def setup():
    g = torch.Generator().manual_seed(0)
    codes = torch.unique(torch.stack([torch.randint(10, 20, (60,), generator=g), torch.randint(20, 60, (60,), generator=g),
                                      torch.randint(60, 62, (60,), generator=g)], 1), dim=0)
    x = torch.randint(2, 80, (12, 9), generator=g); am = torch.ones_like(x); am[::3, 6:] = 0
    return codes, x, am


def test_decoding_on_cuda_matches_cpu(setup):
    codes, x, am = setup
    cpu, gpu = tiny(), tiny().cuda()
    kw = dict(num_beams=12, num_groups=6, diversity_penalty=0.3)
    ci, cs = diverse_beam_search(cpu, x, am, IDTrie(codes), **kw)
    gi, gs = diverse_beam_search(gpu, x.cuda(), am.cuda(), IDTrie(codes).to("cuda"), **kw)
    assert torch.equal(gi.cpu(), ci) and torch.allclose(gs.cpu(), cs, atol=1e-4)
    assert torch.allclose(trie_scores(gpu, x, am, IDTrie(codes)).cpu(), trie_scores(cpu, x, am, IDTrie(codes)), atol=1e-4)
    assert torch.equal(exact_top_items(gpu, x.cuda(), am.cuda(), IDTrie(codes), k=5).cpu(), exact_top_items(cpu, x, am, IDTrie(codes), k=5))


def test_training_on_cuda_follows_cpu(setup):
    codes, x, am = setup
    src = [r[m.bool()].tolist() for r, m in zip(x, am)] * 8
    ex = {"source": src, "target": [c.tolist() + [1] for c in codes[torch.arange(len(src)) % len(codes)]]}
    tok = type("Tok", (), {"pad_token_id": 0})()
    runs = {dev: train_model(tiny(), tok, ex, epochs=4, lr=3e-3, batch_size=16, progress=False, device=torch.device(dev))["losses"]
            for dev in ("cpu", "cuda")}
    tail = {d: sum(l[-5:]) / 5 for d, l in runs.items()}
    assert runs["cuda"][0] == pytest.approx(runs["cpu"][0], rel=0.02)
    assert tail["cuda"] == pytest.approx(tail["cpu"], rel=0.05), tail
