#!/usr/bin/python3
"""Generate a random GLM-ASR checkpoint folder in the exact layout of the official Hugging Face one
(zai-org/GLM-ASR-Nano-2512, transformers-v5 format, see shared/spec/glm-asr-nano-2512.md §7):

    config.json                 GlmAsrConfig (audio_config glmasr_encoder + text_config llama)
    generation_config.json      eos ids, pad id
    preprocessor_config.json    WhisperFeatureExtractor settings (feature_size 128, 30 s chunks)
    processor_config.json       GlmAsrProcessor settings (+ nested feature extractor), max_audio_len 655
    tokenizer.json              byte-level BPE trained here + GLM's 18 special tokens appended at id base_vocab
    tokenizer_config.json       added_tokens_decoder, eos/pad tokens
    chat_template.jinja         the prompt template (written here, renders the spec's prompt)
    model.safetensors           every tensor of spec §7, all BF16 (or model-0000k-of-0000n.safetensors + index)

Presets: `tiny`, `tiny-b` (different sizes/knobs everywhere, untied lm_head), `glm-asr-nano-2512` (real
dimensions, written tensor by tensor; 4.5 GB).

Every tensor is drawn from its own generator seeded by (seed, tensor name), so a checkpoint is deterministic and
can be streamed. Initialisation keeps activations O(1) and makes the greedy path well separated:
  * encoder / projector: N(0, gain^2 / fan_in), LayerNorm weights 1 + N(0, 0.1^2), biases N(0, 0.1^2);
  * q/k projections get gain 1.5 (encoder) and 3 (decoder) so attention is sharp and content/position dependent
    (with near-uniform attention the decoder degenerates into a fixed token->token map and greedy output cycles);
  * text embeddings N(0, 1), final RMSNorm weight N(0, 1) (random signs: with tied embeddings this stops the
    decoder from simply predicting the current token again), giving logits with std ~ sqrt(d_text);
  * the rows of the eos tokens in embed/lm_head are scaled by `eos_scale` (>1 makes eos more likely).
The presets' seeds were chosen (seed scan, see docs/goldens.md) so that on the golden clips the greedy output is
varied, some greedy/beam paths end on an eos before max_new_tokens, and the decision margins are comfortable.

After writing, the generator runs the reference on a corpus clip and reports greedy variety and the smallest
top-1 - top-2 logit margin (both computed from the BF16 weights read back from disk).

Usage:
    python3 weights-tools/make_checkpoint.py --preset tiny --out DIR [--seed N] [--sharded] [--no-check]
"""

import argparse
import json
import os
import sys
import zlib

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st_io  # noqa: E402
import bpe_tokenizer as bt  # noqa: E402

CORPUS = os.environ.get("GLMASR_CORPUS", os.path.join(HERE, "..", "..", "shared", "corpus"))

SPECIAL_TOKENS = [
    "<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>", "<|assistant|>",
    "<|observation|>", "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>", "<|end_of_video|>",
    "<|pad|>", "<|begin_of_audio|>", "<|end_of_audio|>", "<|endofaudio|>",
]

PRESETS = {
    "tiny": dict(
        audio=dict(d=64, heads=4, kv=4, hd=16, ffn=256, layers=2, prf=0.5, theta=10000.0),
        text=dict(d=64, heads=4, kv=2, hd=16, ffn=192, layers=2, eps=1e-5, theta=10000.0, max_pos=8192),
        merges=400, tie=True, eos=["<|endoftext|>", "<|user|>", "<|observation|>"], eos_scale=1.15, seed=131,
        filler_to=None,
    ),
    "tiny-b": dict(
        audio=dict(d=96, heads=6, kv=3, hd=24, ffn=384, layers=3, prf=0.25, theta=20000.0),
        text=dict(d=80, heads=5, kv=1, hd=16, ffn=224, layers=3, eps=1e-6, theta=500000.0, max_pos=8192),
        merges=333, tie=False, eos=["<|user|>", "<|observation|>", "<|endoftext|>"], eos_scale=1.15, seed=123,
        filler_to=None,
    ),
    "glm-asr-nano-2512": dict(
        audio=dict(d=1280, heads=20, kv=20, hd=64, ffn=5120, layers=32, prf=0.5, theta=10000.0),
        text=dict(d=2048, heads=16, kv=4, hd=128, ffn=6144, layers=28, eps=1e-5, theta=10000.0, max_pos=8192),
        merges=400, tie=True, eos=["<|endoftext|>", "<|user|>", "<|observation|>"], eos_scale=1.0, seed=0,
        filler_to=59246,
    ),
}

# Some English written for this project, so the merges see ordinary prose besides the corpus transcripts.
ENGLISH_TEXT = """\
Please transcribe this audio into text.
The quick test of a small speech model starts with a short clip and ends with a few words on the screen.
We record the numbers one, two, three, four, five, six, seven, eight, nine and ten, then read them back.
It is the first time that the engine runs on a laptop without any server in between.
When the weather is cold the river freezes and the children walk across it to the other side.
She said that the train would be late, but it arrived at seven o'clock as it always does.
They're sure we'll find the answer if we keep looking; I'm not so sure, and you've seen why.
A window of thirty seconds holds three thousand frames, and each frame covers ten milliseconds.
The encoder turns sound into vectors; the decoder turns vectors into words, one token at a time.
Good morning! How are you today? I would like a cup of tea and a slice of bread, please.
In 2025 the model was released with 1.5 billion parameters and support for seventeen languages.
Reading aloud in a quiet room gives the clearest recording, while a busy street adds noise.
"""


# ==============================================================================================================
# tokenizer


def training_texts():
    texts = [ENGLISH_TEXT]
    man = os.path.join(CORPUS, "manifest.json")
    if os.path.exists(man):
        with open(man, encoding="utf-8") as f:
            for clip in json.load(f)["clips"]:
                tr = clip.get("transcript", "")
                if tr and not tr.startswith("same ") and not tr.startswith("("):
                    texts.append(tr)
                    texts.append(tr.lower())
    else:
        print(f"warning: {man} not found; the BPE merges (and so the vocab) will differ from the committed "
              "goldens", file=sys.stderr)
    return texts


def build_tokenizer(preset):
    vocab, merges = bt.train_bpe(training_texts(), preset["merges"])
    if preset["filler_to"]:  # pad the base vocab with unreachable entries up to the real size
        i = 0
        while len(vocab) < preset["filler_to"]:
            vocab[f"<|filler_{i}|>"] = len(vocab)
            i += 1
    base = len(vocab)
    specials = [(base + i, t) for i, t in enumerate(SPECIAL_TOKENS)]
    return bt.tokenizer_json(vocab, merges, specials), base


# ==============================================================================================================
# tensors

# weight std = gain / sqrt(fan_in); keys "<part>_<kind>" (part a = encoder, p = projector, t = text) or "<kind>"
DEFAULT_GAINS = {"conv": 1.5, "q_proj": 1.5, "k_proj": 1.5, "o_proj": 0.7, "fc2": 0.7, "down_proj": 0.7,
                 "linear_2": 1.6, "t_q_proj": 3.0, "t_k_proj": 3.0, "t_v_proj": 1.5, "t_o_proj": 1.5}


def tensor_specs(p, vocab_size):
    """(name, shape) of every tensor of the official checkpoint, spec §7."""
    a, t = p["audio"], p["text"]
    out = [("audio_tower.conv1.weight", (a["d"], 128, 3)), ("audio_tower.conv1.bias", (a["d"],)),
           ("audio_tower.conv2.weight", (a["d"], a["d"], 3)), ("audio_tower.conv2.bias", (a["d"],))]
    qd, kvd = a["heads"] * a["hd"], a["kv"] * a["hd"]
    for i in range(a["layers"]):
        pre = f"audio_tower.layers.{i}."
        out += [(pre + "input_layernorm.weight", (a["d"],)), (pre + "input_layernorm.bias", (a["d"],)),
                (pre + "self_attn.q_proj.weight", (qd, a["d"])), (pre + "self_attn.q_proj.bias", (qd,)),
                (pre + "self_attn.k_proj.weight", (kvd, a["d"])),
                (pre + "self_attn.v_proj.weight", (kvd, a["d"])), (pre + "self_attn.v_proj.bias", (kvd,)),
                (pre + "self_attn.o_proj.weight", (a["d"], qd)), (pre + "self_attn.o_proj.bias", (a["d"],)),
                (pre + "post_attention_layernorm.weight", (a["d"],)),
                (pre + "post_attention_layernorm.bias", (a["d"],)),
                (pre + "mlp.fc1.weight", (a["ffn"], a["d"])), (pre + "mlp.fc1.bias", (a["ffn"],)),
                (pre + "mlp.fc2.weight", (a["d"], a["ffn"])), (pre + "mlp.fc2.bias", (a["d"],))]
    out += [("audio_tower.norm.weight", (a["d"],)), ("audio_tower.norm.bias", (a["d"],)),
            ("multi_modal_projector.linear_1.weight", (2 * t["d"], a["ffn"])),
            ("multi_modal_projector.linear_1.bias", (2 * t["d"],)),
            ("multi_modal_projector.linear_2.weight", (t["d"], 2 * t["d"])),
            ("multi_modal_projector.linear_2.bias", (t["d"],)),
            ("language_model.model.embed_tokens.weight", (vocab_size, t["d"]))]
    qd, kvd = t["heads"] * t["hd"], t["kv"] * t["hd"]
    for i in range(t["layers"]):
        pre = f"language_model.model.layers.{i}."
        out += [(pre + "input_layernorm.weight", (t["d"],)),
                (pre + "self_attn.q_proj.weight", (qd, t["d"])), (pre + "self_attn.k_proj.weight", (kvd, t["d"])),
                (pre + "self_attn.v_proj.weight", (kvd, t["d"])), (pre + "self_attn.o_proj.weight", (t["d"], qd)),
                (pre + "post_attention_layernorm.weight", (t["d"],)),
                (pre + "mlp.gate_proj.weight", (t["ffn"], t["d"])), (pre + "mlp.up_proj.weight", (t["ffn"], t["d"])),
                (pre + "mlp.down_proj.weight", (t["d"], t["ffn"]))]
    out += [("language_model.model.norm.weight", (t["d"],)), ("language_model.lm_head.weight", (vocab_size, t["d"]))]
    return out


def init_tensor(name, shape, seed, eos_rows, eos_scale, tie, gains=DEFAULT_GAINS):
    """Deterministic float32 values for one tensor (see the module docstring for the scheme)."""
    if tie and name == "language_model.lm_head.weight":
        name = "language_model.model.embed_tokens.weight"       # tied: identical values, bitwise after BF16
    g = torch.Generator().manual_seed(seed * 1000003 + zlib.crc32(name.encode()))
    x = torch.randn(shape, generator=g, dtype=torch.float32)
    leaf = name.rsplit(".", 1)[-1]
    if "norm" in name and name.startswith("audio_tower"):
        return (1.0 + 0.1 * x) if leaf == "weight" else 0.1 * x
    if name == "language_model.model.norm.weight":
        return x                                                # random signs, |w| ~ 1
    if "layernorm" in name:                                     # text RMSNorm weights
        return 1.0 + 0.1 * x
    if leaf == "bias":
        return 0.1 * x
    if name.endswith("embed_tokens.weight") or name.endswith("lm_head.weight"):
        x[eos_rows] *= eos_scale
        return x
    fan_in = int(np.prod(shape[1:]))
    part = "a" if name.startswith("audio_tower") else ("p" if name.startswith("multi_modal") else "t")
    kind = next((k for k in ("conv", "q_proj", "k_proj", "v_proj", "o_proj", "fc1", "fc2", "linear_1", "linear_2",
                             "gate_proj", "up_proj", "down_proj") if k in name), None)
    gain = gains.get(part + "_" + kind, gains.get(kind, 1.0))
    return x * (gain / np.sqrt(fan_in))


# ==============================================================================================================
# config files


def config_json(p, vocab_size, ids):
    a, t = p["audio"], p["text"]
    eos = [ids[e] for e in p["eos"]]
    return {
        "architectures": ["GlmAsrForConditionalGeneration"],
        "audio_config": {
            "attention_dropout": 0.0, "head_dim": a["hd"], "hidden_act": "gelu", "hidden_size": a["d"],
            "initializer_range": 0.02, "intermediate_size": a["ffn"], "max_position_embeddings": 1500,
            "model_type": "glmasr_encoder", "num_attention_heads": a["heads"], "num_hidden_layers": a["layers"],
            "num_key_value_heads": a["kv"], "num_mel_bins": 128, "partial_rotary_factor": a["prf"],
            "rope_parameters": {"partial_rotary_factor": a["prf"], "rope_theta": a["theta"], "rope_type": "default"},
        },
        "audio_token_id": ids["<|pad|>"],
        "dtype": "bfloat16",
        "model_type": "glmasr",
        "projector_hidden_act": "gelu",
        "text_config": {
            "attention_bias": False, "attention_dropout": 0.0, "eos_token_id": eos, "head_dim": t["hd"],
            "hidden_act": "silu", "hidden_size": t["d"], "initializer_range": 0.02, "intermediate_size": t["ffn"],
            "max_position_embeddings": t["max_pos"], "mlp_bias": False, "model_type": "llama",
            "num_attention_heads": t["heads"], "num_hidden_layers": t["layers"], "num_key_value_heads": t["kv"],
            "pretraining_tp": 1, "rms_norm_eps": t["eps"],
            "rope_parameters": {"rope_theta": t["theta"], "rope_type": "default"},
            "tie_word_embeddings": p["tie"], "use_cache": True, "vocab_size": vocab_size,
        },
        "tie_word_embeddings": p["tie"],
        "transformers_version": "5.0.0",
    }


WHISPER_FE = {
    "chunk_length": 30, "dither": 0.0, "feature_extractor_type": "WhisperFeatureExtractor", "feature_size": 128,
    "hop_length": 160, "n_fft": 400, "n_samples": 480000, "nb_max_frames": 3000, "padding_side": "right",
    "padding_value": 0.0, "return_attention_mask": False, "sampling_rate": 16000,
}

CHAT_TEMPLATE = """\
{#- GLM-ASR prompt: each message is '<|role|>' + newline + its content; an audio item renders as
    '<|begin_of_audio|><|pad|><|end_of_audio|><|user|>' + newline (the processor expands <|pad|> to N audio tokens) -#}
{%- for m in messages -%}
<|{{ m.role }}|>{{ '\\n' }}
{%- if m.content is string -%}{{ m.content | trim }}{%- else -%}
{%- set ns = namespace(text='') -%}
{%- for item in m.content -%}
{%- if item.type == 'audio' -%}{%- set ns.text = ns.text ~ '<|begin_of_audio|><|pad|><|end_of_audio|><|user|>\\n' -%}
{%- elif item.type == 'text' -%}{%- set ns.text = ns.text ~ item.text -%}{%- endif -%}
{%- endfor -%}
{{ ns.text | trim }}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}<|assistant|>{{ '\\n' }}{%- endif -%}
"""


def write_side_files(out, p, tj, vocab_size, ids):
    def dump(name, obj):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False)
            f.write("\n")

    cfg = config_json(p, vocab_size, ids)
    dump("config.json", cfg)
    dump("generation_config.json", {"eos_token_id": cfg["text_config"]["eos_token_id"],
                                    "pad_token_id": ids["<|endoftext|>"], "transformers_version": "5.0.0"})
    dump("preprocessor_config.json", dict(WHISPER_FE, processor_class="GlmAsrProcessor"))
    dump("processor_config.json", {"audio_token": "<|pad|>",
                                   "default_transcription_prompt": "Please transcribe this audio into text",
                                   "feature_extractor": WHISPER_FE, "max_audio_len": 655,
                                   "processor_class": "GlmAsrProcessor"})
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, separators=(",", ":"))
    dump("tokenizer_config.json", {
        "added_tokens_decoder": {str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                                                   "single_word", "special")}
                                 for t in tj["added_tokens"]},
        "clean_up_tokenization_spaces": False, "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
        "model_max_length": 8192, "padding_side": "left", "processor_class": "GlmAsrProcessor",
        "tokenizer_class": "TokenizersBackend",
    })
    with open(os.path.join(out, "chat_template.jinja"), "w", encoding="utf-8") as f:
        f.write(CHAT_TEMPLATE)


# ==============================================================================================================
# main


def make_checkpoint(preset_name, out, seed=None, sharded=False, n_shards=2, overrides=None):
    p = dict(PRESETS[preset_name], **(overrides or {}))
    seed = p["seed"] if seed is None else seed
    os.makedirs(out, exist_ok=True)
    for fn in os.listdir(out):  # remove stale weight files from a previous run
        if fn.startswith("model") and (fn.endswith(".safetensors") or fn.endswith(".index.json")):
            os.remove(os.path.join(out, fn))
    tj, base = build_tokenizer(p)
    vocab_size = base + len(SPECIAL_TOKENS)
    ids = {t["content"]: t["id"] for t in tj["added_tokens"]}
    eos_rows = torch.tensor([ids[e] for e in p["eos"]])
    write_side_files(out, p, tj, vocab_size, ids)

    specs = tensor_specs(p, vocab_size)
    names = sorted(n for n, _ in specs)
    shape_of = dict(specs)
    sizes = {n: 2 * int(np.prod(shape_of[n])) for n in names}
    total = sum(sizes.values())
    if sharded:
        groups, cur, acc = [[] for _ in range(n_shards)], 0, 0
        for n in names:
            if acc >= total * (cur + 1) / n_shards and cur < n_shards - 1:
                cur += 1
            groups[cur].append(n)
            acc += sizes[n]
        files = [f"model-{i + 1:05d}-of-{n_shards:05d}.safetensors" for i in range(n_shards)]
    else:
        groups, files = [names], ["model.safetensors"]
    weight_map = {}
    for fn, grp in zip(files, groups):
        w = st_io.StreamingWriter(os.path.join(out, fn), [(n, "BF16", shape_of[n]) for n in grp],
                                  metadata={"format": "pt"})
        for n in grp:
            w.write(n, init_tensor(n, shape_of[n], seed, eos_rows, p["eos_scale"], p["tie"],
                                   p.get("gains", DEFAULT_GAINS)).numpy())
            weight_map[n] = fn
        w.close()
    if sharded:
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_parameters": total // 2, "total_size": total},
                       "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
            f.write("\n")
    return {"vocab_size": vocab_size, "base_vocab": base, "special_ids": ids, "n_params": total // 2,
            "n_tensors": len(names), "files": files}


def check_checkpoint(out, clip="audio/en-jfk.wav", max_new_tokens=32):
    """Run the reference from the files on disk; report greedy variety and logit margins."""
    import glmasr_reference as ref
    m = ref.GlmAsrReference(out)
    samples = ref.load_audio(os.path.join(CORPUS, clip))
    res = m.run(samples, max_new_tokens=max_new_tokens, beams=4, capture_layers=False)
    g = res["greedy_ids"]
    margins = ref.greedy_margins(res["greedy_step_logits"])
    return {"clip": clip, "greedy_ids": g, "distinct_first20": len(set(g[:20])),
            "min_greedy_margin": float(margins.min()), "logit_std": float(res["greedy_step_logits"].std()),
            "min_beam_step_margin": float(min(ref.beam_step_margins(res["beam_trace"]))),
            "beam_best": res["beam_hyps"][0], "greedy_text": res["greedy_text"]}


def main():
    ap = argparse.ArgumentParser(description="random GLM-ASR checkpoint in the official HF format")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=None, help="default: the preset's seed")
    ap.add_argument("--sharded", action="store_true", help="write 2 shards + model.safetensors.index.json")
    ap.add_argument("--no-check", action="store_true", help="skip running the reference on a corpus clip")
    args = ap.parse_args()
    info = make_checkpoint(args.preset, args.out, args.seed, args.sharded)
    print(json.dumps({k: v for k, v in info.items() if k != "special_ids"}))
    print("special ids:", info["special_ids"])
    if not args.no_check and args.preset != "glm-asr-nano-2512":
        r = check_checkpoint(args.out)
        print(json.dumps(r, ensure_ascii=False))
        assert r["distinct_first20"] >= 4, "greedy output is not varied enough; try another --seed"


if __name__ == "__main__":
    main()
