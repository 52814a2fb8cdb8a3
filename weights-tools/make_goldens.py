#!/usr/bin/python3
"""Regenerate everything under test/goldens/ deterministically:

    test/goldens/tiny/                  checkpoint, preset `tiny` (single model.safetensors, tied lm_head stored)
    test/goldens/tiny-b/                checkpoint, preset `tiny-b` (2 shards + index, untied lm_head)
    test/goldens/dumps/<name>.safetensors   per-clip stage dumps of the PyTorch reference (f32 / i32)
    test/goldens/manifest.json          machine-readable index of the above (shapes, dtypes, metadata)

Audio is read from shared/corpus (never copied here except as the `input_samples` tensor of each dump).
Layout and semantics: docs/goldens.md.

    python3 weights-tools/make_goldens.py [--out test/goldens] [--check-f64] [--only DUMP]
    python3 weights-tools/make_goldens.py --per-window    # only test/goldens/per-window-2win.json (see below)

--check-f64 also runs every clip in float64 and prints how far the f32 numbers drift (a yardstick for the
tolerances a port can expect), and whether the token ids agree.
--only DUMP writes just that dump and the checkpoint it uses (and a manifest of those): the tests regenerate one
golden this way and compare it with the committed one.
--per-window writes test/goldens/per-window-2win.json: the prompt and greedy ids of the committed tiny-long-2win
input with one audio block per 30 s window (the model authors' layout), from the committed tiny checkpoint.
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import glmasr_reference as ref  # noqa: E402
import make_checkpoint as mc  # noqa: E402
import st_io  # noqa: E402

REPO = os.path.dirname(HERE)
MAX_NEW_TOKENS = 32
BEAMS = 4

CHECKPOINTS = [  # (preset, folder, sharded)
    ("tiny", "tiny", False),
    ("tiny-b", "tiny-b", True),
]

# A clip longer than 30 s: no corpus clip is, so five 16 kHz clips are concatenated (32.39 s -> 2 windows,
# the second one 2.39 s long).
LONG_CLIPS = ["audio/en-jfk.wav", "audio/zh-aishell-BAC009S0724W0121.wav", "audio/en-glmasr-example-f32.wav",
              "audio/en-new-home-in-the-stars.wav", "audio/en-ldc93s1-16k.wav"]

# Every dump has the log-mel (the engine's front end is checked on each clip, both windows of the long one).
DUMPS = [
    dict(name="tiny-en-ldc93s1", model="tiny", clips=["audio/en-ldc93s1-16k.wav"], conv=True, layers=True),
    dict(name="tiny-zh-funasr-sample", model="tiny", clips=["audio/zh-funasr-sample.wav"], conv=True, layers=False),
    dict(name="tiny-long-2win", model="tiny", clips=LONG_CLIPS, conv=False, layers=False),
    dict(name="tiny-b-zh-glmasr-quiet", model="tiny-b", clips=["audio/zh-glmasr-example-quiet.wav"],
         conv=True, layers=False),
]


def dump_one(spec, model, out_dir):
    samples = np.concatenate([ref.load_audio(os.path.join(mc.CORPUS, c)) for c in spec["clips"]])
    res = model.run(samples, MAX_NEW_TOKENS, BEAMS, capture_layers=True)
    t = ref.dump_tensors(res, BEAMS, with_mel=True, with_layers=spec["layers"])
    if not spec["conv"]:
        t.pop("conv_out")
    cfg = model.cfg
    gm = t["greedy_margins"]
    bm = t[f"beam{BEAMS}_step_margins"]
    meta = {
        "name": spec["name"],
        "model": spec["model"],
        "clips": json.dumps(spec["clips"]),
        "sample_rate": "16000",
        "n_samples": str(len(samples)),
        "n_windows": str(len(res["window_valid_samples"])),
        "window_valid_samples": json.dumps(res["window_valid_samples"]),
        "window_audio_tokens": json.dumps(res["window_audio_tokens"]),
        "n_audio_tokens": str(sum(res["window_audio_tokens"])),
        "prompt_len": str(len(res["prompt_ids"])),
        "audio_token_id": str(cfg.audio_token_id),
        "eos_token_ids": json.dumps(cfg.eos_ids),
        "max_new_tokens": str(MAX_NEW_TOKENS),
        "num_beams": str(BEAMS),
        "length_penalty": "1.0",
        "early_stopping": "true",
        "greedy_len": str(len(res["greedy_ids"])),
        "greedy_ends_with_eos": str(res["greedy_ids"][-1] in cfg.eos_ids).lower(),
        "beam_len": str(len(res["beam_hyps"][0][1])),
        "beam_ends_with_eos": str(res["beam_hyps"][0][1][-1] in cfg.eos_ids).lower(),
        "greedy_min_margin": "%.6f" % float(gm.min()),
        "beam_min_step_margin": "%.6f" % float(bm.min()),
        "greedy_text": res["greedy_text"],
        "beam_text": res["beam_text"],
        "compute": "float32 PyTorch %s CPU, weights = BF16 values read back from the checkpoint" % torch.__version__,
    }
    path = os.path.join(out_dir, "dumps", spec["name"] + ".safetensors")
    st_io.save_file(t, path, metadata=meta)
    return path, meta, t, res, samples


def write_per_window(out):
    """Greedy ids of the two-window dump's input with the per-window audio-block layout (a small JSON)."""
    spec = next(d for d in DUMPS if d["name"] == "tiny-long-2win")
    dump = os.path.join(out, "dumps", spec["name"] + ".safetensors")
    samples = st_io.load_file(dump, ["input_samples"])[0]["input_samples"]
    res = ref.GlmAsrReference(os.path.join(out, spec["model"])).run(
        samples, MAX_NEW_TOKENS, beams=0, capture_layers=False, audio_blocks="per-window")
    margins = ref.greedy_margins(res["greedy_step_logits"])
    doc = {
        "about": "tiny-long-2win input, one audio block per window; python3 weights-tools/make_goldens.py --per-window",
        "dump": os.path.relpath(dump, out), "model": spec["model"], "max_new_tokens": MAX_NEW_TOKENS,
        "window_audio_tokens": res["window_audio_tokens"], "prompt_ids": [int(i) for i in res["prompt_ids"]],
        "greedy_ids": [int(i) for i in res["greedy_ids"]], "greedy_min_margin": round(float(margins.min()), 6),
    }
    path = os.path.join(out, "per-window-2win.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
        f.write("\n")
    print(f"{path}: greedy_len={len(doc['greedy_ids'])} min margin {doc['greedy_min_margin']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "test", "goldens"))
    ap.add_argument("--check-f64", action="store_true")
    ap.add_argument("--only", choices=[d["name"] for d in DUMPS], help="write only this dump and its checkpoint")
    ap.add_argument("--per-window", action="store_true", help="write only per-window-2win.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.per_window:
        return write_per_window(args.out)
    dumps = [d for d in DUMPS if args.only in (None, d["name"])]
    checkpoints = [c for c in CHECKPOINTS if any(d["model"] == c[1] for d in dumps)]
    torch.set_num_threads(1)           # fixed reduction order -> bit-identical reruns on one machine
    out = args.out
    os.makedirs(os.path.join(out, "dumps"), exist_ok=True)

    manifest = {"about": "GLM-ASR golden data; see docs/goldens.md. Regenerate: python3 weights-tools/make_goldens.py",
                "checkpoints": {}, "dumps": []}
    for preset, folder, sharded in checkpoints:
        d = os.path.join(out, folder)
        if os.path.isdir(d):
            shutil.rmtree(d)
        info = mc.make_checkpoint(preset, d, sharded=sharded)
        p = mc.PRESETS[preset]
        with open(os.path.join(d, "config.json")) as f:
            cfgj = json.load(f)
        manifest["checkpoints"][folder] = {
            "preset": preset, "seed": p["seed"], "files": info["files"], "n_params": info["n_params"],
            "n_tensors": info["n_tensors"], "vocab_size": info["vocab_size"], "base_vocab": info["base_vocab"],
            "special_token_ids": info["special_ids"], "eos_token_ids": cfgj["text_config"]["eos_token_id"],
            "audio_token_id": cfgj["audio_token_id"], "tie_word_embeddings": cfgj["tie_word_embeddings"],
            "audio": p["audio"], "text": p["text"],
        }
        print(f"checkpoint {folder}: {info['n_params']} params, vocab {info['vocab_size']}, files {info['files']}")

    models = {folder: ref.GlmAsrReference(os.path.join(out, folder)) for _, folder, _ in checkpoints}
    models64 = {}
    for spec in dumps:
        path, meta, t, res, samples = dump_one(spec, models[spec["model"]], out)
        manifest["dumps"].append({
            "file": os.path.relpath(path, out), "model": spec["model"], "metadata": meta,
            "tensors": {k: {"dtype": st_io._default_dtype(v), "shape": list(np.shape(v))}
                        for k, v in sorted(t.items())},
        })
        print(f"{spec['name']}: {os.path.getsize(path) / 1e6:.2f} MB  windows={meta['n_windows']} "
              f"audio_tokens={meta['window_audio_tokens']} greedy_len={meta['greedy_len']} "
              f"(eos {meta['greedy_ends_with_eos']}) beam_len={meta['beam_len']} (eos {meta['beam_ends_with_eos']}) "
              f"min margins greedy {meta['greedy_min_margin']} beam {meta['beam_min_step_margin']}")
        if args.check_f64:
            m64 = models64.setdefault(spec["model"], ref.GlmAsrReference(os.path.join(out, spec["model"]),
                                                                         torch.float64))
            r64 = m64.run(samples, MAX_NEW_TOKENS, BEAMS, capture_layers=False)
            for k in ("mel", "encoder_out", "projector_out", "prefill_logits"):
                dv = (res[k].double() - r64[k]).abs().max().item()
                print(f"    f32 vs f64 {k:16s} max|diff| {dv:.2e}")
            print("    greedy ids equal:", res["greedy_ids"] == r64["greedy_ids"],
                  " beam ids equal:", res["beam_hyps"][0][1] == r64["beam_hyps"][0][1])

    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    total = 0
    for root, _dirs, files in os.walk(out):
        for fn in files:
            total += os.path.getsize(os.path.join(root, fn))
    print(f"total size of {out}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
