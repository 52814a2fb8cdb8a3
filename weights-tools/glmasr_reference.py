#!/usr/bin/python3
"""Independent plain-PyTorch reference of the whole GLM-ASR-Nano-2512 pipeline (HF `GlmAsrForConditionalGeneration`
semantics), written from the project spec (shared/spec/glm-asr-nano-2512.md), f32 compute by default.

Read it top to bottom:

    1. config            config.json -> plain numbers
    2. weights           model.safetensors (or shards) read with our own reader; BF16 -> f32 exactly
    3. audio input       WAV reader (PCM 8/16/24/32, float 32/64), sox for other formats, resample_poly to 16 kHz
    4. front end         30 s windows, Whisper log-mel (HF WhisperFeatureExtractor._torch_extract_fbank_features)
    5. encoder           conv1+GELU, conv2(stride 2)+GELU, N pre-LN layers with partial half-split RoPE, final LN
    6. projector         4 consecutive frames concatenated -> linear_1 -> GELU -> linear_2; keep N_i rows per window
    7. prompt            chat-template text -> ids with the checkpoint's tokenizer.json; <|pad|> x N_audio
    8. decoder           Llama (RMSNorm f32, GQA, full half-split RoPE, SwiGLU, causal) with a KV cache
    9. generation        greedy, and beam search with transformers' semantics (see `beam_search`)
   10. pipeline + CLI    run everything, dump every stage to a safetensors file

CLI:
    python3 weights-tools/glmasr_reference.py --model DIR --audio FILE.wav [--beams 4] [--max-new-tokens N]
                                              [--dump OUT.safetensors] [--no-mel] [--no-layers]
"""

import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402
from bpe_tokenizer import Tokenizer  # noqa: E402

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
CHUNK_SECONDS = 30
WINDOW_SAMPLES = SAMPLE_RATE * CHUNK_SECONDS      # 480 000
N_FRAMES = WINDOW_SAMPLES // HOP                  # 3000
MAX_AUDIO_SECONDS = 655                           # processor max_audio_len
MERGE_FACTOR = 4
DEFAULT_PROMPT = "Please transcribe this audio into text"


# ==============================================================================================================
# 1. config


class Config:
    """The numbers the pipeline needs, read from a GLM-ASR `config.json` (+ processor config when present)."""

    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            c = json.load(f)
        a, t = c["audio_config"], c["text_config"]
        self.audio_token_id = c["audio_token_id"]
        self.projector_act = c.get("projector_hidden_act", "gelu")
        assert self.projector_act == "gelu" and a.get("hidden_act", "gelu") == "gelu" and t["hidden_act"] == "silu"

        self.a_d = a["hidden_size"]
        self.a_ffn = a["intermediate_size"]
        self.a_layers = a["num_hidden_layers"]
        self.a_heads = a["num_attention_heads"]
        self.a_kv = a.get("num_key_value_heads") or self.a_heads
        self.a_hd = a.get("head_dim") or self.a_d // self.a_heads
        self.a_mels = a.get("num_mel_bins", 128)
        a_rope = a.get("rope_parameters") or {}
        prf = a_rope.get("partial_rotary_factor", a.get("partial_rotary_factor", 0.5))
        self.a_rot = int(self.a_hd * prf)
        self.a_theta = float(a_rope.get("rope_theta", a.get("rope_theta", 10000.0)))
        self.a_ln_eps = 1e-5  # nn.LayerNorm default; not in the config

        self.t_vocab = t["vocab_size"]
        self.t_d = t["hidden_size"]
        self.t_ffn = t["intermediate_size"]
        self.t_layers = t["num_hidden_layers"]
        self.t_heads = t["num_attention_heads"]
        self.t_kv = t.get("num_key_value_heads") or self.t_heads
        self.t_hd = t.get("head_dim") or self.t_d // self.t_heads
        self.t_eps = float(t["rms_norm_eps"])
        t_rope = t.get("rope_parameters") or {}
        self.t_theta = float(t_rope.get("rope_theta", t.get("rope_theta", 10000.0)))
        self.t_rot = int(self.t_hd * t_rope.get("partial_rotary_factor", 1.0))
        assert t_rope.get("rope_type", "default") == "default"
        assert not t.get("attention_bias", False) and not t.get("mlp_bias", False)
        eos = t.get("eos_token_id", c.get("eos_token_id"))
        self.eos_ids = list(eos) if isinstance(eos, (list, tuple)) else [eos]
        self.tie = c.get("tie_word_embeddings", t.get("tie_word_embeddings", False))

        self.max_windows = MAX_AUDIO_SECONDS // CHUNK_SECONDS
        proc_path = os.path.join(model_dir, "processor_config.json")
        if os.path.exists(proc_path):
            with open(proc_path) as f:
                p = json.load(f)
            self.max_windows = int(p.get("max_audio_len", MAX_AUDIO_SECONDS) // CHUNK_SECONDS)


# ==============================================================================================================
# 2. weights


def load_weights(model_dir, dtype=torch.float32):
    """All tensors as float32 (or `dtype`) torch tensors. BF16 values are widened exactly, so computing from them is
    computing from exactly what the file stores."""
    arrays, _dtypes = st_io.load_checkpoint(model_dir)
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)).to(dtype) for k, v in arrays.items()}


# ==============================================================================================================
# 3. audio input


def read_wav(path):
    """Parse a RIFF/WAVE file by hand (the stdlib `wave` module rejects float WAVs).
    Returns (float32 array [n, channels], sample_rate). PCM ints are scaled by 2^(bits-1) (8-bit is unsigned)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", "not a RIFF/WAVE file"
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, ch, sr, _br, _align, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the real tag is the first 2 bytes of the sub-format GUID
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, ch, sr, bits)
        elif cid == b"data":
            pcm = body
        pos += 8 + size + (size & 1)
    assert fmt is not None and pcm is not None, "missing fmt or data chunk"
    tag, ch, sr, bits = fmt
    if tag == 1:
        if bits == 8:
            x = (np.frombuffer(pcm, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
        elif bits == 16:
            x = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        elif bits == 24:
            b = np.frombuffer(pcm[: len(pcm) // 3 * 3], dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            v = np.where(v >= 1 << 23, v - (1 << 24), v)
            x = v.astype(np.float32) / 8388608.0
        elif bits == 32:
            x = (np.frombuffer(pcm, dtype="<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
        else:
            raise ValueError(f"unsupported PCM bit depth {bits}")
    elif tag == 3:
        x = np.frombuffer(pcm, dtype="<f4" if bits == 32 else "<f8").astype(np.float32)
    else:
        raise ValueError(f"unsupported WAV format tag {tag}")
    n = len(x) // ch
    return x[: n * ch].reshape(n, ch), sr


def load_audio(path):
    """Any audio file -> 16 kHz mono float32. Non-WAV files are converted by `sox` to a float WAV first.
    Multi-channel audio is averaged to mono; other rates go through scipy.signal.resample_poly."""
    if not path.lower().endswith(".wav"):
        with tempfile.TemporaryDirectory() as td:
            tmp = os.path.join(td, "x.wav")
            subprocess.run(["sox", path, "-e", "floating-point", "-b", "32", tmp], check=True)
            x, sr = read_wav(tmp)
    else:
        x, sr = read_wav(path)
    x = x.mean(axis=1).astype(np.float32) if x.shape[1] > 1 else x[:, 0].astype(np.float32)
    if sr != SAMPLE_RATE:
        from scipy.signal import resample_poly
        g = math.gcd(sr, SAMPLE_RATE)
        x = resample_poly(x.astype(np.float64), SAMPLE_RATE // g, sr // g).astype(np.float32)
    return x


# ==============================================================================================================
# 4. front end


def hz_to_mel(f):
    """Slaney mel scale: linear below 1 kHz (3 f / 200), logarithmic above (15 + 27 ln(f/1000) / ln 6.4)."""
    f = np.asarray(f, dtype=np.float64)
    return np.where(f < 1000.0, 3.0 * f / 200.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) * 27.0 / np.log(6.4))


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    return np.where(m < 15.0, 200.0 * m / 3.0, 1000.0 * np.exp((m - 15.0) * np.log(6.4) / 27.0))


def mel_filter_bank(n_mels=128, n_fft=N_FFT, sr=SAMPLE_RATE, f_min=0.0, f_max=8000.0):
    """Slaney-normalised triangular filters, float64 [n_freq = n_fft//2+1, n_mels] (HF layout).
    Filter i rises from f[i] to f[i+1] and falls to f[i+2], scaled by 2 / (f[i+2] - f[i])."""
    n_freq = n_fft // 2 + 1
    fft_hz = np.linspace(0.0, sr // 2, n_freq)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    fb = np.zeros((n_freq, n_mels), dtype=np.float64)
    for i in range(n_mels):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        rise = (fft_hz - lo) / (mid - lo)
        fall = (hi - fft_hz) / (hi - mid)
        fb[:, i] = np.maximum(0.0, np.minimum(rise, fall)) * (2.0 / (hi - lo))
    return fb


def split_windows(samples, max_windows):
    """Consecutive non-overlapping 30 s windows (HF GlmAsrProcessor._process_audio). Returns (list of arrays
    zero-padded to 480 000, list of valid sample counts). Audio past max_windows * 30 s is dropped."""
    n = len(samples)
    n_win = min(max(1, -(-n // WINDOW_SAMPLES)), max_windows)
    wins, valid = [], []
    for i in range(n_win):
        seg = samples[i * WINDOW_SAMPLES: min((i + 1) * WINDOW_SAMPLES, n)]
        w = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
        w[: len(seg)] = seg
        wins.append(w)
        valid.append(len(seg))
    return wins, valid


def audio_tokens_for_samples(n_valid):
    """Audio tokens of one window (HF `_get_audio_token_length` on one window's mask): mask frames
    L = ceil(n/160); conv1 (k3 s1 p1) keeps L; conv2 (k3 s2 p1) gives (L-1)//2+1; merging 4 frames gives
    (c2-4)//4+1 with floor division (0 when c2 < 4). A full window gives 375."""
    L = -(-n_valid // HOP)
    c1 = (L + 2 - 2 - 1) // 1 + 1
    c2 = (c1 + 2 - 2 - 1) // 2 + 1
    return max(0, (c2 - MERGE_FACTOR) // MERGE_FACTOR + 1)


def log_mel(windows, mel_fb_f32):
    """Whisper log-mel of [W, 480000] float32 windows -> [W, n_mels, 3000]:
    periodic Hann(400), torch.stft(center=True, reflect pad), power |X|^2, last frame dropped, mel = fb^T @ power,
    log10(max(mel, 1e-10)), max(x, max_over_window - 8), (x + 4) / 4."""
    wav = torch.as_tensor(np.stack(windows)).to(mel_fb_f32.dtype)
    window = torch.hann_window(N_FFT, dtype=wav.dtype)
    stft = torch.stft(wav, N_FFT, HOP, window=window, center=True, pad_mode="reflect", return_complex=True)
    power = stft[..., :-1].abs() ** 2                          # [W, 201, 3000]
    mel = mel_fb_f32.T @ power                                 # [W, n_mels, 3000]
    logm = torch.clamp(mel, min=1e-10).log10()
    peak = logm.amax(dim=(1, 2), keepdim=True)
    logm = torch.maximum(logm, peak - 8.0)
    return (logm + 4.0) / 4.0


# ==============================================================================================================
# 5. encoder


def rope_cos_sin(positions, rot_dim, theta, dtype=torch.float32):
    """HF default RoPE tables, computed in f32 like HF (or in `dtype` if wider): inv_freq[i] = theta^(-2i/rot_dim);
    angle = pos * inv_freq; the table is duplicated ([f, f]) for the rotate-half convention.
    Returns cos, sin of shape [len(positions), rot_dim]."""
    dt = torch.promote_types(dtype, torch.float32)
    inv_freq = 1.0 / (theta ** (torch.arange(0, rot_dim, 2, dtype=torch.int64).to(dt) / rot_dim))
    freqs = positions.to(dt)[:, None] * inv_freq[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def apply_rope_half(x, cos, sin):
    """Half-split (rotate_half) RoPE on the first cos.shape[-1] dims of the last axis; the rest passes through.
    x: [..., T, hd]; cos/sin: [T, rot]. y[i] = x[i] cos - x[i+r/2] sin, y[i+r/2] = x[i+r/2] cos + x[i] sin."""
    rot = cos.shape[-1]
    xr, xp = x[..., :rot], x[..., rot:]
    x1, x2 = xr[..., : rot // 2], xr[..., rot // 2:]
    rotated = torch.cat([-x2, x1], dim=-1)
    return torch.cat([xr * cos + rotated * sin, xp], dim=-1)


def linear(x, w, b=None):
    y = x @ w.T
    return y + b if b is not None else y


def encoder_forward(W, cfg, mel, capture=None):
    """mel [Wn, n_mels, 3000] -> encoder output [Wn, 1500, d]. If `capture` is a dict it receives conv_out and the
    output of every layer (before the final norm)."""
    p = "audio_tower."
    x = F.gelu(F.conv1d(mel, W[p + "conv1.weight"], W[p + "conv1.bias"], stride=1, padding=1))
    x = F.gelu(F.conv1d(x, W[p + "conv2.weight"], W[p + "conv2.bias"], stride=2, padding=1))
    x = x.transpose(1, 2).contiguous()                         # [Wn, 1500, d]
    if capture is not None:
        capture["conv_out"] = x.clone()
    Wn, T, _ = x.shape
    H, KV, hd = cfg.a_heads, cfg.a_kv, cfg.a_hd
    cos, sin = rope_cos_sin(torch.arange(T), cfg.a_rot, cfg.a_theta, x.dtype)
    for i in range(cfg.a_layers):
        q_ = f"{p}layers.{i}."
        h = F.layer_norm(x, (cfg.a_d,), W[q_ + "input_layernorm.weight"], W[q_ + "input_layernorm.bias"], cfg.a_ln_eps)
        q = linear(h, W[q_ + "self_attn.q_proj.weight"], W[q_ + "self_attn.q_proj.bias"])
        k = linear(h, W[q_ + "self_attn.k_proj.weight"])                       # no k bias
        v = linear(h, W[q_ + "self_attn.v_proj.weight"], W[q_ + "self_attn.v_proj.bias"])
        q = q.view(Wn, T, H, hd).transpose(1, 2)
        k = k.view(Wn, T, KV, hd).transpose(1, 2)
        v = v.view(Wn, T, KV, hd).transpose(1, 2)
        q, k = apply_rope_half(q, cos, sin), apply_rope_half(k, cos, sin)
        if KV != H:
            k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
        att = torch.softmax((q @ k.transpose(-1, -2)) * hd ** -0.5, dim=-1)    # bidirectional, no mask
        o = (att @ v).transpose(1, 2).reshape(Wn, T, H * hd)
        x = x + linear(o, W[q_ + "self_attn.o_proj.weight"], W[q_ + "self_attn.o_proj.bias"])
        h = F.layer_norm(x, (cfg.a_d,), W[q_ + "post_attention_layernorm.weight"],
                         W[q_ + "post_attention_layernorm.bias"], cfg.a_ln_eps)
        h = F.gelu(linear(h, W[q_ + "mlp.fc1.weight"], W[q_ + "mlp.fc1.bias"]))
        x = x + linear(h, W[q_ + "mlp.fc2.weight"], W[q_ + "mlp.fc2.bias"])
        if capture is not None:
            capture[f"encoder_layer_{i}"] = x.clone()
    return F.layer_norm(x, (cfg.a_d,), W[p + "norm.weight"], W[p + "norm.bias"], cfg.a_ln_eps)


# ==============================================================================================================
# 6. projector


def project_audio(W, cfg, enc, tokens_per_window):
    """enc [Wn, 1500, d] -> [sum N_i, d_text]. Rows are regrouped by the audio intermediate size exactly as HF does
    (`reshape(Wn, -1, audio_config.intermediate_size)`; = 4 consecutive frames when intermediate = 4 d)."""
    Wn = enc.shape[0]
    x = enc.reshape(Wn, -1, cfg.a_ffn)
    x = F.gelu(linear(x, W["multi_modal_projector.linear_1.weight"], W["multi_modal_projector.linear_1.bias"]))
    x = linear(x, W["multi_modal_projector.linear_2.weight"], W["multi_modal_projector.linear_2.bias"])
    return torch.cat([x[i, :n] for i, n in enumerate(tokens_per_window)], dim=0)


# ==============================================================================================================
# 7. prompt


def prompt_text(n_audio, instruction=DEFAULT_PROMPT):
    """The rendered chat template for one user turn [audio, text] plus the generation prompt, with the single
    <|pad|> already expanded to n_audio copies."""
    return ("<|user|>\n<|begin_of_audio|>" + "<|pad|>" * n_audio + "<|end_of_audio|><|user|>\n" + instruction
            + "<|assistant|>\n")


def prompt_text_per_window(tokens_per_window, instruction=DEFAULT_PROMPT):
    """The model authors' layout (zai-org/GLM-ASR inference.py): each 30 s window's audio tokens in a block of its
    own, <|begin_of_audio|> pads <|end_of_audio|>, one block after the other (audio token counts: the processor's)."""
    blocks = "".join("<|begin_of_audio|>" + "<|pad|>" * n + "<|end_of_audio|>" for n in tokens_per_window)
    return "<|user|>\n" + blocks + "<|user|>\n" + instruction + "<|assistant|>\n"


# ==============================================================================================================
# 8. decoder


def rms_norm(x, w, eps):
    x32 = x.to(torch.promote_types(x.dtype, torch.float32))  # HF: RMSNorm statistics in (at least) f32
    return w * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps))


class Decoder:
    """Llama decoder over float32 weights. A cache is a list (one per layer) of [k, v], each [B, KV, S, hd]."""

    def __init__(self, W, cfg):
        self.W, self.cfg = W, cfg
        p = "language_model."
        self.embed = W[p + "model.embed_tokens.weight"]
        self.lm_head = W.get(p + "lm_head.weight", self.embed)  # stored -> use it; absent -> tied

    def embed_ids(self, ids):
        return self.embed[torch.as_tensor(ids, dtype=torch.long)]

    def forward(self, x, pos0, cache=None, probs_out=None):
        """x [B, T, d] at positions pos0..pos0+T-1 -> (logits [B, T, vocab], new cache). Causal attention over the
        cached keys plus the new ones. probs_out: optional {layer: None} dict that receives each listed layer's
        attention probabilities [B, H, T, S] (training uses them for an alignment loss)."""
        cfg, W = self.cfg, self.W
        B, T, _ = x.shape
        H, KV, hd = cfg.t_heads, cfg.t_kv, cfg.t_hd
        cos, sin = rope_cos_sin(torch.arange(pos0, pos0 + T), cfg.t_rot, cfg.t_theta, x.dtype)
        S = pos0 + T
        mask = torch.arange(S)[None, :] <= (torch.arange(pos0, pos0 + T)[:, None])   # [T, S]
        new_cache = []
        for i in range(cfg.t_layers):
            p = f"language_model.model.layers.{i}."
            h = rms_norm(x, W[p + "input_layernorm.weight"], cfg.t_eps)
            q = linear(h, W[p + "self_attn.q_proj.weight"]).view(B, T, H, hd).transpose(1, 2)
            k = linear(h, W[p + "self_attn.k_proj.weight"]).view(B, T, KV, hd).transpose(1, 2)
            v = linear(h, W[p + "self_attn.v_proj.weight"]).view(B, T, KV, hd).transpose(1, 2)
            q, k = apply_rope_half(q, cos, sin), apply_rope_half(k, cos, sin)
            if cache is not None:
                k = torch.cat([cache[i][0], k], dim=2)
                v = torch.cat([cache[i][1], v], dim=2)
            new_cache.append([k, v])
            kr, vr = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)   # head h -> kv h // rep
            s = (q @ kr.transpose(-1, -2)) * hd ** -0.5
            s = s.masked_fill(~mask, float("-inf"))
            prob = torch.softmax(s, dim=-1)
            if probs_out is not None and i in probs_out:
                probs_out[i] = prob
            o = (prob @ vr).transpose(1, 2).reshape(B, T, H * hd)
            x = x + linear(o, W[p + "self_attn.o_proj.weight"])
            h = rms_norm(x, W[p + "post_attention_layernorm.weight"], cfg.t_eps)
            g = F.silu(linear(h, W[p + "mlp.gate_proj.weight"])) * linear(h, W[p + "mlp.up_proj.weight"])
            x = x + linear(g, W[p + "mlp.down_proj.weight"])
        x = rms_norm(x, W["language_model.model.norm.weight"], cfg.t_eps)
        return x @ self.lm_head.T, new_cache


def expand_cache(cache, n):
    return [[k.expand(n, -1, -1, -1).clone(), v.expand(n, -1, -1, -1).clone()] for k, v in cache]


def select_cache(cache, idx):
    return [[k[idx], v[idx]] for k, v in cache]


# ==============================================================================================================
# 9. generation


def greedy(dec, first_logits, cache, pos, max_new_tokens, eos_ids):
    """argmax decoding. first_logits [vocab] predict the token at `pos`. Returns (ids incl. a final eos if one was
    produced, list of per-step logits [vocab])."""
    ids, step_logits, logits = [], [], first_logits
    while True:
        step_logits.append(logits)
        tok = int(torch.argmax(logits))
        ids.append(tok)
        if tok in eos_ids or len(ids) >= max_new_tokens:
            return ids, step_logits
        out, cache = dec.forward(dec.embed_ids([[tok]]), pos, cache)
        logits = out[0, -1]
        pos += 1


def beam_search(dec, first_logits, cache, pos, num_beams, max_new_tokens, eos_ids,
                length_penalty=1.0, early_stopping=True, trace=None):
    """Beam search reproducing transformers' `generate(num_beams=B, do_sample=False)` for one prompt.

    Matched version: the vectorised `_beam_search` of transformers >= 4.50 (the "beam search refactor", PR #35802)
    which is also what v5 ships. Per step, with cur = number of tokens generated so far:
      * log_softmax(logits) in f32 is added to each running beam's accumulated score (at the first step only beam 0
        is live: the others start at -1e9);
      * the top K = max(2, 1 + n_eos) * B candidates over all beams x vocab are taken (K = 4B with 3 eos ids);
      * a candidate "hits" if its token is an eos id or the sequence reached max_new_tokens;
      * next running beams = top B candidates after adding -1e9 to the hitting ones;
      * finished set: a hitting candidate is a hypothesis only if it ranks among the first B of the K candidates;
        its score is sum_logprobs / generated_len ** length_penalty where generated_len = cur + 1 counts the
        generated tokens INCLUDING the eos (not the prompt). (transformers <= 4.34 divided by the full length
        including the prompt and excluding the eos, `hyp.shape[-1]`; 4.35-4.49 already used the generated length.)
        Nothing is added once the set is full with early_stopping=True, or once the stop heuristic fired; the set
        keeps the best B;
      * stop when: B hypotheses are finished and early_stopping is True; or the heuristic says no running beam can
        beat the worst finished one (best_running / L ** lp <= worst_finished, L = cur, or max_new_tokens for
        early_stopping="never" with lp > 0; only possible once B are finished); or every candidate hit
        (max_new_tokens reached: the top B candidates of that last step are then added as hypotheses, which is how
        the set gets filled with unfinished beams).
    Returns a list of (score, ids) sorted best first (ids include the eos when a hypothesis ended on one).
    If `trace` is a list, it receives per step the decision margins: the score gaps at the boundaries that decide
    the search (B-th vs (B+1)-th candidate for the running beams and, when an eos is involved, for eligibility;
    B-th vs (B+1)-th hypothesis when the finished set overflows) -- the orderings a port must reproduce."""
    V = first_logits.shape[-1]
    B = num_beams
    K = max(2, 1 + len(eos_ids)) * B
    NEG = -1.0e9
    run_ids = [[] for _ in range(B)]
    sdt = torch.promote_types(first_logits.dtype, torch.float32)   # HF: f32 scores
    run_scores = torch.full((B,), NEG, dtype=sdt)
    run_scores[0] = 0.0
    finished = []                                   # [(score float, ids)], best first, at most B
    improvable = True                               # transformers' is_early_stop_heuristic_unsatisfied
    cache = expand_cache(cache, B)
    logits = first_logits.to(sdt)[None].expand(B, V)
    cur = 0
    while True:
        acc = (torch.log_softmax(logits.to(sdt), dim=-1) + run_scores[:, None]).reshape(-1)
        top_vals, top_idx = torch.topk(acc, K)
        src = (top_idx // V).tolist()
        toks = (top_idx % V).tolist()
        gen_len = cur + 1
        hits = torch.tensor([t in eos_ids or gen_len >= max_new_tokens for t in toks])
        # next running beams
        masked = top_vals + hits.to(sdt) * NEG
        sel = torch.topk(masked, B).indices.tolist()
        if trace is not None:
            sm = torch.sort(masked, descending=True).values
            rec = {"step": cur, "hits_top_b": int(hits[:B].sum()),
                   # which B candidates keep running
                   "run_gap": float(sm[B - 1] - sm[B]) if sm[B] > NEG / 2 else float("inf"),
                   # whether a hitting candidate ranks inside the first B (only matters if one side hits)
                   "elig_gap": float(top_vals[B - 1] - top_vals[B]) if bool(hits[B - 1] or hits[B])
                   else float("inf"),
                   "fin_gap": float("inf")}
            trace.append(rec)
        new_run_ids = [run_ids[src[j]] + [toks[j]] for j in sel]
        new_run_scores = masked[sel]
        # finished hypotheses (uses the state from before this step)
        full = len(finished) == B and early_stopping is True
        if improvable and not full:
            norm = top_vals / (gen_len ** length_penalty)
            for r in range(B):
                if hits[r]:
                    finished.append((float(norm[r]), run_ids[src[r]] + [toks[r]]))
            finished = sorted(finished, key=lambda h: -h[0])
            if trace is not None and len(finished) > B:  # which hypotheses stay in the set (x gen_len: raw units)
                trace[-1]["fin_gap"] = (finished[B - 1][0] - finished[B][0]) * gen_len ** length_penalty
            finished = finished[:B]
        beam_src = [src[j] for j in sel]
        run_ids, run_scores = new_run_ids, new_run_scores
        cur += 1
        # stop conditions
        if early_stopping == "never" and length_penalty > 0.0:
            best_len = max_new_tokens
        else:
            best_len = cur
        worst = finished[-1][0] if len(finished) == B else NEG
        improvable = improvable and bool(run_scores[0] / (best_len ** length_penalty) > worst)
        if not improvable or (len(finished) == B and early_stopping is True) or bool(hits.all()):
            return finished
        cache = select_cache(cache, torch.tensor(beam_src))
        out, cache = dec.forward(dec.embed_ids([[t[-1]] for t in run_ids]), pos + cur - 1, cache)
        logits = out[:, -1]


# ==============================================================================================================
# 10. pipeline


class GlmAsrReference:
    """The whole pipeline over one checkpoint folder. dtype=torch.float64 gives a higher-precision run (used to
    estimate how far an f32 implementation may drift)."""

    def __init__(self, model_dir, dtype=torch.float32):
        self.cfg = Config(model_dir)
        self.dtype = dtype
        self.W = load_weights(model_dir, dtype)
        self.tok = Tokenizer.load(os.path.join(model_dir, "tokenizer.json"))
        self.dec = Decoder(self.W, self.cfg)
        self.mel_fb = torch.from_numpy(mel_filter_bank(self.cfg.a_mels).astype(np.float32)).to(dtype)
        assert self.tok.token_to_id("<|pad|>") == self.cfg.audio_token_id

    def run(self, samples, max_new_tokens=32, beams=4, capture_layers=True, audio_blocks="single"):
        """16 kHz mono float32 samples -> dict of every stage (torch tensors / lists) and the decoded texts.
        audio_blocks: "single" (transformers' processor: one audio block) or "per-window" (the authors' script)."""
        cfg = self.cfg
        out = {"input_samples": np.asarray(samples, dtype=np.float32)}
        wins, valid = split_windows(out["input_samples"], cfg.max_windows)
        ntok = [audio_tokens_for_samples(n) for n in valid]
        out.update(window_valid_samples=valid, window_audio_tokens=ntok)
        mel = log_mel(wins, self.mel_fb)
        out["mel"] = mel
        cap = {} if capture_layers else None
        with torch.no_grad():
            enc = encoder_forward(self.W, cfg, mel, cap)
            if cap:
                out.update(cap)
            out["encoder_out"] = enc
            audio = project_audio(self.W, cfg, enc, ntok)
            out["projector_out"] = audio
            ids = self.tok.encode(prompt_text(sum(ntok)) if audio_blocks == "single" else prompt_text_per_window(ntok))
            out["prompt_ids"] = ids
            x = self.dec.embed_ids(ids).clone()
            is_audio = torch.tensor(ids) == cfg.audio_token_id
            assert int(is_audio.sum()) == audio.shape[0]
            x[is_audio] = audio                                   # masked_scatter, in order
            logits, cache = self.dec.forward(x[None], 0, None)
            out["prefill_logits"] = logits[0]
            T = len(ids)
            g_ids, g_logits = greedy(self.dec, logits[0, -1], cache, T, max_new_tokens, cfg.eos_ids)
            out["greedy_ids"] = g_ids
            out["greedy_step_logits"] = torch.stack(g_logits)
            out["greedy_text"] = self.tok.decode(g_ids)
            if beams:
                trace = []
                hyps = beam_search(self.dec, logits[0, -1], cache, T, beams, max_new_tokens, cfg.eos_ids,
                                   trace=trace)
                out["beam_hyps"] = hyps
                out["beam_trace"] = trace
                out["beam_text"] = self.tok.decode(hyps[0][1])
        return out


def top_k_rows(logits, k=5):
    v, i = torch.topk(logits, k, dim=-1)
    return i.int().numpy(), v.float().numpy()


def dump_tensors(res, beams, with_mel=True, with_layers=True):
    """Turn a `run` result into (tensors dict, metadata dict) for the golden dump format (see docs/goldens.md)."""
    t = {"input_samples": res["input_samples"].astype(np.float32)}
    if with_mel:
        t["mel"] = res["mel"].numpy()
    for k in list(res):
        if k == "conv_out" or (k.startswith("encoder_layer_") and with_layers):
            t[k] = res[k].numpy()
    t["encoder_out"] = res["encoder_out"].numpy()
    t["projector_out"] = res["projector_out"].numpy()
    t["prompt_ids"] = np.array(res["prompt_ids"], dtype=np.int32)
    t["window_valid_samples"] = np.array(res["window_valid_samples"], dtype=np.int32)
    t["window_audio_tokens"] = np.array(res["window_audio_tokens"], dtype=np.int32)
    pl = res["prefill_logits"]
    t["prefill_logits_last"] = pl[-1].numpy()
    t["prefill_top5_ids"], t["prefill_top5_logits"] = top_k_rows(pl)
    t["greedy_ids"] = np.array(res["greedy_ids"], dtype=np.int32)
    t["greedy_top5_ids"], t["greedy_top5_logits"] = top_k_rows(res["greedy_step_logits"])
    t["greedy_margins"] = greedy_margins(res["greedy_step_logits"]).astype(np.float32)
    if "beam_hyps" in res:
        hyps = res["beam_hyps"]
        L = max(len(h[1]) for h in hyps)
        t[f"beam{beams}_ids"] = np.array(hyps[0][1], dtype=np.int32)
        t[f"beam{beams}_score"] = np.array([hyps[0][0]], dtype=np.float32)
        t[f"beam{beams}_all_ids"] = np.array([h[1] + [-1] * (L - len(h[1])) for h in hyps], dtype=np.int32)
        t[f"beam{beams}_all_scores"] = np.array([h[0] for h in hyps], dtype=np.float32)
        t[f"beam{beams}_step_margins"] = np.array(beam_step_margins(res["beam_trace"]), dtype=np.float32)
    return t


def greedy_margins(step_logits):
    """top-1 minus top-2 logit at every greedy step."""
    v = torch.topk(step_logits, 2, dim=-1).values
    return (v[:, 0] - v[:, 1]).float().numpy()


def beam_step_margins(trace):
    """Per beam step, the smallest score gap at a boundary that decides the search (accumulated log-prob units;
    +inf when no boundary mattered)."""
    return [min(t["run_gap"], t["elig_gap"], t["fin_gap"]) for t in trace]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint folder (config.json, tokenizer.json, safetensors)")
    ap.add_argument("--audio", required=True, help="audio file (WAV read directly; other formats via sox)")
    ap.add_argument("--beams", type=int, default=4, help="beam width for the beam-search output (0 = skip)")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--dump", help="write every stage to this .safetensors file")
    ap.add_argument("--no-mel", action="store_true", help="leave the log-mel out of the dump")
    ap.add_argument("--no-layers", action="store_true", help="leave the per-layer encoder outputs out of the dump")
    args = ap.parse_args(argv)

    ref = GlmAsrReference(args.model)
    samples = load_audio(args.audio)
    res = ref.run(samples, args.max_new_tokens, args.beams, capture_layers=not args.no_layers)
    print(f"samples={len(samples)} windows={len(res['window_valid_samples'])} "
          f"audio_tokens={res['window_audio_tokens']} prompt_len={len(res['prompt_ids'])}")
    print("greedy ids:", res["greedy_ids"])
    print("greedy text:", repr(res["greedy_text"]))
    print("min greedy margin: %.4f" % greedy_margins(res["greedy_step_logits"]).min())
    if args.beams:
        print(f"beam{args.beams} best score {res['beam_hyps'][0][0]:.6f} ids:", res["beam_hyps"][0][1])
    if args.dump:
        t = dump_tensors(res, args.beams, with_mel=not args.no_mel, with_layers=not args.no_layers)
        meta = {
            "clip": os.path.basename(args.audio), "model": os.path.basename(os.path.normpath(args.model)),
            "n_samples": str(len(samples)), "n_windows": str(len(res["window_valid_samples"])),
            "window_valid_samples": json.dumps(res["window_valid_samples"]),
            "window_audio_tokens": json.dumps(res["window_audio_tokens"]),
            "n_audio_tokens": str(sum(res["window_audio_tokens"])), "prompt_len": str(len(res["prompt_ids"])),
            "max_new_tokens": str(args.max_new_tokens), "beams": str(args.beams),
            "greedy_text": res["greedy_text"],
        }
        st_io.save_file(t, args.dump, metadata=meta)
        print("wrote", args.dump)


if __name__ == "__main__":
    main()
