#!/usr/bin/python3
"""Writes the outside-oracle fixtures: seeded weights, inputs and the NumPy
reference's outputs (reference.py) for the cases the kernels must match.

Usage: make_fixtures.py OUT_DIR. One file per case, OUT_DIR/<case>.lbfix:

  LBFIX 1
  <key> <value>            (the case: workload kind, model shape, sizes)
  end
  then per tensor a line "<name> <f32|i32> <atol> <rtol> <rank> <dims...>"
  followed by its little-endian bytes. "set:<buffer>" is written into the
  workload's buffer of that plan name before the run; "expect:<buffer>" is
  compared with it after the run as |got - want| <= atol + rtol * |want|
  ("expect:loss" is the training loss).

The cases are made to fail when a forward op is wrong (each was checked by
planting the mistake, see docs/ARCHITECTURE.md): perturbed norm weights,
several KV heads per group (and group sizes > 1), widths that are not
multiples of 8 (the SIMD remainder loops), a tiny-input case where RMSNorm's
epsilon dominates, and KV-cache comparisons after prefill and after decode.
"""

import os
import struct
import sys

import numpy as np

import reference as ref

F32_TOL = (2e-4, 2e-3)  # fp32 compute against the fp64 reference
BF16_TOL = (3e-3, 1e-2)  # bf16 KV cache: one bf16 rounding may differ in the last bit
GRAD_TOL = (2e-5, 2e-3)  # fp32 backward against fp64 central differences


def shape_cfg(**kw):
    cfg = dict(rope_theta=10000.0, rms_eps=1e-5, tied_embeddings=False, qkv_bias=False)
    cfg.update(kw)
    return cfg


def make_weights(rng, cfg, round_fn, embed_scale=0.5):
    """Seeded weights in the plan's buffer names; rounded to the storage type."""
    v, h, i = cfg["vocab"], cfg["hidden"], cfg["intermediate"]
    q, kv = cfg["heads"] * cfg["head_dim"], cfg["kv_heads"] * cfg["head_dim"]

    def lin(o, n):
        return rng.uniform(-1.0, 1.0, size=(o, n)) / np.sqrt(n)

    def norm(n):
        return 1.0 + rng.uniform(-0.5, 0.5, size=n)  # perturbed: a weight-less norm must show

    w = {"tok_embeddings": rng.uniform(-embed_scale, embed_scale, size=(v, h))}
    for l in range(cfg["layers"]):
        p = f"layers.{l}."
        w[p + "attn_norm"] = norm(h)
        w[p + "wq"], w[p + "wk"], w[p + "wv"] = lin(q, h), lin(kv, h), lin(kv, h)
        if cfg["qkv_bias"]:
            w[p + "bq"], w[p + "bk"], w[p + "bv"] = (rng.uniform(-0.3, 0.3, size=n) for n in (q, kv, kv))
        w[p + "wo"] = lin(h, q)
        w[p + "mlp_norm"] = norm(h)
        w[p + "w_gate"], w[p + "w_up"], w[p + "w_down"] = lin(i, h), lin(i, h), lin(h, i)
    w["final_norm"] = norm(h)
    if not cfg["tied_embeddings"]:
        w["lm_head"] = lin(v, h)
    return {k: round_fn(a).astype(np.float64) for k, a in w.items()}


class Fixture:
    def __init__(self, name, cfg, **run):
        self.name, self.cfg, self.run, self.tensors = name, cfg, run, []

    def set(self, buffer, array, dtype="f32"):
        self.tensors.append((f"set:{buffer}", dtype, 0.0, 0.0, np.asarray(array)))

    def expect(self, buffer, array, tol, dtype="f32"):
        self.tensors.append((f"expect:{buffer}", dtype, tol[0], tol[1], np.asarray(array)))

    def write(self, out_dir):
        lines = ["LBFIX 1"]
        for k, v in list(self.cfg.items()) + list(self.run.items()):
            lines.append(f"{k} {int(v) if isinstance(v, bool) else v}")
        lines.append("end")
        with open(os.path.join(out_dir, self.name + ".lbfix"), "wb") as f:
            f.write(("\n".join(lines) + "\n").encode())
            for name, dtype, atol, rtol, a in self.tensors:
                a = np.ascontiguousarray(a, dtype=np.float32 if dtype == "f32" else np.int32)
                dims = " ".join(str(d) for d in a.shape) if a.ndim else "1"
                f.write(f"{name} {dtype} {atol!r} {rtol!r} {max(a.ndim, 1)} {dims}\n".encode())
                f.write(a.astype("<f4" if dtype == "f32" else "<i4").tobytes())


def set_weights(fx, weights):
    for k, a in weights.items():
        fx.set(k, a)


def prefill_case(name, seed, cfg, batch, prompt, embed_scale=0.5):
    rng = np.random.default_rng(seed)
    w = make_weights(rng, cfg, lambda a: a.astype(np.float32), embed_scale)
    model = ref.Model(cfg, w)
    ids = rng.integers(0, cfg["vocab"], size=(batch, prompt))
    logits, kc, vc = [], [], []
    for b in range(batch):
        cache = [dict(k=None, v=None, pos=[]) for _ in range(cfg["layers"])]
        logits.append(model.forward(ids[b], list(range(prompt)), cache)[-1])
        kc.append([c["k"] for c in cache])
        vc.append([c["v"] for c in cache])
    fx = Fixture(name, cfg, kind="prefill", precision="f32", batch=batch, prompt_tokens=prompt)
    set_weights(fx, w)
    fx.set("token_ids", ids.reshape(-1), "i32")
    fx.expect("logits", np.stack(logits), F32_TOL)
    for l in range(cfg["layers"]):
        fx.expect(f"layers.{l}.k_cache", np.stack([kc[b][l] for b in range(batch)]), F32_TOL)
        fx.expect(f"layers.{l}.v_cache", np.stack([vc[b][l] for b in range(batch)]), F32_TOL)
    return fx


def decode_case(name, seed, cfg, batch, prompt, generated):
    """bf16 weights and KV cache, a batch of <= 8 rows: the fused GEMV path."""
    for attempt in range(100):  # a seed whose greedy choices are clear (no near-ties)
        rng = np.random.default_rng(seed + attempt)
        w = make_weights(rng, cfg, ref.bf16_round)
        model = ref.Model(cfg, w)
        prompts = rng.integers(0, cfg["vocab"], size=(batch, prompt))
        first = rng.integers(0, cfg["vocab"], size=batch)
        caches, last, next_ids, margin = [], [], [], np.inf
        for b in range(batch):
            cache = [dict(k=None, v=None, pos=[]) for _ in range(cfg["layers"])]
            model.forward(prompts[b], list(range(prompt)), cache, ref.bf16_round)
            tok = int(first[b])
            for g in range(generated):
                lg = model.forward([tok], [prompt + g], cache, ref.bf16_round)[0]
                top = np.sort(lg)[-2:]
                margin = min(margin, top[1] - top[0])
                tok = int(np.argmax(lg))
            caches.append(cache)
            last.append(lg)
            next_ids.append(tok)
        if margin > 0.05:
            break
    else:
        raise SystemExit(f"{name}: no seed with clear greedy choices")
    fx = Fixture(name, cfg, kind="decode", precision="bf16", batch=batch, prompt_tokens=prompt,
                 generated_tokens=generated)
    set_weights(fx, w)
    t_max = prompt + generated
    for l in range(cfg["layers"]):
        for kv in ("k", "v"):
            full = np.stack([caches[b][l][kv] for b in range(batch)])  # [B, Tmax, Hkv, D]
            prompt_only = full.copy()
            prompt_only[:, prompt:] = 0.0
            fx.set(f"layers.{l}.{kv}_cache", prompt_only)
            fx.expect(f"layers.{l}.{kv}_cache", full, BF16_TOL)
            assert full.shape[1] == t_max
    fx.set("token_ids", first, "i32")
    fx.expect("logits", np.stack(last), BF16_TOL)
    fx.expect("token_ids", np.array(next_ids), (0.0, 0.0), "i32")
    return fx


def lora_case(name, seed, cfg, batch, seq, rank):
    rng = np.random.default_rng(seed)
    w = make_weights(rng, cfg, lambda a: a.astype(np.float32))
    q, kv = cfg["heads"] * cfg["head_dim"], cfg["kv_heads"] * cfg["head_dim"]
    h, i = cfg["hidden"], cfg["intermediate"]
    shapes = dict(q=(q, h), k=(kv, h), v=(kv, h), o=(h, q), gate=(i, h), up=(i, h), down=(h, i))
    lora = {}
    for l in range(cfg["layers"]):
        for proj, (o, n) in shapes.items():
            a = rng.uniform(-1, 1, size=(rank, n)).astype(np.float32) / np.float32(np.sqrt(n))
            b = rng.uniform(-0.3, 0.3, size=(o, rank)).astype(np.float32)  # non-zero: A's gradient shows
            lora[(l, proj)] = (a.astype(np.float64), b.astype(np.float64))
    model = ref.Model(cfg, w, lora)
    stream = rng.integers(0, cfg["vocab"], size=batch * seq + 1)
    ids, targets = stream[:-1], stream[1:]

    def loss():
        logits = np.concatenate([model.forward(ids[b * seq:(b + 1) * seq], list(range(seq)))
                                 for b in range(batch)])
        return ref.cross_entropy(logits, targets)

    fx = Fixture(name, cfg, kind="train-lora", precision="f32", batch=batch, sequence_tokens=seq,
                 lora_rank=rank)
    set_weights(fx, w)
    fx.set("token_ids", ids, "i32")
    fx.set("targets", targets, "i32")
    fx.expect("loss", np.array([loss()]), (1e-5, 1e-5))
    eps = 1e-6
    for (l, proj), (a, b) in lora.items():
        base = f"layers.{l}.lora_{proj}"
        fx.set(base + "_a", a)
        fx.set(base + "_b", b)
        for mat, suffix in ((a, "_a"), (b, "_b")):
            grad = np.zeros_like(mat)
            for idx in np.ndindex(mat.shape):
                keep = mat[idx]
                mat[idx] = keep + eps
                up = loss()
                mat[idx] = keep - eps
                down = loss()
                mat[idx] = keep
                grad[idx] = (up - down) / (2 * eps)
            fx.expect("grad." + base + suffix, grad, GRAD_TOL)
    return fx


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    qwen_gqa = shape_cfg(vocab=67, hidden=45, intermediate=77, layers=2, heads=4, kv_heads=2, head_dim=10,
                         qkv_bias=True, rms_eps=1e-6, rope_theta=1000000.0)
    llama_tiny_input = shape_cfg(vocab=53, hidden=27, intermediate=41, layers=2, heads=6, kv_heads=3,
                                 head_dim=6, tied_embeddings=True)
    decode_cfg = shape_cfg(vocab=61, hidden=37, intermediate=53, layers=2, heads=6, kv_heads=3, head_dim=6)
    lora_cfg = shape_cfg(vocab=37, hidden=21, intermediate=29, layers=2, heads=4, kv_heads=2, head_dim=6,
                         tied_embeddings=True)
    cases = [
        prefill_case("prefill_qwen_gqa_f32", 11, qwen_gqa, batch=2, prompt=7),
        # Embeddings of ~1e-3: mean(x^2) is far below eps, so where eps sits matters.
        prefill_case("prefill_tiny_input_f32", 12, llama_tiny_input, batch=1, prompt=5, embed_scale=2e-3),
        decode_case("decode_llama_gqa_bf16", 13, decode_cfg, batch=3, prompt=4, generated=3),
        lora_case("train_lora_f32", 14, lora_cfg, batch=2, seq=5, rank=3),
    ]
    for fx in cases:
        fx.write(out)
    print(f"make_fixtures: wrote {len(cases)} fixtures to {out}")


if __name__ == "__main__":
    main()
