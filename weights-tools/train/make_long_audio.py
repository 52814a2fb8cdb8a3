#!/usr/bin/python3
"""Long test recordings in the demo model's domain (English digit strings, numbers, 20 commands), with the times
of every utterance known: for word error rates and segment boundaries on long audio (docs/eval.md).

Each recording has two speakers drawn from the held-out conditions of make_data.py (voices, variants, speeds,
pitches, word gaps, tempo: none of them occurs in the demo model's training data), one band limit, and one
background noise of a held-out kind (brown or mains hum) at a held-out SNR, present everywhere. Utterances are
make_data's texts (a digit string spoken as 2-3 groups gives one utterance per group), each by one of the two
speakers at a random level within 6 dB, separated by random pauses of 0.2-2 s; lead-in and tail of 0.2-2 s.
An utterance's start and end are its first and last sample over make_data.SPEECH_FLOOR (-60 dB under its peak
before the level is applied): the pauses between those times are exactly the drawn ones.

Everything comes from one RNG seeded by (seed, 4, crc32 of the name), so a recording is identical on every run
(espeak-ng and sox are deterministic; sox runs with -R).

Output (default .cache/long-audio/, git-ignored), per recording NAME:
    NAME.wav    16 kHz mono 16-bit PCM
    NAME.json   {"name", "seed", "sample_rate", "duration_s", "noise", "snr_db", "noise_rms", "band",
                 "speakers": [...], "utterances": [{"start", "end", "text", "speaker", "gain_db"}, ...]}
                (times in seconds; noise_rms in full-scale units, as in the WAV)
and for the default set a manifest for `glm-asr eval`: manifest.json (all) and manifest-3min.json.

    /usr/bin/python3 weights-tools/train/make_long_audio.py                 # 3 x 3 min + 1 x 20 min (npm run
                                                                            # make:long-audio)
    /usr/bin/python3 weights-tools/train/make_long_audio.py --name NAME --duration SECONDS [--seed N] [--out DIR]
"""

import argparse
import json
import os
import sys
import tempfile
import time
import wave
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_data as md  # noqa: E402

SR = md.SR
LONG_SALT = 4                        # after make_data's split salts 1-3
PAUSE_S = (0.2, 2.0)                 # between utterances, and the lead-in and tail
GAIN_DB = (-6.0, 0.0)                # an utterance's level against the speaker's -1 dBFS peak
LONG_NOISE = ["brown", "hum"]        # make_data's held-out noise kinds
PEAK_DBFS = -3.0                     # the whole recording's peak
DEFAULT_SET = [("long-3min-1", 180), ("long-3min-2", 180), ("long-3min-3", 180), ("long-20min", 1200)]
SPEAKER_FIELDS = ("voice", "speed", "pitch", "gap", "tempo")


def speaker_conditions(speaker, band):
    """make_data's conditions dict for one speaker of a recording (what md.speak reads)."""
    return {**{k: speaker[k] for k in SPEAKER_FIELDS}, "band": band}


def utterance_audio(rec, u, tmp):
    """Utterance u of recording rec (the JSON's dicts) at unit gain: make_data's phrase audio cut to the first and
    last sample over SPEECH_FLOOR, so that its length is exactly the utterance's end - start."""
    x = md.speak(u["text"], speaker_conditions(rec["speakers"][u["speaker"]], rec["band"]), tmp)
    nz = np.nonzero(np.abs(x) > md.SPEECH_FLOOR)[0]
    return x[nz[0]: nz[-1] + 1]


def make_recording(name, duration_s, seed, tmp):
    """(int16 samples, metadata) of one recording at least duration_s long."""
    rng = np.random.default_rng([seed, LONG_SALT, zlib.crc32(name.encode())])
    speakers = []
    for _ in range(2):
        c = md.conditions(rng, "heldout")
        speakers.append({k: c[k] for k in SPEAKER_FIELDS})
    band = md.HELD_BANDS[int(rng.integers(0, len(md.HELD_BANDS)))]
    noise_kind = LONG_NOISE[int(rng.integers(0, len(LONG_NOISE)))]
    snr_db = md.HELD_SNRS[int(rng.integers(0, len(md.HELD_SNRS)))]
    rec = {"name": name, "seed": seed, "sample_rate": SR, "band": band, "noise": noise_kind, "snr_db": snr_db,
           "speakers": speakers, "utterances": []}
    pieces = [np.zeros(int(rng.uniform(*PAUSE_S) * SR))]    # the lead-in
    at = len(pieces[0])                                     # samples so far
    while at < duration_s * SR:
        _, groups = md.make_text(rng)
        for text in groups:
            u = {"text": text, "speaker": int(rng.integers(0, 2)), "gain_db": round(float(rng.uniform(*GAIN_DB)), 2)}
            x = utterance_audio(rec, u, tmp) * 10 ** (u["gain_db"] / 20)
            u["start"], u["end"] = at / SR, (at + len(x)) / SR
            rec["utterances"].append(u)
            pause = np.zeros(int(rng.uniform(*PAUSE_S) * SR))
            pieces += [x, pause]
            at += len(x) + len(pause)
    speech = np.concatenate(pieces)
    # the SNR is against the mean power of the utterances (the pauses left out)
    voiced = np.concatenate([speech[round(u["start"] * SR): round(u["end"] * SR)] for u in rec["utterances"]])
    noise_rms = np.sqrt(np.mean(voiced ** 2)) * 10 ** (-snr_db / 20)
    x = speech + md.noise(noise_kind, len(speech), rng) * noise_rms
    scale = 10 ** (PEAK_DBFS / 20) / np.abs(x).max()
    pcm = np.clip(np.round(x * scale * 32768), -32768, 32767).astype(np.int16)
    rec["noise_rms"] = float(noise_rms * scale)
    rec["duration_s"] = len(pcm) / SR
    return pcm, rec


def write_recording(out, name, duration_s, seed):
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        pcm, rec = make_recording(name, duration_s, seed, tmp)
    with wave.open(os.path.join(out, name + ".wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.astype("<i2").tobytes())
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(rec, f, indent=1)
    print(f"{name}: {rec['duration_s']:.1f} s, {len(rec['utterances'])} utterances, {rec['noise']} noise at "
          f"{rec['snr_db']} dB SNR ({time.time() - t0:.0f} s)", flush=True)
    return rec


def write_manifest(path, recs):
    """A `glm-asr eval` manifest: each recording with the text of all its utterances in order."""
    entries = [{"audio": r["name"] + ".wav", "text": " ".join(u["text"] for u in r["utterances"]),
                "language": "en"} for r in recs]
    with open(path, "w") as f:
        json.dump(entries, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(md.REPO, ".cache", "long-audio"))
    ap.add_argument("--seed", type=int, default=2512)
    ap.add_argument("--name", help="make one recording NAME (with --duration) instead of the default set")
    ap.add_argument("--duration", type=float, help="its length in seconds (at least; it ends after an utterance)")
    args = ap.parse_args()
    if (args.name is None) != (args.duration is None):
        ap.error("--name and --duration go together")
    if args.duration is not None and not 0 < args.duration <= 4 * 3600:
        ap.error("--duration must be in (0, 14400] seconds")
    os.makedirs(args.out, exist_ok=True)
    if args.name:
        write_recording(args.out, args.name, args.duration, args.seed)
        return
    recs = [write_recording(args.out, name, dur, args.seed) for name, dur in DEFAULT_SET]
    write_manifest(os.path.join(args.out, "manifest.json"), recs)
    write_manifest(os.path.join(args.out, "manifest-3min.json"), [r for r in recs if r["duration_s"] < 600])
    print(f"-> {args.out}")


if __name__ == "__main__":
    sys.exit(main())
