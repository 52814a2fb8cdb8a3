#!/usr/bin/python3
"""Train the small demo GLM-ASR model (closed-domain English digits / numbers / commands) on the CPU and export it
in the official checkpoint layout (exactly what weights-tools/make_checkpoint.py writes, BF16 weights).

The network IS the reference: the parameters live in a dict with the official tensor names and the forward pass
calls weights-tools/glmasr_reference.py (`project_audio`, `Decoder.forward`, `prompt_text`, RoPE helpers, mel
filter bank). Only the audio front end is arranged differently for speed, with identical results on every row the
model uses (checked against the reference `log_mel` + `encoder_forward` at start-up, `--check`):

  * Inference always encodes a whole 30 s window (3000 mel frames -> 1500 encoder frames) with bidirectional
    attention over all of it, padding included. The clips here are 1-9 s. Past the speech, every mel frame of the
    zero-padded window is the same constant (log10 floor, clamped at peak - 8), so every conv output row there is
    one constant vector (plus a special last row, where conv1 meets the window edge). We run the convs on the
    first M frames only and broadcast the constant rows: the encoder still sees exactly the 1500 rows inference
    sees.
  * The last encoder layer's output is only needed on the rows the projector keeps (4 x N_audio); its queries are
    restricted to those rows (keys / values still cover all 1500 positions). With a one-layer encoder this makes
    the whole encoder cost ~ (4 N_audio) x 1500 per head instead of 1500 x 1500.

Loss: cross-entropy on the answer tokens and the end token (`<|user|>`, one of the config's eos ids, so the
reference greedy search and the engine stop on it), given the official prompt (one string, wrapped here)
    <|user|>\\n<|begin_of_audio|><|pad|>*N<|end_of_audio|>
    <|user|>\\nPlease transcribe this audio into text<|assistant|>\\n
plus an auxiliary CTC loss on the projector output (a training-only linear head, not exported) that makes the
acoustic front end learn the words directly, long before the decoder learns to read the audio, plus (with
--guide-weight) a guided-attention loss: at the position that predicts answer word i, one head in each of
--guide-layers is pulled towards the audio rows where the CTC head's current alignment posterior puts word i.
That teaches the decoder to read the audio tokens in order about three times sooner (docs/demo-model.md).

    /usr/bin/python3 weights-tools/train/train.py [--data .cache/demo-data] [--out models/demo] [--steps N]
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
sys.path.insert(0, HERE)
import bpe_tokenizer as bt  # noqa: E402
import glmasr_reference as ref  # noqa: E402
import make_checkpoint as mc  # noqa: E402
import make_data as md  # noqa: E402
import st_io  # noqa: E402

# The architecture: official GLM-ASR structure at a small size (see docs/demo-model.md for the reasons).
ARCH = dict(
    audio=dict(d=128, heads=4, kv=4, hd=32, ffn=512, layers=1, prf=0.5, theta=10000.0),
    text=dict(d=128, heads=4, kv=2, hd=32, ffn=384, layers=3, eps=1e-5, theta=10000.0, max_pos=8192),
    tie=True, eos=["<|endoftext|>", "<|user|>", "<|observation|>"],
)
END_TOKEN = "<|user|>"          # what a trained answer ends with (any config eos id stops greedy decoding)
INSTRUCTION = ref.DEFAULT_PROMPT


# ==============================================================================================================
# tokenizer


def build_tokenizer():
    """Byte-level BPE trained on the domain words (with and without a leading space) and the instruction, merged
    until every such piece is a single token; GLM's 18 special tokens appended at id base_vocab."""
    texts = [w + " " + w for w in md.all_words()] + [INSTRUCTION] + md.COMMANDS
    vocab, merges = bt.train_bpe(texts, 100000)        # stops when no pair is left
    base = len(vocab)
    specials = [(base + i, t) for i, t in enumerate(mc.SPECIAL_TOKENS)]
    return bt.tokenizer_json(vocab, merges, specials), base


# ==============================================================================================================
# parameters


def init_params(names_shapes, seed):
    """Fresh trainable weights: Linear / Conv N(0, 1/fan_in) (residual outputs scaled by 1/sqrt(2 layers)),
    norms 1, biases 0, embeddings N(0, 0.02^2)... scaled to N(0, 1/d) for the tied embedding / lm_head."""
    g = torch.Generator().manual_seed(seed)
    W = {}
    n_res = 2 * max(ARCH["audio"]["layers"], ARCH["text"]["layers"])
    for name, shape in names_shapes:
        if name == "language_model.lm_head.weight":
            continue                                   # tied: the Decoder falls back to embed_tokens
        leaf = name.rsplit(".", 1)[-1]
        if "norm" in name:
            t = torch.ones(shape) if leaf == "weight" else torch.zeros(shape)
        elif leaf == "bias":
            t = torch.zeros(shape)
        elif name.endswith("embed_tokens.weight"):
            t = torch.randn(shape, generator=g) * (shape[1] ** -0.5)
        else:
            fan_in = int(np.prod(shape[1:]))
            t = torch.randn(shape, generator=g) * (fan_in ** -0.5)
            if any(k in name for k in ("o_proj", "fc2", "down_proj")):
                t = t / math.sqrt(n_res)
        W[name] = t.requires_grad_()
    return W


# ==============================================================================================================
# fast exact front end (see module docstring)


def pad_frames_start(n):
    """First mel frame whose 400-sample window lies entirely in the zero padding of a window with n samples."""
    return -(-(n + ref.N_FFT // 2) // ref.HOP)


def mel_head(samples, fb, M):
    """The first M log-mel frames of ref.log_mel(zero-padded 30 s window) for each clip, and each clip's padding
    value (the value of every mel bin of every frame past the speech). samples: list of float32 arrays."""
    L = ref.HOP * M + ref.N_FFT
    wav = torch.zeros(len(samples), L)
    for i, x in enumerate(samples):
        wav[i, :len(x)] = torch.from_numpy(x)
    window = torch.hann_window(ref.N_FFT)
    stft = torch.stft(wav, ref.N_FFT, ref.HOP, window=window, center=True, pad_mode="reflect", return_complex=True)
    power = stft[..., :M].abs() ** 2
    logm = torch.clamp(fb.T @ power, min=1e-10).log10()
    peak = torch.maximum(logm.amax(dim=(1, 2)), torch.tensor(-10.0))          # padding frames are exactly -10
    floor = torch.maximum(peak - 8.0, torch.tensor(-10.0))
    logm = torch.maximum(logm, (peak - 8.0)[:, None, None])
    return (logm + 4.0) / 4.0, (floor + 4.0) / 4.0


def conv_stack(W, x):
    p = "audio_tower."
    x = F.gelu(F.conv1d(x, W[p + "conv1.weight"], W[p + "conv1.bias"], stride=1, padding=1))
    return F.gelu(F.conv1d(x, W[p + "conv2.weight"], W[p + "conv2.bias"], stride=2, padding=1))


def encoder_rows(W, cfg, mel, pad_val, n_rows):
    """Encoder output rows [0, n_rows) of every clip, equal to ref.encoder_forward on the full 30 s window.
    mel: [B, n_mels, M] from mel_head (M even, every clip's speech ends >= 4 frames before M)."""
    B, n_mels, M = mel.shape
    T = ref.N_FRAMES // 2
    head = conv_stack(W, mel)[:, :, : M // 2 - 1]                        # exact rows (truncation is at M)
    tail = conv_stack(W, pad_val[:, None, None].expand(B, n_mels, 6))     # row 1: padding row, row 2: last row
    x = torch.cat([head, tail[:, :, 1:2].expand(B, cfg.a_d, T - head.shape[2] - 1), tail[:, :, 2:3]], dim=2)
    if cfg.a_layers == 1:
        return _single_layer_rows(W, cfg, head.transpose(1, 2), tail[:, :, 1:3].transpose(1, 2), n_rows)
    x = x.transpose(1, 2)                                                  # [B, 1500, d]
    H, hd = cfg.a_heads, cfg.a_hd
    cos, sin = ref.rope_cos_sin(torch.arange(T), cfg.a_rot, cfg.a_theta, x.dtype)
    for i in range(cfg.a_layers):
        q_ = f"audio_tower.layers.{i}."
        Tq = n_rows if i == cfg.a_layers - 1 else T
        h = F.layer_norm(x, (cfg.a_d,), W[q_ + "input_layernorm.weight"], W[q_ + "input_layernorm.bias"], cfg.a_ln_eps)
        k = ref.linear(h, W[q_ + "self_attn.k_proj.weight"]).view(B, T, cfg.a_kv, hd).transpose(1, 2)
        v = ref.linear(h, W[q_ + "self_attn.v_proj.weight"], W[q_ + "self_attn.v_proj.bias"])
        v = v.view(B, T, cfg.a_kv, hd).transpose(1, 2)
        q = ref.linear(h[:, :Tq], W[q_ + "self_attn.q_proj.weight"], W[q_ + "self_attn.q_proj.bias"])
        q = q.view(B, Tq, H, hd).transpose(1, 2)
        q, k = ref.apply_rope_half(q, cos[:Tq], sin[:Tq]), ref.apply_rope_half(k, cos, sin)
        if cfg.a_kv != H:
            k, v = k.repeat_interleave(H // cfg.a_kv, dim=1), v.repeat_interleave(H // cfg.a_kv, dim=1)
        att = torch.softmax((q @ k.transpose(-1, -2)) * hd ** -0.5, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, Tq, H * hd)
        x = x[:, :Tq] + ref.linear(o, W[q_ + "self_attn.o_proj.weight"], W[q_ + "self_attn.o_proj.bias"])
        x = _mlp(W, cfg, q_, x)
    return F.layer_norm(x, (cfg.a_d,), W["audio_tower.norm.weight"], W["audio_tower.norm.bias"], cfg.a_ln_eps)


def _mlp(W, cfg, q_, x):
    h = F.layer_norm(x, (cfg.a_d,), W[q_ + "post_attention_layernorm.weight"],
                     W[q_ + "post_attention_layernorm.bias"], cfg.a_ln_eps)
    h = F.gelu(ref.linear(h, W[q_ + "mlp.fc1.weight"], W[q_ + "mlp.fc1.bias"]))
    return x + ref.linear(h, W[q_ + "mlp.fc2.weight"], W[q_ + "mlp.fc2.bias"])


def _single_layer_rows(W, cfg, head, tail, n_rows):
    """One-layer encoder on a window whose rows are [head rows..., c, c, ..., c, last]: LayerNorm and the k / v
    projections are computed once per distinct row; keys are then placed at all 1500 positions (RoPE makes them
    differ), and the attention-weighted sum over the identical padding values is (sum of their weights) x v_c."""
    B, Mh, d = head.shape
    T = ref.N_FRAMES // 2
    H, KV, hd = cfg.a_heads, cfg.a_kv, cfg.a_hd
    q_ = "audio_tower.layers.0."
    u = torch.cat([head, tail], dim=1)                                     # [B, Mh + 2, d] distinct rows
    h = F.layer_norm(u, (d,), W[q_ + "input_layernorm.weight"], W[q_ + "input_layernorm.bias"], cfg.a_ln_eps)
    k = ref.linear(h, W[q_ + "self_attn.k_proj.weight"]).view(B, Mh + 2, KV, hd).transpose(1, 2)
    v = ref.linear(h, W[q_ + "self_attn.v_proj.weight"], W[q_ + "self_attn.v_proj.bias"])
    v = v.view(B, Mh + 2, KV, hd).transpose(1, 2)
    q = ref.linear(h[:, :n_rows], W[q_ + "self_attn.q_proj.weight"], W[q_ + "self_attn.q_proj.bias"])
    q = q.view(B, n_rows, H, hd).transpose(1, 2)
    cos, sin = ref.rope_cos_sin(torch.arange(T), cfg.a_rot, cfg.a_theta, q.dtype)
    k_all = torch.cat([k[:, :, :Mh], k[:, :, Mh:Mh + 1].expand(B, KV, T - Mh - 1, hd), k[:, :, Mh + 1:]], dim=2)
    q, k_all = ref.apply_rope_half(q, cos[:n_rows], sin[:n_rows]), ref.apply_rope_half(k_all, cos, sin)
    if KV != H:
        k_all, v = k_all.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
    # softmax over the three key groups without slicing one [.., 1500] score tensor (its backward would
    # zero-fill full-size gradients per slice): the padding keys share one value row, so only their weight sum
    # is needed
    q = q * hd ** -0.5
    l_head = q @ k_all[:, :, :Mh].transpose(-1, -2)
    l_pad = q @ k_all[:, :, Mh:T - 1].transpose(-1, -2)
    l_last = q @ k_all[:, :, T - 1:].transpose(-1, -2)
    m = torch.maximum(torch.maximum(l_head.amax(-1, keepdim=True), l_pad.amax(-1, keepdim=True)), l_last).detach()
    e_head, e_last = torch.exp(l_head - m), torch.exp(l_last - m)
    s_pad = torch.exp(l_pad - m).sum(-1, keepdim=True)
    z = e_head.sum(-1, keepdim=True) + s_pad + e_last
    o = (e_head @ v[:, :, :Mh] + s_pad * v[:, :, Mh:Mh + 1] + e_last * v[:, :, Mh + 1:]) / z
    o = o.transpose(1, 2).reshape(B, n_rows, H * hd)
    x = head[:, :n_rows] + ref.linear(o, W[q_ + "self_attn.o_proj.weight"], W[q_ + "self_attn.o_proj.bias"])
    x = _mlp(W, cfg, q_, x)
    return F.layer_norm(x, (cfg.a_d,), W["audio_tower.norm.weight"], W["audio_tower.norm.bias"], cfg.a_ln_eps)


def frames_needed(clips_n):
    """(M mel frames to compute, n encoder rows to produce, audio tokens per clip) for a batch."""
    ntok = [ref.audio_tokens_for_samples(n) for n in clips_n]
    M = max(pad_frames_start(n) for n in clips_n) + 8
    M = min(ref.N_FRAMES, -(-M // 8) * 8)
    return M, 4 * max(ntok), ntok


def audio_embeddings(W, cfg, fb, samples, spec_aug=None):
    """Projector output for a batch of clips: (list of [N_i, d_text], [B, n_rows/4, d_text] all rows, ntok)."""
    M, n_rows, ntok = frames_needed([len(x) for x in samples])
    assert M < ref.N_FRAMES, "clip too long for the fast path"
    mel, pad_val = mel_head(samples, fb, M)
    if spec_aug is not None:
        mel = spec_aug(mel, pad_val, [pad_frames_start(len(x)) for x in samples])
    enc = encoder_rows(W, cfg, mel, pad_val, n_rows)
    proj = ref.project_audio(W, cfg, enc, [n_rows // 4] * len(samples))   # [B * n_rows/4, d]
    proj = proj.view(len(samples), n_rows // 4, -1)
    return [proj[i, :n] for i, n in enumerate(ntok)], proj, ntok


def check_fast_path(W, cfg, fb, clips):
    """Max |difference| between the fast front end and the reference on the projector rows the model uses."""
    worst = 0.0
    with torch.no_grad():
        fast, _, ntok = audio_embeddings(W, cfg, fb, clips)
        for x, f, n in zip(clips, fast, ntok):
            wins, valid = ref.split_windows(x, 1)
            mel = ref.log_mel(wins, fb)
            enc = ref.encoder_forward(W, cfg, mel)
            want = ref.project_audio(W, cfg, enc, [ref.audio_tokens_for_samples(valid[0])])
            assert want.shape == f.shape, (want.shape, f.shape, n)
            worst = max(worst, float((want - f).abs().max() / (want.abs().max() + 1e-12)))
    return worst


def speed_perturb(x, factor):
    """x played `factor` times faster by linear-interpolation resampling: tempo and pitch/formants scale together
    (like `sox speed`), which imitates a shorter or longer vocal tract. Training only."""
    n = max(2, int(round(len(x) / factor)))
    return np.interp(np.arange(n) * factor, np.arange(len(x)), x).astype(np.float32)


class SpecAugment:
    """Masks a few mel bands and time spans inside the speech (training only), filled with the padding value."""

    def __init__(self, rng, p=0.5):
        self.rng, self.p = rng, p

    def __call__(self, mel, pad_val, speech_frames):
        mel = mel.clone()
        for b in range(mel.shape[0]):
            if self.rng.random() > self.p:
                continue
            for _ in range(2):
                w = int(self.rng.integers(0, 13))
                f0 = int(self.rng.integers(0, mel.shape[1] - w))
                mel[b, f0:f0 + w, : speech_frames[b]] = pad_val[b]
            for _ in range(2):
                w = int(self.rng.integers(0, max(1, min(10, speech_frames[b] // 10))))
                t0 = int(self.rng.integers(0, max(1, speech_frames[b] - w)))
                mel[b, :, t0:t0 + w] = pad_val[b]
        return mel


# ==============================================================================================================
# batches and loss


def ctc_word_posteriors(lp, labels):
    """CTC forward-backward on one clip: lp [N, C] log-probs (numpy), labels [S] (no blanks, blank = 0) ->
    [S, N], the posterior probability that audio row t emits label s, over all alignments of the labels."""
    N, S = lp.shape[0], len(labels)
    ext = np.zeros(2 * S + 1, dtype=np.int64)
    ext[1::2] = labels
    L = len(ext)
    skip = np.zeros(L, dtype=bool)                     # s-2 -> s allowed: a label that differs from the one before
    skip[3::2] = ext[3::2] != ext[1:-2:2]
    emit = lp[:, ext]                                   # [N, L]
    alpha = np.full((N, L), -np.inf)
    beta = np.full((N, L), -np.inf)
    alpha[0, :2] = emit[0, :2]
    for t in range(1, N):
        a = alpha[t - 1]
        prev = np.logaddexp(a, np.concatenate([[-np.inf], a[:-1]]))
        prev = np.where(skip, np.logaddexp(prev, np.concatenate([[-np.inf, -np.inf], a[:-2]])), prev)
        alpha[t] = prev + emit[t]
    beta[N - 1, L - 2:] = 0.0
    for t in range(N - 2, -1, -1):
        b = beta[t + 1] + emit[t + 1]
        nxt = np.logaddexp(b, np.concatenate([b[1:], [-np.inf]]))
        skip_from = np.concatenate([skip[2:], [False, False]])     # s -> s+2 allowed when s+2 may skip
        nxt = np.where(skip_from, np.logaddexp(nxt, np.concatenate([b[2:], [-np.inf, -np.inf]])), nxt)
        beta[t] = nxt
    logz = np.logaddexp(alpha[N - 1, L - 1], alpha[N - 1, L - 2])
    return np.exp(alpha[:, 1::2] + beta[:, 1::2] - logz).T


class Batcher:
    """Length-bucketed shuffled batches of the clip indices `ids` (seeded)."""

    def __init__(self, ids, lengths, batch, rng):
        self.ids, self.lengths, self.batch, self.rng = np.asarray(ids), np.asarray(lengths), batch, rng

    def epoch(self):
        idx = self.ids[self.rng.permutation(len(self.ids))]
        out = []
        chunk = self.batch * 50
        for s in range(0, len(idx), chunk):
            part = idx[s:s + chunk]
            part = part[np.argsort(self.lengths[part], kind="stable")]
            out += [part[i:i + self.batch] for i in range(0, len(part), self.batch)]
        order = self.rng.permutation(len(out))
        return [out[i] for i in order]


def repeat_by_kind(clips, spec):
    """Clip indices for one epoch: every clip once, or N times if its kind is named in spec ("KIND:N,...")."""
    repeat = {k: int(n) for k, n in (kv.split(":") for kv in spec.split(",") if kv)}
    unknown = set(repeat) - set(md.KINDS)
    if unknown:
        raise ValueError(f"unknown text kind {sorted(unknown)} in --kind-repeat {spec!r}")
    return [i for i, m in enumerate(clips) for _ in range(repeat.get(m["kind"], 1))]


class Task:
    """Everything that turns clips + texts into a loss with the reference decoder."""

    def __init__(self, W, cfg, tok, fb, ctc_ids, ctc_head):
        self.W, self.cfg, self.tok, self.fb = W, cfg, tok, fb
        self.dec = ref.Decoder(W, cfg)
        self.end_id = tok.token_to_id(END_TOKEN)
        # CTC on the projector output through a training-only linear head: blank, then the domain's word tokens
        self.ctc_head = ctc_head
        self.ctc_labels = {t: k + 1 for k, t in enumerate(ctc_ids)}

        self._prompts = {}

    def answer_ids(self, text):
        return self.tok.encode(text)

    def prompt_ids(self, n_audio):
        if n_audio not in self._prompts:
            self._prompts[n_audio] = self.tok.encode(ref.prompt_text(n_audio, INSTRUCTION))
        return self._prompts[n_audio]

    def loss(self, samples, texts, spec_aug=None, ctc_weight=0.3, guide_weight=0.0, guide_layers=(), guide_head=0):
        cfg = self.cfg
        audio, proj, ntok = audio_embeddings(self.W, cfg, self.fb, samples, spec_aug)
        seqs, tgts = [], []
        for n, text in zip(ntok, texts):
            prompt = self.prompt_ids(n)
            ans = self.answer_ids(text) + [self.end_id]
            ids = prompt + ans
            seqs.append(ids)
            tgts.append([-100] * (len(prompt) - 1) + ans + [-100])     # position t predicts token t+1
        T = max(len(s) for s in seqs)
        B = len(seqs)
        ids = torch.full((B, T), self.end_id, dtype=torch.long)
        tgt = torch.full((B, T), -100, dtype=torch.long)
        for b, (s, t) in enumerate(zip(seqs, tgts)):
            ids[b, :len(s)] = torch.tensor(s)
            tgt[b, :len(t)] = torch.tensor(t)
        x = self.dec.embed_ids(ids)
        is_audio = ids == cfg.audio_token_id
        x = x.masked_scatter(is_audio[..., None], torch.cat(audio, dim=0))   # in order, like HF masked_scatter
        probs = {i: None for i in guide_layers} if guide_weight > 0 else None
        logits, _ = self.dec.forward(x, 0, None, probs)
        ce = F.cross_entropy(logits.reshape(B * T, -1), tgt.reshape(-1), ignore_index=-100)
        with torch.no_grad():
            m = tgt != -100
            hit = logits.argmax(-1) == tgt
            acc = float(hit[m].float().mean())
            seq_ok = float((hit | ~m).all(dim=1).float().mean())
        loss = ce
        ctc = torch.tensor(0.0)
        if ctc_weight > 0:
            # auxiliary CTC on the audio embeddings: trains the acoustic front end directly
            lp = F.log_softmax(ref.linear(proj, self.ctc_head), dim=-1).transpose(0, 1)   # [N, B, C]
            targets = [torch.tensor([self.ctc_labels[i] for i in self.answer_ids(t)]) for t in texts]
            ctc = F.ctc_loss(lp, torch.cat(targets), torch.tensor(ntok), torch.tensor([len(t) for t in targets]),
                             blank=0, zero_infinity=True)
            loss = loss + ctc_weight * ctc
        guide = torch.tensor(0.0)
        if probs:
            # guided attention: at the position that predicts answer word i, one head per listed layer should look
            # at the audio rows where the CTC head (its current alignment posterior) places word i, +-1 row
            target = torch.zeros(B, T, T)
            rows = torch.zeros(B, T, dtype=torch.bool)
            lp_np = lp.detach().transpose(0, 1).numpy()
            for b, (n, tg) in enumerate(zip(ntok, targets)):
                post = ctc_word_posteriors(lp_np[b, :n], tg.numpy())                    # [S, n]
                post = np.maximum(post, np.maximum(np.pad(post[:, 1:], ((0, 0), (0, 1))),
                                                   np.pad(post[:, :-1], ((0, 0), (1, 0)))))
                a0 = seqs[b].index(cfg.audio_token_id)
                q0 = len(self.prompt_ids(n)) - 1
                target[b, q0:q0 + len(tg), a0:a0 + n] = torch.from_numpy(np.minimum(post, 1.0)).float()
                rows[b, q0:q0 + len(tg)] = True
            terms = [-torch.log((probs[i][:, guide_head] * target).sum(-1)[rows] + 1e-4).mean() for i in guide_layers]
            guide = sum(terms) / len(terms)
            loss = loss + guide_weight * guide
        return loss, dict(ce=float(ce), ctc=float(ctc), guide=float(guide), acc=acc, seq=seq_ok)


# ==============================================================================================================
# export


def export(W, out, tj, base, arch=ARCH):
    """Write the checkpoint folder exactly like make_checkpoint.py does (side files + BF16 model.safetensors,
    tensors sorted by name, lm_head stored as a copy of embed_tokens)."""
    os.makedirs(out, exist_ok=True)
    vocab_size = base + len(mc.SPECIAL_TOKENS)
    ids = {t["content"]: t["id"] for t in tj["added_tokens"]}
    mc.write_side_files(out, arch, tj, vocab_size, ids)
    # Our key (transformers ignores it): the VAD segmenter's longest chunk. One utterance per training clip, so
    # chunks of ~one utterance; 3 s has the lowest WER on the long recordings (docs/benchmarks.md).
    gen_path = os.path.join(out, "generation_config.json")
    with open(gen_path, encoding="utf-8") as f:
        gen = json.load(f)
    gen["glm_asr"] = {"max_chunk_seconds": 3}
    with open(gen_path, "w", encoding="utf-8") as f:
        json.dump(gen, f, indent=2, ensure_ascii=False)
        f.write("\n")
    specs = dict(mc.tensor_specs(arch, vocab_size))
    names = sorted(specs)
    tensors = {n: W.get(n, W["language_model.model.embed_tokens.weight"]).detach() for n in names}
    for n in names:
        assert tuple(tensors[n].shape) == tuple(specs[n]), (n, tensors[n].shape, specs[n])
    w = st_io.StreamingWriter(os.path.join(out, "model.safetensors"), [(n, "BF16", specs[n]) for n in names],
                              metadata={"format": "pt"})
    for n in names:
        w.write(n, tensors[n].float().numpy())
    w.close()
    return vocab_size


def arch_files(tmp, tj, base):
    """Config for the reference (ref.Config reads config.json from a folder)."""
    vocab_size = base + len(mc.SPECIAL_TOKENS)
    ids = {t["content"]: t["id"] for t in tj["added_tokens"]}
    mc.write_side_files(tmp, ARCH, tj, vocab_size, ids)
    return ref.Config(tmp), vocab_size


# ==============================================================================================================
# main


def evaluate_tf(task, clips, pcm, batch=32):
    """Teacher-forced CE / token accuracy / whole-answer accuracy on a split (no augmentation)."""
    stats = []
    with torch.no_grad():
        for s in range(0, len(clips), batch):
            part = clips[s:s + batch]
            _, st = task.loss([md.clip_samples(pcm, m) for m in part], [m["text"] for m in part], None, 0.0)
            stats.append((len(part), st))
    n = sum(k for k, _ in stats)
    return {k: sum(c * st[k] for c, st in stats) / n for k in ("ce", "acc", "seq")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(REPO, ".cache", "demo-data"))
    ap.add_argument("--out", default=os.path.join(REPO, "models", "demo"))
    ap.add_argument("--steps", type=int, default=4000, help="upper bound on optimizer steps")
    ap.add_argument("--time-budget", type=float, default=0.0,
                    help="wall seconds for the whole run: the final LR decay starts at --decay-at of it "
                         "(0 = no budget)")
    ap.add_argument("--decay-start", type=int, default=0,
                    help="step at which the final LR decay starts (0 = by --decay-at); "
                         "pass the logged value to reproduce a budgeted run exactly")
    ap.add_argument("--decay-len", type=int, default=0,
                    help="length of the final decay (0 = so that it ends at the budget: decay_start × (1 − f) / f)")
    ap.add_argument("--decay-at", type=float, default=0.75,
                    help="f: the decay starts when this fraction of --time-budget (or --steps) is used")
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--ctc-weight", type=float, default=0.5)
    ap.add_argument("--guide-weight", type=float, default=1.0,
                    help="weight of the guided-attention loss (0 = off; needs --ctc-weight > 0: the CTC alignment "
                         "is its target)")
    ap.add_argument("--guide-layers", default="1,2", help="decoder layers whose head --guide-head is guided")
    ap.add_argument("--guide-head", type=int, default=0)
    ap.add_argument("--speed-perturb", type=float, default=0.0,
                    help="a: each training clip is resampled by a factor drawn from U[1 - a, 1 + a] (0 = off)")
    ap.add_argument("--accent-start", type=int, default=1000,
                    help="train on the clips without a synthetic accent only until this step "
                         "(0 = all clips from the start)")
    ap.add_argument("--spec-aug", type=float, default=0.0, help="probability of SpecAugment masks per clip")
    ap.add_argument("--kind-repeat", default="number:2",
                    help="KIND:N,... each training clip of that kind appears N times per epoch ('' = each once)")
    ap.add_argument("--seed", type=int, default=2512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-train", type=int, default=0, help="use only the first N training clips (0 = all)")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--init-from", default=None, help="start from the weights of an exported checkpoint folder")
    ap.add_argument("--log", default=None, help="also append the log lines (JSON) to this file")
    ap.add_argument("--report", default=os.path.join(REPO, ".cache", "demo-train", "training.json"),
                    help="where to write the run summary (steps, wall / CPU time, sizes)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    # the embedding's CPU backward accumulates rows in a thread-dependent order; its deterministic variant makes
    # two runs with the same arguments and thread count give the same bytes
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t_start = time.time()
    cpu_start = time.process_time()

    def log(**kv):
        kv["wall_s"] = round(time.time() - t_start, 1)
        line = json.dumps(kv)
        print(line, flush=True)
        if args.log:
            with open(args.log, "a") as f:
                f.write(line + "\n")

    tj, base = build_tokenizer()
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        cfg, vocab_size = arch_files(tmp, tj, base)
        tok = bt.Tokenizer.load(os.path.join(tmp, "tokenizer.json"))
    for w in md.all_words():                           # every domain word is a single token
        assert len(tok.encode(w)) == 1 and len(tok.encode(" " + w)) == 1, w
    W = init_params(mc.tensor_specs(ARCH, vocab_size), args.seed)
    if args.init_from:                                 # continue from an exported checkpoint (its BF16 values)
        for n, v in ref.load_weights(args.init_from).items():
            if n in W:
                assert W[n].shape == v.shape, n
                W[n].data.copy_(v)
    n_params = sum(v.numel() for v in W.values())

    # CTC labels: the answer tokens (word pieces) only
    label_ids = sorted({i for w in md.all_words() for i in tok.encode(w) + tok.encode(" " + w)})
    fb = torch.from_numpy(ref.mel_filter_bank(cfg.a_mels).astype(np.float32))
    ctc_head = (torch.randn(len(label_ids) + 1, ARCH["text"]["d"], generator=torch.Generator().manual_seed(1))
                * ARCH["text"]["d"] ** -0.5).requires_grad_()
    task = Task(W, cfg, tok, fb, label_ids, ctc_head)
    train, train_pcm = md.load_split(args.data, "train")
    dev, dev_pcm = md.load_split(args.data, "dev")
    if args.max_train:
        train = train[:args.max_train]
    log(event="start", params=n_params, vocab=vocab_size, train_clips=len(train),
        train_hours=round(sum(m["n"] for m in train) / md.SR / 3600, 2), arch=ARCH)

    diff = check_fast_path(W, cfg, fb, [md.clip_samples(dev_pcm, m) for m in dev[:3]])
    log(event="fast_path_check", max_rel_diff=diff)
    assert diff < 1e-4, "fast front end does not match the reference"

    params = list(W.values()) + [ctc_head]
    decay = [p for n, p in list(W.items()) if p.dim() >= 2] + [ctc_head]
    no_decay = [p for n, p in W.items() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-8)

    # warmup -> constant -> cosine decay to 5 % over decay_len steps ("warmup-stable-decay"); the decay start is
    # fixed by --decay-start, or by 80 % of --steps, or by the time budget, whichever comes first
    sched = {"start": args.decay_start or None, "len": args.decay_len or None}

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        if sched["start"] is None or step < sched["start"]:
            return args.lr
        prog = min(1.0, (step - sched["start"]) / sched["len"])
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * prog)))

    guide_layers = [int(v) for v in args.guide_layers.split(",") if v]
    assert args.guide_weight == 0 or args.ctc_weight > 0, "--guide-weight needs the CTC head (--ctc-weight > 0)"
    # curriculum: clips with a synthetic accent (make_data.py) join the batches at --accent-start
    every = repeat_by_kind(train, args.kind_repeat)
    plain = [i for i in every if not train[i].get("accent")]
    batcher_all = Batcher(every, [m["n"] for m in train], args.batch, rng)
    batcher = Batcher(plain, [m["n"] for m in train], args.batch, rng) if args.accent_start > 0 else batcher_all
    spec_aug = SpecAugment(rng, args.spec_aug) if args.spec_aug > 0 else None
    batches, step, ema = [], 0, None
    while step < args.steps:
        over_budget = args.time_budget and time.time() - t_start >= args.decay_at * args.time_budget
        if sched["start"] is None and (step >= int(args.decay_at * args.steps) or over_budget):
            sched["start"] = step
        if sched["start"] is not None and sched["len"] is None:
            sched["len"] = max(50, round(sched["start"] * (1 - args.decay_at) / args.decay_at))
            log(event="decay", decay_start=sched["start"], decay_len=sched["len"])
        if sched["start"] is not None and step >= sched["start"] + sched["len"]:
            break
        if step == args.accent_start and batcher is not batcher_all:
            batcher, batches = batcher_all, []
            log(event="accents_join", step=step)
        if not batches:
            batches = batcher.epoch()
        part = [train[i] for i in batches.pop()]
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        clips = [md.clip_samples(train_pcm, m) for m in part]
        if args.speed_perturb > 0:
            clips = [speed_perturb(x, float(rng.uniform(1 - args.speed_perturb, 1 + args.speed_perturb)))
                     for x in clips]
        loss, st = task.loss(clips, [m["text"] for m in part], spec_aug,
                             args.ctc_weight, args.guide_weight, guide_layers, args.guide_head)
        opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        ema = st if ema is None else {k: 0.95 * ema[k] + 0.05 * st[k] for k in st}
        if step % 25 == 0 or step == 1:
            log(step=step, lr=round(lr_at(step - 1), 6), gnorm=round(float(gn), 3),
                **{k: round(v, 4) for k, v in ema.items()})
        if step % args.eval_every == 0 or step == args.steps:
            log(step=step, dev=evaluate_tf(task, dev, dev_pcm))
    wall, cpu = time.time() - t_start, time.process_time() - cpu_start
    vs = export(W, args.out, tj, base)
    size = os.path.getsize(os.path.join(args.out, "model.safetensors"))
    info = {"event": "done", "steps": step, "decay_start": sched["start"], "decay_len": sched["len"],
            "train_wall_s": round(wall, 1), "train_cpu_s": round(cpu, 1),
            "params": n_params, "vocab": vs, "safetensors_bytes": size, "out": args.out}
    log(**info)
    os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
    with open(args.report, "w") as f:
        json.dump(dict(info, args={k: v for k, v in vars(args).items() if k not in ("data", "out", "log", "report")},
                       arch=ARCH, end_token=END_TOKEN, torch=torch.__version__), f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
