#!/usr/bin/python3
"""Word error rate of an exported demo checkpoint, measured with the independent PyTorch reference
(weights-tools/glmasr_reference.py: full 30 s window, f32 compute on the BF16 weights read back from
model.safetensors, greedy decoding) -- i.e. exactly the model the engine runs.

    /usr/bin/python3 weights-tools/train/evaluate.py [--model models/demo] [--data .cache/demo-data]
                                                     [--split heldout] [--limit N] [--write-samples]

Reports WER on the chosen synthetic split (overall, per text kind and per condition) and on the real human
recording shared/corpus/audio/en-vosk-digits.wav. `--write-samples` also (re)writes models/demo/samples/: six
held-out clips picked by a fixed rule (first clip in index order matching each criterion, chosen without looking
at the model's output), expected.json and the reference's greedy ids (reference-ids.json).
"""

import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
REPO = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
sys.path.insert(0, HERE)
import glmasr_reference as ref  # noqa: E402
import make_data as md  # noqa: E402

CORPUS = os.environ.get("GLMASR_CORPUS", os.path.join(REPO, "..", "shared", "corpus"))
VOSK_CLIP = "audio/en-vosk-digits.wav"
MAX_NEW_TOKENS = 32

# (file name, criterion) -- the first held-out clip (index order) of at most 2.9 s matching each one
SAMPLE_RULES = [
    ("digits-brown-noise.wav", lambda m: m["kind"] == "digits" and m["noise"] == "brown"),
    ("digits-oh.wav", lambda m: m["kind"] == "digits" and "oh" in m["text"].split() and m["noise"] == "none"),
    ("number-quiet.wav", lambda m: m["kind"] == "number" and m["level_db"] == -35),
    ("command-bandpass.wav", lambda m: m["kind"] == "command" and m["band"] != "full"),
    ("command-hum.wav", lambda m: m["kind"] == "command" and m["noise"] == "hum"),
    ("number-slow-tempo.wav", lambda m: m["kind"] == "number" and m["tempo"] < 1.0),
]


def normalize(text):
    keep = "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower())
    return keep.split()


def edit_distance(a, b):
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(b)]


def transcribe(model, samples):
    res = model.run(samples, max_new_tokens=MAX_NEW_TOKENS, beams=0, capture_layers=False)
    margins = ref.greedy_margins(res["greedy_step_logits"])
    return res["greedy_ids"], res["greedy_text"].strip(), float(margins.min())


def write_wav16(path, pcm16):
    data = np.asarray(pcm16, dtype="<i2").tobytes()
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, md.SR, md.SR * 2, 2, 16))
        f.write(b"data" + struct.pack("<I", len(data)) + data)


def wer_table(rows, key):
    groups = {}
    for r in rows:
        g = groups.setdefault(str(r[key]), [0, 0, 0])
        g[0] += r["errors"]
        g[1] += r["words"]
        g[2] += 1
    return {k: {"wer": round(100.0 * e / max(1, n), 2), "clips": c} for k, (e, n, c) in sorted(groups.items())}


def write_samples(model, clips, pcm, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    expected, golden, used = {}, {}, set()
    for name, rule in SAMPLE_RULES:
        m = next(c for c in clips if c["i"] not in used and c["n"] <= 2.9 * md.SR and rule(c))
        used.add(m["i"])
        path = os.path.join(out_dir, name)
        write_wav16(path, pcm[m["offset"]: m["offset"] + m["n"]])
        samples = ref.load_audio(path)                  # exactly what a WAV reader gives back
        ids, text, margin = transcribe(model, samples)
        eos = ids[-1] in model.cfg.eos_ids
        expected[name] = m["text"]
        golden[name] = {
            "ids": ids[:-1] if eos else ids, "eos_id": ids[-1] if eos else None, "text": text,
            "min_greedy_margin": round(margin, 4), "heldout_index": m["i"],
            "conditions": {k: m[k] for k in ("voice", "speed", "pitch", "gap", "tempo", "band", "level_db",
                                             "noise", "snr_db")},
        }
        print(f"sample {name}: {os.path.getsize(path)} bytes, expected {m['text']!r}, reference {text!r} "
              f"(min margin {margin:.3f})")
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "reference-ids.json"), "w") as f:
        json.dump({"about": "greedy token ids of the PyTorch reference (weights-tools/glmasr_reference.py, f32 on "
                            "the BF16 checkpoint) for each clip; ids exclude the final eos, which is given "
                            "separately. Regenerate: /usr/bin/python3 weights-tools/train/evaluate.py "
                            "--write-samples",
                   "max_new_tokens": MAX_NEW_TOKENS,
                   "reference_correct": sum(golden[n]["text"] == expected[n] for n in golden),
                   "clips": golden}, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.path.join(REPO, "models", "demo"))
    ap.add_argument("--data", default=os.path.join(REPO, ".cache", "demo-data"))
    ap.add_argument("--split", default="heldout")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--write-samples", action="store_true")
    ap.add_argument("--report", default=os.path.join(REPO, ".cache", "demo-eval", "report.json"))
    ap.add_argument("--show-errors", type=int, default=15)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    model = ref.GlmAsrReference(args.model)

    clips, pcm = md.load_split(args.data, args.split)
    if args.limit:
        clips = clips[:args.limit]
    rows = []
    for m in clips:
        ids, text, margin = transcribe(model, md.clip_samples(pcm, m))
        hyp, want = normalize(text), normalize(m["text"])
        rows.append(dict(m, hyp=text, errors=edit_distance(want, hyp), words=len(want), min_margin=margin,
                         variant=m["voice"].split("+")[1] if "+" in m["voice"] else "",
                         base=m["voice"].split("+")[0]))
    errors, words = sum(r["errors"] for r in rows), sum(r["words"] for r in rows)
    report = {
        "model": os.path.relpath(args.model, REPO), "split": args.split, "clips": len(rows), "words": words,
        "wer": round(100.0 * errors / words, 2),
        "sentence_error_rate": round(100.0 * sum(r["errors"] > 0 for r in rows) / len(rows), 2),
        "by_kind": wer_table(rows, "kind"), "by_noise": wer_table(rows, "noise"), "by_band": wer_table(rows, "band"),
        "by_level_db": wer_table(rows, "level_db"), "by_base_voice": wer_table(rows, "base"),
        "by_variant": wer_table(rows, "variant"), "by_speed": wer_table(rows, "speed"),
    }
    vosk_path = os.path.join(CORPUS, VOSK_CLIP)
    if os.path.exists(vosk_path):
        with open(os.path.join(CORPUS, "manifest.json")) as f:
            want_text = next(c["transcript"] for c in json.load(f)["clips"] if c["file"] == VOSK_CLIP)
        want = [w for w in normalize(want_text)]
        ids, text, margin = transcribe(model, ref.load_audio(vosk_path))
        e = edit_distance(want, normalize(text))
        report["vosk_digits"] = {"file": VOSK_CLIP, "expected": " ".join(want), "hypothesis": text,
                                 "errors": e, "words": len(want), "wer": round(100.0 * e / len(want), 2)}
    report["eval_wall_s"] = round(time.time() - t0, 1)
    os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
    with open(args.report, "w") as f:
        json.dump(dict(report, errors=[{k: r[k] for k in ("i", "text", "hyp", "voice", "noise", "snr_db", "band",
                                                            "level_db", "speed")}
                                       for r in rows if r["errors"]]), f, indent=1)
        f.write("\n")
    bad = [r for r in rows if r["errors"]]
    for r in bad[:args.show_errors]:
        print(f"  #{r['i']} want {r['text']!r} got {r['hyp']!r} ({r['voice']}, {r['noise']} {r['snr_db']}, "
              f"{r['band']}, {r['level_db']} dB, {r['speed']} wpm)")
    print(json.dumps({k: v for k, v in report.items()}, indent=1))
    if args.write_samples:
        write_samples(model, md.load_split(args.data, "heldout")[0], md.load_split(args.data, "heldout")[1],
                      os.path.join(args.model, "samples"))


if __name__ == "__main__":
    main()
