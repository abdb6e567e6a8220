"""A small, independent NumPy reference of the Llama / Qwen2 decoder.

Written from the published architecture (Llama: Touvron et al. 2023 and the
Hugging Face LlamaForCausalLM; Qwen2: the same with biases on the q/k/v
projections), not from localbench's C++: RMSNorm x / sqrt(mean(x^2) + eps)
times a weight, rotary embeddings in the rotate-half form
(x * cos + rotate_half(x) * sin, inverse frequencies theta^(-2i/D)),
grouped-query attention in which query head h reads key/value head
h // (Hq / Hkv) (repeat_kv), a causal softmax(q k^T / sqrt(D)) v, the SwiGLU
MLP down(silu(gate(x)) * up(x)) and a final norm and LM head. LoRA adds
(x A^T) B^T to a projection. Everything is float64.
"""

import numpy as np


def bf16_round(a):
    """Rounds float values to the nearest bfloat16 (ties to even), as float32."""
    u = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return u.astype(np.uint32).view(np.float32)


def rms_norm(x, weight, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope(x, positions, theta):
    """x [T, heads, D] at absolute positions [T]: rotate-half RoPE."""
    d = x.shape[-1]
    inv_freq = theta ** (-np.arange(0, d, 2, dtype=np.float64) / d)  # [D/2]
    angles = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]
    cos = np.concatenate([np.cos(angles)] * 2, axis=-1)[:, None, :]
    sin = np.concatenate([np.sin(angles)] * 2, axis=-1)[:, None, :]
    half = d // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def silu(x):
    return x / (1.0 + np.exp(-x))


def linear(x, w, b=None, lora=None):
    """x W^T (+ b) (+ (x A^T) B^T for lora = (A, B))."""
    y = x @ w.T
    if b is not None:
        y = y + b
    if lora is not None:
        a, bb = lora
        y = y + (x @ a.T) @ bb.T
    return y


class Model:
    """Weights are a dict of float64 arrays named as below; cfg a dict."""

    def __init__(self, cfg, weights, lora=None):
        self.cfg = cfg
        self.w = weights
        self.lora = lora or {}

    def _lora(self, layer, proj):
        key = (layer, proj)
        return self.lora.get(key)

    def attention(self, q, k, v, q_pos, k_pos):
        """q [Tq, Hq, D], k/v [Tk, Hkv, D]; query i sees keys with k_pos <= q_pos[i]."""
        hq, hkv, d = q.shape[1], k.shape[1], q.shape[2]
        group = hq // hkv
        out = np.zeros_like(q)
        for h in range(hq):
            g = h // group  # repeat_kv: consecutive query heads share one kv head
            scores = q[:, h, :] @ k[:, g, :].T / np.sqrt(d)
            mask = np.asarray(k_pos)[None, :] > np.asarray(q_pos)[:, None]
            scores = np.where(mask, -np.inf, scores)
            scores = scores - scores.max(axis=-1, keepdims=True)
            p = np.exp(scores)
            p = p / p.sum(axis=-1, keepdims=True)
            out[:, h, :] = p @ v[:, g, :]
        return out

    def forward(self, ids, positions, cache=None, round_cache=None):
        """Logits [T, V] of one sequence's tokens `ids` at `positions`.

        cache: per layer a dict {"k": [Tc, Hkv, D], "v": ..., "pos": [Tc]}
        holding earlier positions; the new keys/values are appended (rounded by
        round_cache, the storage precision, before attention reads them).
        """
        c, w = self.cfg, self.w
        hq, hkv, d = c["heads"], c["kv_heads"], c["head_dim"]
        x = w["tok_embeddings"][np.asarray(ids)]
        t = len(ids)
        for l in range(c["layers"]):
            p = f"layers.{l}."
            xn = rms_norm(x, w[p + "attn_norm"], c["rms_eps"])
            q = linear(xn, w[p + "wq"], w.get(p + "bq"), self._lora(l, "q")).reshape(t, hq, d)
            k = linear(xn, w[p + "wk"], w.get(p + "bk"), self._lora(l, "k")).reshape(t, hkv, d)
            v = linear(xn, w[p + "wv"], w.get(p + "bv"), self._lora(l, "v")).reshape(t, hkv, d)
            q = rope(q, positions, c["rope_theta"])
            k = rope(k, positions, c["rope_theta"])
            if cache is not None:
                entry = cache[l]
                kr, vr = (round_cache(k), round_cache(v)) if round_cache else (k, v)
                entry["k"] = np.concatenate([entry["k"], kr]) if entry["k"] is not None else kr
                entry["v"] = np.concatenate([entry["v"], vr]) if entry["v"] is not None else vr
                entry["pos"] = list(entry["pos"]) + list(positions)
                att = self.attention(q, entry["k"], entry["v"], positions, entry["pos"])
            else:
                att = self.attention(q, k, v, positions, positions)
            x = x + linear(att.reshape(t, hq * d), w[p + "wo"], None, self._lora(l, "o"))
            xn = rms_norm(x, w[p + "mlp_norm"], c["rms_eps"])
            gate = linear(xn, w[p + "w_gate"], None, self._lora(l, "gate"))
            up = linear(xn, w[p + "w_up"], None, self._lora(l, "up"))
            x = x + linear(silu(gate) * up, w[p + "w_down"], None, self._lora(l, "down"))
        x = rms_norm(x, w["final_norm"], c["rms_eps"])
        head = w["tok_embeddings"] if c["tied_embeddings"] else w["lm_head"]
        return x @ head.T


def cross_entropy(logits, targets):
    """Mean over rows of logsumexp(logits) - logits[target]."""
    m = logits.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(axis=-1, keepdims=True)))[:, 0]
    return float(np.mean(lse - logits[np.arange(len(targets)), targets]))
