#!/usr/bin/python3
"""Self-tests of the PyTorch reference (plain asserts; run: /usr/bin/python3 weights-tools/test_reference.py).

  1. Slaney mel filters == openai/whisper's mel_128 / mel_80 (shared/corpus/frontend/mel_filters.npz)
  2. log-mel == an independent numpy implementation (explicit framing + rfft, float64)
  3. audio token counts (full window 375, 960 samples -> 0, 961 -> 1, window split of long audio)
  4. KV-cache decoding == full recompute of the whole sequence
  5. beam search with B=1 == greedy
  6. beam search == a second, slot-based emulation of transformers' vectorised beam search, on a toy model,
     for early_stopping True / False / "never" and hand-made eos cases
  7. partial RoPE: half-split on permuted q/k rows == interleaved pairs on the original rows (spec §2 note)
  8. tokenizer: GLM-4 pre-tokenizer pieces, special tokens atomic, decode(encode(x)) == x
  9. safetensors writer/reader round trip, BF16 rounding == torch's
"""

import os
import random
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bpe_tokenizer as bt  # noqa: E402
import glmasr_reference as ref  # noqa: E402
import make_checkpoint as mc  # noqa: E402
import st_io  # noqa: E402

NPZ = os.path.join(mc.CORPUS, "frontend", "mel_filters.npz")


def synthetic_audio(seconds, seed=0):
    """A chirp plus noise: deterministic, no corpus needed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * ref.SAMPLE_RATE)) / ref.SAMPLE_RATE
    x = 0.3 * np.sin(2 * np.pi * (200 + 600 * t) * t) + 0.05 * rng.standard_normal(len(t))
    return x.astype(np.float32)


def test_mel_filters():
    if not os.path.exists(NPZ):
        print("  (skipped: no mel_filters.npz)")
        return
    d = np.load(NPZ)
    for n in (128, 80):
        mine = ref.mel_filter_bank(n).T.astype(np.float32)
        err = np.abs(mine - d[f"mel_{n}"]).max()
        assert err < 1e-6, (n, err)
        print(f"  mel_{n}: max |diff| {err:.2e}")


def test_log_mel_vs_numpy():
    x = synthetic_audio(4.0)
    wins, valid = ref.split_windows(x, 21)
    fb = ref.mel_filter_bank(128)
    mine = ref.log_mel(wins, torch.from_numpy(fb.astype(np.float32)))[0].double().numpy()
    w = wins[0].astype(np.float64)
    padded = np.pad(w, (200, 200), mode="reflect")
    n = np.arange(400)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / 400)                   # periodic Hann
    frames = np.stack([padded[i * 160: i * 160 + 400] for i in range(3000)])   # last frame (3001st) dropped
    power = np.abs(np.fft.rfft(frames * hann, axis=1)) ** 2          # [3000, 201]
    logm = np.log10(np.maximum(power @ fb, 1e-10)).T                 # [128, 3000]
    logm = np.maximum(logm, logm.max() - 8.0)
    expect = (logm + 4.0) / 4.0
    err = np.abs(mine - expect).max()
    assert err < 2e-4, err
    print(f"  log-mel vs numpy float64: max |diff| {err:.2e}")


def test_token_counts():
    assert ref.audio_tokens_for_samples(480000) == 375
    assert ref.audio_tokens_for_samples(960) == 0 and ref.audio_tokens_for_samples(961) == 1
    # HF computes the count from the summed mask of all windows; per-window sums must agree
    for n in (1, 959, 16000, 46720, 479999, 480000, 480001, 518272, 1440000, 1500000):
        wins, valid = ref.split_windows(np.zeros(n, np.float32), 21)
        L = sum(-(-v // 160) for v in valid)
        c2 = (L - 1) // 2 + 1
        assert sum(ref.audio_tokens_for_samples(v) for v in valid) == (c2 - 4) // 4 + 1, n
    wins, valid = ref.split_windows(np.zeros(700 * 16000, np.float32), 21)
    assert len(wins) == 21 and valid == [480000] * 21                     # 630 s cap
    print("  counts ok")


def tiny_model(preset="tiny"):
    with tempfile.TemporaryDirectory(prefix="glmasr-" + preset + "-") as d:
        mc.make_checkpoint(preset, d)
        return ref.GlmAsrReference(d)          # everything is read into memory here


def test_kv_cache_and_beam1(m):
    res = m.run(synthetic_audio(2.5, seed=1), max_new_tokens=12, beams=1, capture_layers=False)
    ids, gen = res["prompt_ids"], res["greedy_ids"]
    full_ids = ids + gen
    x = m.dec.embed_ids(full_ids).clone()
    x[torch.tensor(full_ids) == m.cfg.audio_token_id] = res["projector_out"]
    with torch.no_grad():
        full_logits, _ = m.dec.forward(x[None], 0, None)
    T = len(ids)
    inc = torch.cat([res["prefill_logits"], res["greedy_step_logits"][1:]], dim=0)  # incremental, positions 0..
    err = (full_logits[0, : T + len(gen) - 1] - inc).abs().max().item()
    assert err < 1e-4, err
    print(f"  KV cache vs full recompute: max |diff| {err:.2e} over {T + len(gen) - 1} positions")
    # also prefill in two chunks through the cache
    with torch.no_grad():
        l1, c = m.dec.forward(x[None, :10], 0, None)
        l2, _ = m.dec.forward(x[None, 10:T], 10, c)
    err2 = (torch.cat([l1, l2], 1)[0] - res["prefill_logits"]).abs().max().item()
    assert err2 < 1e-4, err2
    hyps = res["beam_hyps"]
    assert hyps[0][1] == gen, (hyps[0][1], gen)
    lp = torch.log_softmax(res["greedy_step_logits"], -1)
    s = sum(float(lp[i, t]) for i, t in enumerate(gen)) / len(gen)
    assert abs(hyps[0][0] - s) < 1e-4, (hyps[0][0], s)
    print(f"  beam B=1 == greedy ({len(gen)} tokens), score {hyps[0][0]:.5f}")


# ---------------------------------------------------------------------------------------------------------------
# toy model for beam search: logits depend on the whole prefix through a hash


class ToyDec:
    def __init__(self, vocab, seed, eos_boost=None):
        self.V, self.seed, self.eos_boost = vocab, seed, eos_boost or {}

    def logits_for(self, prefix):
        g = torch.Generator().manual_seed(hash((self.seed,) + tuple(prefix)) % (2 ** 31))
        lg = 3.0 * torch.randn(self.V, generator=g)
        for t, b in self.eos_boost.items():
            lg[t] += b
        return lg

    def embed_ids(self, ids):
        return torch.tensor(ids, dtype=torch.float32)[..., None]      # [B, 1, 1] carrying the token id

    def forward(self, x, pos, cache):
        hist = torch.cat([cache[0][0], x[:, None, :, :]], dim=2)    # [B, 1, S, 1]
        logits = torch.stack([self.logits_for([int(v) for v in h[0, :, 0]]) for h in hist])
        return logits[:, None, :], [[hist, hist]]


def hf_like_beam(dec, B, max_new, eos, lp=1.0, es=True):
    """Second emulation of transformers' vectorised beam search, written slot by slot with numpy float32."""
    V, K, NEG = dec.V, max(2, 1 + len(eos)) * B, np.float32(-1e9)
    f32 = np.float32
    run_seq = [[] for _ in range(B)]
    run_sc = np.array([0.0] + [-1e9] * (B - 1), dtype=f32)
    fin_seq = [None] * B
    fin_sc = np.full(B, NEG, dtype=f32)
    fin_done = np.zeros(B, dtype=bool)
    unsat = True
    cur = 0
    while True:
        logp = np.stack([torch.log_softmax(dec.logits_for(s), -1).numpy() for s in run_seq]).astype(f32)
        acc = (logp + run_sc[:, None]).reshape(-1).astype(f32)
        order = np.argsort(-acc, kind="stable")[:K]
        cand_sc = acc[order]
        cand_seq = [run_seq[i // V] + [i % V] for i in order]
        hit = np.array([s[-1] in eos or len(s) >= max_new for s in cand_seq])
        run_masked = (cand_sc + hit.astype(f32) * NEG).astype(f32)
        keep = np.argsort(-run_masked, kind="stable")[:B]
        new_run_seq = [cand_seq[i] for i in keep]
        new_run_sc = run_masked[keep]
        just = hit & (np.arange(K) < B)
        norm = (cand_sc / f32((cur + 1) ** lp)).astype(f32)
        norm = norm + f32(-1e9) * f32(bool(fin_done.all()) and es is True)
        norm = norm + f32(-1e9) * f32(not unsat)
        norm = (norm + (~just).astype(f32) * NEG).astype(f32)
        m_sc = np.concatenate([fin_sc, norm])
        m_seq = fin_seq + cand_seq
        m_done = np.concatenate([fin_done, just])
        top = np.argsort(-m_sc, kind="stable")[:B]
        fin_sc, fin_seq, fin_done = m_sc[top], [m_seq[i] for i in top], m_done[top]
        run_seq, run_sc = new_run_seq, new_run_sc
        cur += 1
        best_len = max_new if (es == "never" and lp > 0) else cur
        best_run = f32(run_sc[0] / f32(best_len ** lp))
        worst = np.where(fin_done, fin_sc.min(), NEG)
        unsat = unsat and bool(np.any(best_run > worst))
        if not (unsat and not (fin_done.all() and es is True) and not hit.all()):
            return [(float(fin_sc[i]), fin_seq[i]) for i in range(B) if fin_done[i]]


def run_toy_beam(dec, B, max_new, eos, lp=1.0, es=True):
    cache = [[torch.zeros(1, 1, 0, 1), torch.zeros(1, 1, 0, 1)]]
    first = dec.logits_for([])
    return ref.beam_search(dec, first, cache, 0, B, max_new, eos, length_penalty=lp, early_stopping=es)


def test_beam_vs_emulation():
    n = 0
    for trial in range(60):
        rnd = random.Random(trial)
        V = rnd.choice([7, 12, 30])
        eos = rnd.sample(range(V), rnd.choice([1, 2, 3]))
        boost = {e: rnd.uniform(-1.0, 3.0) for e in eos}
        dec = ToyDec(V, trial, boost)
        B = rnd.choice([1, 2, 3, 4])
        if V < max(2, 1 + len(eos)) * B:
            continue
        max_new = rnd.choice([1, 2, 5, 9])
        es = rnd.choice([True, True, False, "never"])
        lp = rnd.choice([1.0, 1.0, 0.5, 2.0])
        a = run_toy_beam(dec, B, max_new, eos, lp, es)
        b = hf_like_beam(dec, B, max_new, eos, lp, es)
        assert [h[1] for h in a] == [h[1] for h in b], (trial, a, b)
        assert all(abs(x[0] - y[0]) < 1e-5 for x, y in zip(a, b)), (trial, a, b)
        n += 1
    print(f"  beam search == slot emulation on {n} toy cases")
    # eos at rank B (just outside the first B candidates) must not become a hypothesis
    V = 8

    class Fixed(ToyDec):
        def logits_for(self, prefix):
            lg = torch.full((V,), -20.0)
            if not prefix:
                lg[1], lg[2], lg[0] = 5.0, 4.0, 3.0          # eos 0 ranks 3rd with B=2 -> not added
            else:
                lg[0], lg[3] = 5.0, 4.9                       # eos ranks 1st -> hypothesis
            return lg

    hyps = run_toy_beam(Fixed(V, 0), 2, 6, [0])
    assert len(hyps) == 2 and all(h[1] != [0] and h[1][-1] == 0 for h in hyps), hyps
    # normalisation uses the generated length incl. eos: score = (lp(1) + lp(0 | 1)) / 2
    lp1 = torch.log_softmax(Fixed(V, 0).logits_for([]), -1)
    lp2 = torch.log_softmax(Fixed(V, 0).logits_for([1]), -1)
    expect = float((lp1[1] + lp2[0]) / 2)
    assert abs(hyps[0][0] - expect) < 1e-6 and hyps[0][1] == [1, 0], (hyps, expect)
    print("  eos-rank rule and length normalisation ok")


def test_rope_interleaved_equivalence():
    torch.manual_seed(0)
    H, hd, rot, d, T = 3, 16, 8, 24, 11
    Wq, Wk = torch.randn(H * hd, d), torch.randn(H * hd, d)
    bq = torch.randn(H * hd)
    x = torch.randn(T, d)
    inv = 1.0 / (10000.0 ** (torch.arange(0, rot, 2).double() / rot))
    ang = torch.arange(T).double()[:, None] * inv[None, :]                          # [T, rot/2]

    def interleaved(v):  # v [T, H, hd]; pairs (2i, 2i+1) rotate by angle i, dims >= rot pass through
        v = v.double().clone()
        a, b = v[..., 0:rot:2].clone(), v[..., 1:rot:2].clone()
        c, s = ang.cos()[:, None, :], ang.sin()[:, None, :]
        v[..., 0:rot:2], v[..., 1:rot:2] = a * c - b * s, b * c + a * s
        return v

    q0 = interleaved((x @ Wq.T + bq).view(T, H, hd))
    k0 = interleaved((x @ Wk.T).view(T, H, hd))
    perm_head = list(range(0, rot, 2)) + list(range(1, rot, 2)) + list(range(rot, hd))
    perm = torch.tensor([h * hd + p for h in range(H) for p in perm_head])
    cos, sin = ref.rope_cos_sin(torch.arange(T), rot, 10000.0, torch.float64)
    q1 = ref.apply_rope_half((x @ Wq[perm].T + bq[perm]).view(T, H, hd).transpose(0, 1).double(), cos, sin)
    k1 = ref.apply_rope_half((x @ Wk[perm].T).view(T, H, hd).transpose(0, 1).double(), cos, sin)
    s0 = torch.einsum("thd,shd->hts", q0, k0)
    s1 = q1 @ k1.transpose(-1, -2)
    err = (s0 - s1).abs().max().item()
    assert err < 1e-6 * s0.abs().max().item(), err
    print(f"  interleaved(original) vs half-split(permuted) attention scores: max |diff| {err:.2e}")


def test_tokenizer(m):
    assert bt.pretokenize("Hello  world's 12345\n\n  x!!\r\n") == \
        ["Hello", " ", " world", "'s", " ", "123", "45", "\n\n", " ", " x", "!!\r\n"]
    tk = m.tok
    text = "<|user|>\nhi<|pad|><|pad|>there\u4e2d\u6587 it's<|assistant|>\n"
    ids = tk.encode(text)
    pad = tk.token_to_id("<|pad|>")
    assert ids.count(pad) == 2 and ids[0] == tk.token_to_id("<|user|>") and ids[1] == 10
    assert tk.decode(ids, skip_special_tokens=False) == text
    assert tk.decode(ids) == "\nhithere\u4e2d\u6587 it's\n"
    print("  tokenizer ok")


def test_safetensors_roundtrip():
    x = torch.randn(1000) * 3
    bits = st_io.f32_to_bf16_bits(x.numpy())
    assert np.array_equal(bits, x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16))
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "t.safetensors")
        st_io.save_file({"a": x.numpy(), "b": np.arange(5, dtype=np.int32)}, p, metadata={"k": "v"},
                        dtypes={"a": "BF16"})
        t, meta = st_io.load_file(p)
        assert meta == {"k": "v"} and t["b"].tolist() == [0, 1, 2, 3, 4]
        assert np.array_equal(t["a"], x.to(torch.bfloat16).float().numpy())
        with open(p, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
        assert (8 + n) % 8 == 0
    print("  safetensors ok")


def main():
    torch.set_num_threads(1)
    tests = [("mel filters", test_mel_filters), ("log-mel", test_log_mel_vs_numpy), ("token counts", test_token_counts),
             ("beam vs emulation", test_beam_vs_emulation), ("rope", test_rope_interleaved_equivalence),
             ("safetensors", test_safetensors_roundtrip)]
    for name, fn in tests:
        print(name)
        fn()
    for preset in ("tiny", "tiny-b"):
        m = tiny_model(preset)
        print(f"kv cache / beam1 ({preset})")
        test_kv_cache_and_beam1(m)
        print(f"tokenizer ({preset})")
        test_tokenizer(m)
    print("all reference self-tests passed")


if __name__ == "__main__":
    main()
