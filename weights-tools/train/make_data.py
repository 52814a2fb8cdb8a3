#!/usr/bin/python3
"""Synthetic training / held-out speech for the demo GLM-ASR model (closed domain: English digit strings,
spelled-out numbers and ~20 spoken commands), rendered with `espeak-ng` and post-processed with `sox` + numpy.

Everything is seeded: clip i of a split is generated from its own RNG seeded by (seed, split, i), so the data is
identical on every run (espeak-ng and sox are deterministic for fixed arguments) and the work can be split over
processes (`--jobs`).

Splits (see docs/demo-model.md for the exact held-out definition):
    train    voices / variants / speeds / pitches / noise from the TRAIN_* sets below
    dev      same distribution as train, other random texts (monitoring only)
    heldout  voices, variants, speeds, pitches, tempo, level and noise settings that never occur in train/dev

Output (default .cache/demo-data/, git-ignored):
    <split>.pcm     all clips, 16 kHz mono int16 little-endian, concatenated
    <split>.json    [{"i", "offset", "n", "text", "kind", "voice", "speed", "pitch", "gap", "tempo", "band",
                      "level_db", "noise", "snr_db"}, ...]  (offset / n in samples)

    /usr/bin/python3 weights-tools/train/make_data.py [--out .cache/demo-data] [--train 20000] [--jobs 2]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SR = 16000

# ---------------------------------------------------------------------------------------------------------------
# the domain

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
         "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

COMMANDS = [
    "turn on the light", "turn off the light", "stop", "play music", "pause", "next song", "previous song",
    "volume up", "volume down", "yes", "no", "cancel", "open the door", "close the door", "what time is it",
    "call home", "start the timer", "set an alarm", "go back", "lock the screen",
]


def number_words(n):
    """0..999999 as US-style words without 'and': 405 -> 'four hundred five'."""
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return TEENS[n - 10]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + DIGITS[n % 10])
    if n < 1000:
        return DIGITS[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    return number_words(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + number_words(n % 1000))


def all_words():
    words = set(DIGITS) | set(TEENS) | {t for t in TENS if t} | {"oh", "hundred", "thousand"}
    for c in COMMANDS:
        words |= set(c.split())
    return sorted(words)


KINDS = ("digits", "number", "command")    # what make_text returns as the kind of a text


def make_text(rng):
    """(kind, list of word groups). Groups are spoken as separate phrases with a pause between them."""
    r = rng.random()
    if r < 0.45:                                        # digit strings, "oh" for zero sometimes
        oh = rng.random() < 0.35
        n_groups = 1 if rng.random() < 0.7 else int(rng.integers(2, 4))
        groups = []
        for _ in range(n_groups):
            n = int(rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 10], p=[.05, .08, .14, .18, .17, .14, .1, .08, .06]))
            if n_groups > 1:
                n = int(rng.integers(2, 6))
            ds = rng.integers(0, 10, n)
            groups.append(" ".join("oh" if (d == 0 and oh and rng.random() < 0.7) else DIGITS[d] for d in ds))
        return "digits", groups
    if r < 0.75:                                        # numbers 0..9999, small ones more often
        u = rng.random()
        n = int(rng.integers(0, 100)) if u < 0.45 else int(rng.integers(100, 1000)) if u < 0.8 else \
            int(rng.integers(1000, 10000))
        return "number", [number_words(n)]
    return "command", [COMMANDS[int(rng.integers(0, len(COMMANDS)))]]


# ---------------------------------------------------------------------------------------------------------------
# voices and conditions. Held-out values never occur in train/dev.

TRAIN_BASES = ["en", "en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-gb-x-gbclan"]
TRAIN_VARIANTS = ["", "m1", "m2", "m3", "m4", "m6", "m7", "f1", "f2", "f3", "f5", "klatt", "klatt3", "Alex",
                  "adam", "john", "linda", "steph", "Michael", "Lee", "Denis"]
TRAIN_SPEEDS = list(range(120, 221, 10))               # wpm
TRAIN_PITCHES = list(range(20, 81, 10))
TRAIN_GAPS = [0, 0, 0, 1, 3, 6]                        # espeak -g, units of 10 ms
TRAIN_TEMPO = [1.0, 1.0, 1.0, 0.9, 0.95, 1.05, 1.1]
TRAIN_LEVELS = [-1, -3, -6, -12, -20, -30, -40]       # peak dBFS after processing
TRAIN_NOISE = ["none", "none", "white", "pink"]
TRAIN_SNRS = [30, 20, 15, 10, 5]
TRAIN_BANDS = ["full", "full", "full", "telephone", "lowpass4k", "highpass"]

HELD_BASES = ["en-us-nyc", "en-gb-x-gbcwmd"]
HELD_VARIANTS = ["", "f4", "m5", "Annie", "klatt2", "Andy"]
HELD_SPEEDS = [125, 145, 165, 195, 215]
HELD_PITCHES = [25, 45, 65, 75]
HELD_GAPS = [0, 2, 4]
HELD_TEMPO = [1.0, 0.93, 1.07]
HELD_LEVELS = [-2, -9, -25, -35]
HELD_NOISE = ["none", "brown", "brown", "hum"]         # noise types never used in training
HELD_SNRS = [25, 17, 12]
HELD_BANDS = ["full", "full", "bandpass200-5k"]

# Synthetic accents (train / dev only). espeak-ng has 9 English accents and the held-out set keeps 2 of them
# unseen, so the model meets only 7 ways of realising each vowel. A synthetic accent is a per-speaker vowel
# shift, consistent within the clip like a real accent: each vowel phoneme of the espeak-ng `en` inventory is,
# with probability ACCENT_SHIFT_P, replaced everywhere by one of its neighbours in the vowel space (the kinds
# of shift that separate English accents: diphthong onsets, fronting, lowering), and the shifted phoneme string
# is spoken through espeak's `[[...]]` phoneme input. Words stay apart by their consonants and rhythm, which is
# what the model should learn to rely on. The held-out split never gets one.
VOWEL_SHIFTS = {
    "aI": ["OI", "A:", "a", "eI"], "eI": ["aI", "E", "e@"], "oU": ["aU", "O:", "0"], "aU": ["a", "aI", "E"],
    "i:": ["i", "I", "eI"], "u:": ["U", "3:"], "E": ["e@", "a", "I"], "I": ["i", "E", "@"], "V": ["0", "U", "a"],
    "0": ["V", "O:", "a"], "a": ["E", "A:", "V"], "o@": ["O@", "O:", "oU"], "O@": ["o@", "O:", "oU"],
    "O:": ["o@", "0", "oU"], "3:": ["@", "E", "A@"], "A@": ["A:", "a", "O:"], "i@": ["i:", "e@"],
}
ACCENT_FRACTION = 0.5                                   # share of train / dev clips spoken with a synthetic accent
ACCENT_SHIFT_P = 0.35

SPLITS = {"train": 20000, "dev": 300, "heldout": 400}
SPLIT_SALT = {"train": 1, "dev": 2, "heldout": 3}


def conditions(rng, split):
    held = split == "heldout"
    pick = lambda xs: xs[int(rng.integers(0, len(xs)))]  # noqa: E731
    c = dict(
        base=pick(HELD_BASES if held else TRAIN_BASES), variant=pick(HELD_VARIANTS if held else TRAIN_VARIANTS),
        speed=pick(HELD_SPEEDS if held else TRAIN_SPEEDS), pitch=pick(HELD_PITCHES if held else TRAIN_PITCHES),
        gap=pick(HELD_GAPS if held else TRAIN_GAPS), tempo=pick(HELD_TEMPO if held else TRAIN_TEMPO),
        level_db=pick(HELD_LEVELS if held else TRAIN_LEVELS), noise=pick(HELD_NOISE if held else TRAIN_NOISE),
        band=pick(HELD_BANDS if held else TRAIN_BANDS),
    )
    c["snr_db"] = pick(HELD_SNRS if held else TRAIN_SNRS) if c["noise"] != "none" else None
    c["voice"] = c["base"] + ("+" + c["variant"] if c["variant"] else "")
    return c


# ---------------------------------------------------------------------------------------------------------------
# rendering


SPEECH_FLOOR = 1e-3    # amplitude (full scale 1) below which espeak's output is silence (-60 dBFS; speech peaks at -1)


def read_wav_int16(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if cid == b"data":
            return np.frombuffer(data[pos + 8:pos + 8 + size], dtype="<i2").astype(np.float32) / 32768.0
        pos += 8 + size + (size & 1)
    raise ValueError("no data chunk in " + path)


def draw_accent(rng):
    """{vowel: replacement} for one synthetic-accent speaker (may be empty)."""
    return {v: alts[int(rng.integers(0, len(alts)))] for v, alts in VOWEL_SHIFTS.items()
            if rng.random() < ACCENT_SHIFT_P}


def espeak_phonemes(text, voice):
    """espeak-ng's phoneme mnemonics for text, one list of phonemes (stress marks kept on the vowel) per word."""
    out = subprocess.run(["espeak-ng", "-q", "-x", "--sep=_", "-v", voice, text], check=True, capture_output=True,
                         text=True).stdout
    return [w.split("_") for w in out.split()]


def bare(ph):
    """A phoneme mnemonic without its stress marks."""
    return ph.lstrip("',%=")


def accented_phonemes(text, voice, accent):
    """The `[[...]]` phoneme input that speaks text with the accent's vowel shifts. The shifts are kept only if
    espeak reads the concatenated mnemonics back as exactly the intended phonemes (`a` before `I` would merge
    into `aI`; `3:` before a vowel gets a linking r); otherwise the phrase is spoken from its unshifted phonemes."""
    words = espeak_phonemes(text, voice)
    shifted = [[ph[:len(ph) - len(bare(ph))] + accent.get(bare(ph), bare(ph)) for ph in w] for w in words]
    back = espeak_phonemes("[[" + " ".join("".join(w) for w in shifted) + "]]", voice)
    if [[bare(p) for p in w] for w in back] != [[bare(p) for p in w] for w in shifted]:
        shifted = words
    return "[[" + " ".join("".join(w) for w in shifted) + "]]"


def espeak(text, c, path):
    if c.get("accent"):
        text = accented_phonemes(text, c["voice"], c["accent"])
    subprocess.run(["espeak-ng", "-v", c["voice"], "-s", str(c["speed"]), "-p", str(c["pitch"]), "-g", str(c["gap"]),
                    "-w", path, text], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def sox_effects(c):
    """sox effect chain (after resampling to 16 kHz) for tempo and band limiting."""
    fx = []
    if c["tempo"] != 1.0:
        fx += ["tempo", "-s", str(c["tempo"])]
    band = c["band"]
    if band == "telephone":
        fx += ["sinc", "300-3400", "rate", "8000", "rate", str(SR)]
    elif band == "lowpass4k":
        fx += ["lowpass", "4000"]
    elif band == "highpass":
        fx += ["highpass", "300"]
    elif band.startswith("bandpass"):
        fx += ["sinc", "200-5000"]
    return fx


def noise(kind, n, rng):
    w = rng.standard_normal(n + 4096)
    if kind == "white":
        x = w[:n]
    elif kind == "pink":                                 # 1/f via Voss-like filter on the spectrum
        spec = np.fft.rfft(w)
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        x = np.fft.irfft(spec / np.sqrt(f), len(w))[:n]
    elif kind == "brown":
        x = np.cumsum(w)
        x = x - np.convolve(x, np.ones(801) / 801, mode="same")   # keep it stationary (high-pass ~20 Hz)
        x = x[:n]
    elif kind == "hum":                                  # mains hum + harmonics + a little white noise
        t = np.arange(n) / SR
        f0 = 50.0 if rng.random() < 0.5 else 60.0
        x = sum(np.sin(2 * np.pi * f0 * k * t + rng.random() * 6.28) / k for k in (1, 2, 3, 5)) + 0.05 * w[:n]
    else:
        raise ValueError(kind)
    return x / (np.sqrt(np.mean(x ** 2)) + 1e-12)


def speak(text, c, tmp):
    """One phrase spoken with conditions c (voice, speed, pitch, gap, tempo, band, accent): espeak-ng, then sox to
    16 kHz mono 16-bit with the tempo and band effects and the peak at -1 dBFS; float64 samples with espeak's
    leading / trailing silence trimmed to 10 ms before and 20 ms after the first / last sample over SPEECH_FLOOR."""
    raw = os.path.join(tmp, "raw.wav")
    out = os.path.join(tmp, "p.wav")
    espeak(text, c, raw)
    # -R: sox dithers the 16-bit output with a randomly seeded generator unless told to repeat itself
    subprocess.run(["sox", "-R", raw, "-r", str(SR), "-c", "1", "-b", "16", out] + sox_effects(c)
                   + ["gain", "-n", "-1"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    x = read_wav_int16(out).astype(np.float64)
    nz = np.nonzero(np.abs(x) > SPEECH_FLOOR)[0]
    if len(nz):
        x = x[max(0, nz[0] - 160): nz[-1] + 320]
    return x


def render(i, split, seed, tmp):
    rng = np.random.default_rng([seed, SPLIT_SALT[split], i])
    kind, groups = make_text(rng)
    c = conditions(rng, split)
    if split != "heldout":     # own RNG stream: the clip's other draws (and every unaccented clip) stay as before
        arng = np.random.default_rng([seed, SPLIT_SALT[split], i, 1])
        c["accent"] = draw_accent(arng) if arng.random() < ACCENT_FRACTION else {}
    parts = []
    for gi, g in enumerate(groups):
        x = speak(g, c, tmp)
        if gi:
            parts.append(np.zeros(int(rng.uniform(0.25, 1.0) * SR)))
        parts.append(x)
    lead, tail = int(rng.uniform(0.05, 0.4) * SR), int(rng.uniform(0.1, 0.5) * SR)
    x = np.concatenate([np.zeros(lead)] + parts + [np.zeros(tail)])
    if c["noise"] != "none":
        speech_rms = np.sqrt(np.mean(np.concatenate(parts) ** 2))
        x = x + noise(c["noise"], len(x), rng) * speech_rms * 10 ** (-c["snr_db"] / 20)
    x = x / (np.abs(x).max() + 1e-12) * 10 ** (c["level_db"] / 20)
    pcm = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)
    meta = dict(i=i, text=" ".join(groups), kind=kind, groups=len(groups), voice=c["voice"], speed=c["speed"],
                pitch=c["pitch"], gap=c["gap"], tempo=c["tempo"], band=c["band"], level_db=c["level_db"],
                noise=c["noise"], snr_db=c["snr_db"],
                accent=",".join(f"{v}>{r}" for v, r in sorted(c.get("accent", {}).items())))
    return pcm, meta


def render_range(args):
    split, seed, lo, hi, part_path = args
    metas = []
    with tempfile.TemporaryDirectory() as tmp, open(part_path, "wb") as f:
        for i in range(lo, hi):
            pcm, meta = render(i, split, seed, tmp)
            meta["n"] = len(pcm)
            f.write(pcm.astype("<i2").tobytes())
            metas.append(meta)
    return metas


def make_split(out, split, n, seed, jobs):
    from multiprocessing import Pool
    bounds = np.linspace(0, n, jobs + 1).astype(int)
    parts = [(split, seed, int(bounds[j]), int(bounds[j + 1]), os.path.join(out, f"{split}.part{j}"))
             for j in range(jobs)]
    with Pool(jobs) as pool:
        results = pool.map(render_range, parts)
    metas, offset = [], 0
    with open(os.path.join(out, split + ".pcm"), "wb") as f:
        for (_, _, _, _, pp), ms in zip(parts, results):
            with open(pp, "rb") as g:
                f.write(g.read())
            os.remove(pp)
            for m in ms:
                m["offset"] = offset
                offset += m["n"]
                metas.append(m)
    with open(os.path.join(out, split + ".json"), "w") as f:
        json.dump({"split": split, "seed": seed, "sample_rate": SR, "clips": metas}, f, indent=0)
    dur = offset / SR
    print(f"{split}: {n} clips, {dur / 3600:.2f} h, mean {dur / n:.2f} s, max {max(m['n'] for m in metas) / SR:.2f} s",
          flush=True)


def load_split(data_dir, split):
    """(list of clip metadata, int16 memmap of all samples)."""
    with open(os.path.join(data_dir, split + ".json")) as f:
        meta = json.load(f)
    pcm = np.memmap(os.path.join(data_dir, split + ".pcm"), dtype="<i2", mode="r")
    return meta["clips"], pcm


def clip_samples(pcm, m):
    return np.asarray(pcm[m["offset"]: m["offset"] + m["n"]], dtype=np.float32) / 32768.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, ".cache", "demo-data"))
    ap.add_argument("--seed", type=int, default=2512)
    ap.add_argument("--jobs", type=int, default=2)
    for s, n in SPLITS.items():
        ap.add_argument("--" + s, type=int, default=n, help=f"number of {s} clips (default {n})")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    for s in SPLITS:
        make_split(args.out, s, getattr(args, s), args.seed, args.jobs)
    print(f"done in {time.time() - t0:.0f} s -> {args.out}")


if __name__ == "__main__":
    sys.exit(main())
