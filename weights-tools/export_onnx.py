#!/usr/bin/python3
"""Export the two hot paths of a GLM-ASR checkpoint to ONNX for the peer benchmark (bench/model.ts, bench/peers/):

    encoder-L{N}.onnx   one 30 s window: log-mel [1, mels, 3000] -> conv1+GELU -> conv2(stride 2)+GELU -> N encoder
                        layers -> final LayerNorm -> 4-frame merge -> projector -> audio embeddings [1, 375, d_text]
                        (what our `encoder-window` stage times)
    decoder-L{N}.onnx   one decode step with a KV cache: ids [B, 1] (int64), pos [1] (int64, the new token's
                        position = past length), past_key.i / past_value.i [B, kv, P, hd] for every layer ->
                        logits [B, vocab], present_key.i / present_value.i [B, kv, P + 1, hd]
                        (embedding -> N Llama layers -> final RMSNorm -> tied lm_head; what `decode-step` times)

N counts the FIRST N layers of the checkpoint (depth-truncated copies for slow adapters); N = all layers gives the
real model. Weights: the checkpoint's BF16 values widened exactly to f32 (`--dtype f32`, the default). Compute is
written out the way torch 1.13 exports it (no scaled_dot_product_attention): matmul -> softmax -> matmul, GELU as
erf, RMSNorm as pow/mean/rsqrt, GQA as expand + reshape.

Encoder attention is computed in groups of at most `--head-group` heads (default 10) so that every softmax input
stays at or below 128 MiB: ONNX Runtime's WebGPU Softmax over a larger tensor is silently wrong on lavapipe (whose
maxStorageBufferRange is 128 MiB; see shared/spec/onnxruntime-webgpu-peer.md, pitfall 1). 20 heads x 1500^2 f32
would be 172 MiB.

Next to each model the script writes `<name>.check.json` plus raw little-endian `.bin` files: one seeded test
input and the outputs of the plain-PyTorch reference (weights-tools/glmasr_reference.py: `encoder_forward`,
`project_audio`, `Decoder.forward`, an implementation independent of the export modules) for that input, so a runner
can check an execution provider's outputs before trusting its timings.

Models above 2 GB are written by torch with external data (one file per initializer next to the .onnx): each
model gets its own folder `<out>/<name>/<name>.onnx`.

Usage:
    python3 weights-tools/export_onnx.py --model .cache/models/glm-asr-nano-2512-random \
        --out .cache/onnx/glm-asr-nano-2512-random --encoder-layers 2 --decoder-layers 2 \
        [--part encoder|decoder|both] [--head-group 10] [--no-check]
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
sys.path.insert(0, HERE)
import st_io  # noqa: E402
import glmasr_reference as ref  # noqa: E402

OPSET = 17


# ==============================================================================================================
# weights


def checkpoint_files(model_dir):
    """name -> safetensors file path (single file or sharded with an index)."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            return {k: os.path.join(model_dir, v) for k, v in json.load(f)["weight_map"].items()}
    p = os.path.join(model_dir, "model.safetensors")
    header, _ = st_io.read_header(p)
    header.pop("__metadata__", None)
    return {k: p for k in header}


def load_tensors(model_dir, names):
    """Only the named tensors, as f32 torch tensors (BF16 widened exactly)."""
    where = checkpoint_files(model_dir)
    missing = [n for n in names if n not in where]
    if missing:
        raise SystemExit(f"{model_dir}: missing tensors {missing[:5]}")
    out = {}
    for path in sorted(set(where[n] for n in names)):
        arrays, _ = st_io.load_file(path, set(n for n in names if where[n] == path))
        for k, v in arrays.items():
            out[k] = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
    return out


def encoder_names(n_layers):
    a = "audio_tower."
    names = [a + "conv1.weight", a + "conv1.bias", a + "conv2.weight", a + "conv2.bias",
             a + "norm.weight", a + "norm.bias",
             "multi_modal_projector.linear_1.weight", "multi_modal_projector.linear_1.bias",
             "multi_modal_projector.linear_2.weight", "multi_modal_projector.linear_2.bias"]
    for i in range(n_layers):
        p = f"{a}layers.{i}."
        names += [p + s for s in ("input_layernorm.weight", "input_layernorm.bias", "self_attn.q_proj.weight",
                                  "self_attn.q_proj.bias", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                                  "self_attn.v_proj.bias", "self_attn.o_proj.weight", "self_attn.o_proj.bias",
                                  "post_attention_layernorm.weight", "post_attention_layernorm.bias",
                                  "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias")]
    return names


def decoder_names(n_layers, tied):
    l = "language_model."
    names = [l + "model.embed_tokens.weight", l + "model.norm.weight"] + ([] if tied else [l + "lm_head.weight"])
    for i in range(n_layers):
        p = f"{l}model.layers.{i}."
        names += [p + s for s in ("input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                  "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                                  "post_attention_layernorm.weight",
                                  "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight")]
    return names


# ==============================================================================================================
# export modules (written for torch 1.13's ONNX exporter; the reference functions are reused where they export)


class Params(torch.nn.Module):
    """Holds checkpoint tensors as parameters (so they become ONNX initializers); `p(name)` returns one."""

    def __init__(self, W):
        super().__init__()
        self._names = {}
        for i, (k, v) in enumerate(sorted(W.items())):
            attr = f"w{i}"
            self.register_parameter(attr, torch.nn.Parameter(v, requires_grad=False))
            self._names[k] = attr

    def p(self, name):
        return getattr(self, self._names[name])


class EncoderWindow(torch.nn.Module):
    def __init__(self, W, cfg, n_layers, head_group):
        super().__init__()
        self.cfg, self.n_layers, self.head_group = cfg, n_layers, head_group
        self.W = Params(W)
        cos, sin = ref.rope_cos_sin(torch.arange(ref.N_FRAMES // 2), cfg.a_rot, cfg.a_theta)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)

    def forward(self, mel):
        cfg, p = self.cfg, self.W.p
        a = "audio_tower."
        x = F.gelu(F.conv1d(mel, p(a + "conv1.weight"), p(a + "conv1.bias"), stride=1, padding=1))
        x = F.gelu(F.conv1d(x, p(a + "conv2.weight"), p(a + "conv2.bias"), stride=2, padding=1))
        x = x.transpose(1, 2)                                      # [1, T, d]
        B, T, d = x.shape
        H, KV, hd = cfg.a_heads, cfg.a_kv, cfg.a_hd
        for i in range(self.n_layers):
            q_ = f"{a}layers.{i}."
            h = F.layer_norm(x, (d,), p(q_ + "input_layernorm.weight"), p(q_ + "input_layernorm.bias"), cfg.a_ln_eps)
            q = ref.linear(h, p(q_ + "self_attn.q_proj.weight"), p(q_ + "self_attn.q_proj.bias"))
            k = ref.linear(h, p(q_ + "self_attn.k_proj.weight"))
            v = ref.linear(h, p(q_ + "self_attn.v_proj.weight"), p(q_ + "self_attn.v_proj.bias"))
            q = ref.apply_rope_half(q.reshape(B, T, H, hd).transpose(1, 2), self.cos, self.sin)
            k = ref.apply_rope_half(k.reshape(B, T, KV, hd).transpose(1, 2), self.cos, self.sin)
            v = v.reshape(B, T, KV, hd).transpose(1, 2)
            assert KV == H, "the GLM-ASR encoder has no GQA"
            outs = []
            for g in range(0, H, self.head_group):        # softmax inputs of at most head_group x T^2 f32
                kg = k[:, g:g + self.head_group].transpose(-1, -2)
                s = torch.matmul(q[:, g:g + self.head_group], kg) * (hd ** -0.5)
                outs.append(torch.matmul(torch.softmax(s, dim=-1), v[:, g:g + self.head_group]))
            o = torch.cat(outs, dim=1) if len(outs) > 1 else outs[0]
            o = o.transpose(1, 2).reshape(B, T, H * hd)
            x = x + ref.linear(o, p(q_ + "self_attn.o_proj.weight"), p(q_ + "self_attn.o_proj.bias"))
            h = F.layer_norm(x, (d,), p(q_ + "post_attention_layernorm.weight"),
                             p(q_ + "post_attention_layernorm.bias"), cfg.a_ln_eps)
            h = F.gelu(ref.linear(h, p(q_ + "mlp.fc1.weight"), p(q_ + "mlp.fc1.bias")))
            x = x + ref.linear(h, p(q_ + "mlp.fc2.weight"), p(q_ + "mlp.fc2.bias"))
        x = F.layer_norm(x, (d,), p(a + "norm.weight"), p(a + "norm.bias"), cfg.a_ln_eps)
        x = x.reshape(B, T // ref.MERGE_FACTOR, d * ref.MERGE_FACTOR)
        x = F.gelu(ref.linear(x, p("multi_modal_projector.linear_1.weight"), p("multi_modal_projector.linear_1.bias")))
        return ref.linear(x, p("multi_modal_projector.linear_2.weight"), p("multi_modal_projector.linear_2.bias"))


class DecoderStep(torch.nn.Module):
    """One token per batch row at position `pos` (the same for every row, as in beam search)."""

    def __init__(self, W, cfg, n_layers):
        super().__init__()
        self.cfg, self.n_layers = cfg, n_layers
        self.W = Params(W)
        inv_freq = 1.0 / (cfg.t_theta ** (torch.arange(0, cfg.t_rot, 2, dtype=torch.int64).float() / cfg.t_rot))
        self.register_buffer("inv_freq", inv_freq)
        self.lm_head_name = "language_model.lm_head.weight" if "language_model.lm_head.weight" in W else \
            "language_model.model.embed_tokens.weight"

    def forward(self, ids, pos, *past):
        cfg, p = self.cfg, self.W.p
        H, KV, hd, r = cfg.t_heads, cfg.t_kv, cfg.t_hd, cfg.t_heads // cfg.t_kv
        x = F.embedding(ids, p("language_model.model.embed_tokens.weight"))         # [B, 1, d]
        B = x.shape[0]
        freqs = pos.float()[:, None] * self.inv_freq[None, :]                        # [1, rot/2]
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos(), emb.sin()                                               # [1, rot]
        presents = []
        for i in range(self.n_layers):
            q_ = f"language_model.model.layers.{i}."
            h = ref.rms_norm(x, p(q_ + "input_layernorm.weight"), cfg.t_eps)
            q = ref.linear(h, p(q_ + "self_attn.q_proj.weight")).reshape(B, 1, H, hd).transpose(1, 2)
            k = ref.linear(h, p(q_ + "self_attn.k_proj.weight")).reshape(B, 1, KV, hd).transpose(1, 2)
            v = ref.linear(h, p(q_ + "self_attn.v_proj.weight")).reshape(B, 1, KV, hd).transpose(1, 2)
            q, k = ref.apply_rope_half(q, cos, sin), ref.apply_rope_half(k, cos, sin)
            pk = torch.cat([past[2 * i], k], dim=2)
            pv = torch.cat([past[2 * i + 1], v], dim=2)
            presents += [pk, pv]
            L = pk.shape[2]
            kk = pk[:, :, None].expand(B, KV, r, L, hd).reshape(B, H, L, hd)
            vv = pv[:, :, None].expand(B, KV, r, L, hd).reshape(B, H, L, hd)
            a = torch.softmax(torch.matmul(q, kk.transpose(-1, -2)) * (hd ** -0.5), dim=-1)
            o = torch.matmul(a, vv).transpose(1, 2).reshape(B, 1, H * hd)
            x = x + ref.linear(o, p(q_ + "self_attn.o_proj.weight"))
            h = ref.rms_norm(x, p(q_ + "post_attention_layernorm.weight"), cfg.t_eps)
            g = F.silu(ref.linear(h, p(q_ + "mlp.gate_proj.weight"))) * ref.linear(h, p(q_ + "mlp.up_proj.weight"))
            x = x + ref.linear(g, p(q_ + "mlp.down_proj.weight"))
        x = ref.rms_norm(x, p("language_model.model.norm.weight"), cfg.t_eps)
        logits = torch.matmul(x[:, 0], p(self.lm_head_name).t())                      # [B, vocab]
        return (logits, *presents)


# ==============================================================================================================
# check data


def save_check(path_json, model_file, inputs, outputs, extra):
    """inputs / outputs: list of (name, numpy array). Writes <stem>.<name>.bin files and the JSON index."""
    stem = path_json[: -len(".check.json")]
    def entry(name, arr, kind):
        fn = f"{os.path.basename(stem)}.{kind}.{name}.bin"
        arr = np.ascontiguousarray(arr)
        arr.astype(arr.dtype.newbyteorder("<")).tofile(os.path.join(os.path.dirname(path_json), fn))
        return {"name": name, "dtype": {"float32": "float32", "int64": "int64"}[str(arr.dtype)],
                "shape": list(arr.shape), "file": fn}
    doc = {"model": os.path.basename(model_file), "inputs": [entry(n, a, "in") for n, a in inputs],
           "outputs": [entry(n, a, "ref") for n, a in outputs], **extra}
    with open(path_json, "w") as f:
        json.dump(doc, f, indent=1)


def seeded_mel(n_mels, seed=7):
    """A log-mel-like input in the range Whisper's normalisation gives ((log10 - 4) / 4 after clamping:
    about [-1, 1.5])."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, n_mels, ref.N_FRAMES, generator=g) * 2.0 - 0.8).float()


# ==============================================================================================================
# main


def export(module, args, path, input_names, output_names, dynamic_axes=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    t = time.time()
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=input_names, output_names=output_names,
                          opset_version=OPSET, dynamic_axes=dynamic_axes, do_constant_folding=True)
    size = sum(os.path.getsize(os.path.join(os.path.dirname(path), f)) for f in os.listdir(os.path.dirname(path))
               if not f.endswith(".bin") and not f.endswith(".json"))
    print(f"wrote {path} ({size / 2**20:.0f} MiB with external data, {time.time() - t:.0f} s)", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint folder (config.json + safetensors)")
    ap.add_argument("--out", required=True, help="output folder (one subfolder per model)")
    ap.add_argument("--part", choices=["encoder", "decoder", "both"], default="both")
    ap.add_argument("--encoder-layers", type=int, default=None, help="first N encoder layers (default: all)")
    ap.add_argument("--decoder-layers", type=int, default=None, help="first N decoder layers (default: all)")
    ap.add_argument("--head-group", type=int, default=10,
                    help="encoder heads per softmax (keep H_g x T^2 x 4 <= 128 MiB)")
    ap.add_argument("--no-check", action="store_true", help="skip the PyTorch reference outputs")
    args = ap.parse_args(argv)

    cfg = ref.Config(args.model)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.part in ("encoder", "both"):
        n = cfg.a_layers if args.encoder_layers is None else args.encoder_layers
        assert 1 <= n <= cfg.a_layers, f"--encoder-layers must be in 1..{cfg.a_layers}"
        name = f"encoder-L{n}"
        path = os.path.join(args.out, name, name + ".onnx")
        W = load_tensors(args.model, encoder_names(n))
        mel = seeded_mel(cfg.a_mels)
        m = EncoderWindow(W, cfg, n, args.head_group).eval()
        export(m, (mel,), path, ["mel"], ["audio_embeddings"])
        if not args.no_check:
            c = ref.Config(args.model)
            c.a_layers = n
            with torch.no_grad():
                enc = ref.encoder_forward(W, c, mel)
                want = ref.project_audio(W, c, enc, [enc.shape[1] // ref.MERGE_FACTOR])[None]
                got = m(mel)
            rel = float((got - want).norm() / want.norm())
            print(f"  export module vs reference: rel-L2 {rel:.2e}", flush=True)
            save_check(path[:-5] + ".check.json", path, [("mel", mel.numpy())], [("audio_embeddings", want.numpy())],
                       {"layers": n, "export_vs_reference_rel_l2": rel, "head_group": args.head_group})
        del W, m

    if args.part in ("decoder", "both"):
        n = cfg.t_layers if args.decoder_layers is None else args.decoder_layers
        assert 1 <= n <= cfg.t_layers, f"--decoder-layers must be in 1..{cfg.t_layers}"
        name = f"decoder-L{n}"
        path = os.path.join(args.out, name, name + ".onnx")
        W = load_tensors(args.model, decoder_names(n, cfg.tie))
        m = DecoderStep(W, cfg, n).eval()
        B, P = 2, 16
        g = torch.Generator().manual_seed(11)
        ids = torch.randint(0, cfg.t_vocab, (B, 1), generator=g)
        pos = torch.tensor([P], dtype=torch.int64)
        past = [torch.randn(B, cfg.t_kv, P, cfg.t_hd, generator=g) for _ in range(2 * n)]
        in_names = ["ids", "pos"] + [f"past_{kv}.{i}" for i in range(n) for kv in ("key", "value")]
        out_names = ["logits"] + [f"present_{kv}.{i}" for i in range(n) for kv in ("key", "value")]
        dyn = {"ids": {0: "B"}, "logits": {0: "B"}}
        for nm in in_names[2:]:
            dyn[nm] = {0: "B", 2: "P"}
        for nm in out_names[1:]:
            dyn[nm] = {0: "B", 2: "L"}
        export(m, (ids, pos, *past), path, in_names, out_names, dyn)
        if not args.no_check:
            c = ref.Config(args.model)
            c.t_layers = n
            dec = ref.Decoder(W, c)
            with torch.no_grad():
                logits, cache = dec.forward(dec.embed_ids(ids), P, [[past[2 * i], past[2 * i + 1]] for i in range(n)])
                got = m(ids, pos, *past)
            want = [logits[:, -1]] + [t for kv in cache for t in kv]
            rel = float((got[0] - want[0]).norm() / want[0].norm())
            print(f"  export module vs reference: logits rel-L2 {rel:.2e}", flush=True)
            save_check(path[:-5] + ".check.json", path,
                       [("ids", ids.numpy()), ("pos", pos.numpy())]
                       + [(nm, t.numpy()) for nm, t in zip(in_names[2:], past)],
                       [(nm, t.numpy()) for nm, t in zip(out_names, want)],
                       {"layers": n, "beams": B, "past": P, "export_vs_reference_rel_l2": rel})
        del W, m


if __name__ == "__main__":
    main()
