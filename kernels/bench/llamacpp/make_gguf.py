#!/usr/bin/python3
"""Writes a random-weight GGUF v3 file of a Llama shape, for llama.cpp as a
same-run baseline (kernels/bench/llamacpp/bench.mjs). Nothing is downloaded:
the weights are seeded noise, the vocabulary synthetic (SPM style: <unk>,
<s>, </s>, 256 byte tokens, then "t<i>"), since speed depends only on shape.

Usage: make_gguf.py OUT.gguf [--preset llama-3.2-1b|tiny] [--type bf16|f16|f32|q4_0|q8_0]

GGUF v3: magic, version, tensor count, metadata count, metadata key/values,
tensor infos (name, dims innermost first, type, offset), then the data,
each tensor aligned to 32 bytes.
"""

import argparse
import struct
import sys

import numpy as np

PRESETS = {
    # name: vocab, hidden, intermediate, layers, heads, kv_heads, rope theta
    "llama-3.2-1b": (128256, 2048, 8192, 16, 32, 8, 500000.0),
    "tiny": (512, 64, 176, 2, 4, 2, 10000.0),
}
GGUF_TYPES = {"u32": 4, "i32": 5, "f32": 6, "bool": 7, "str": 8, "arr": 9}
TENSOR_TYPES = {"f32": 0, "f16": 1, "bf16": 30, "q4_0": 2, "q8_0": 8}
# Block formats (issue 15): bytes per block of 32 weights, f16 scale included.
BLOCK_BYTES = {"q4_0": 18, "q8_0": 34}
ALIGN = 32


def gguf_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, kind, value):
    out = gguf_str(key) + struct.pack("<I", GGUF_TYPES[kind])
    if kind == "u32":
        return out + struct.pack("<I", value)
    if kind == "f32":
        return out + struct.pack("<f", value)
    if kind == "str":
        return out + gguf_str(value)
    raise ValueError(kind)


def kv_array(key, elem, values):
    out = gguf_str(key) + struct.pack("<I", GGUF_TYPES["arr"]) + struct.pack("<IQ", GGUF_TYPES[elem], len(values))
    if elem == "str":
        return out + b"".join(gguf_str(v) for v in values)
    fmt = {"f32": "<f", "i32": "<i"}[elem]
    return out + b"".join(struct.pack(fmt, v) for v in values)


def quantize(a, t):
    """Q4_0/Q8_0 blocks of 32 as kernels/src/quant/quant.cc writes them:
    an f16 scale d, then int8 levels (Q8_0) or nibble pairs (Q4_0: byte j
    holds weight j low and j + 16 high, stored as q + 8); w = d * q."""
    b = a.astype(np.float32).reshape(-1, 32)
    if t == "q8_0":
        need = np.abs(b).max(1) / 127.0
    else:  # negatives reach -8d, positives at most 7.5d: no weight clips
        need = np.maximum(np.maximum(-b.min(1), 0) / 8.0, np.maximum(b.max(1), 0) / 7.5)
    d = need.astype(np.float16)
    low = d.astype(np.float32) < need  # round the scale up, never down
    d[low] = np.nextafter(d[low], np.float16(np.inf))
    df = d.astype(np.float32)
    inv = np.divide(1.0, df, out=np.zeros_like(df), where=df > 0)
    out = np.empty((b.shape[0], BLOCK_BYTES[t]), dtype=np.uint8)
    out[:, :2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    if t == "q8_0":
        out[:, 2:] = np.clip(np.rint(b * inv[:, None]), -127, 127).astype(np.int8).view(np.uint8)
    else:
        q = (np.clip(np.rint(b * inv[:, None]), -8, 7) + 8).astype(np.uint8)
        out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.tobytes()


def tensor_bytes(n, t):
    if t in BLOCK_BYTES:
        return n // 32 * BLOCK_BYTES[t]
    return n * (4 if t == "f32" else 2)


def to_type(a, t):
    if t in BLOCK_BYTES:
        return quantize(a, t)
    if t == "f32":
        return a.astype("<f4").tobytes()
    if t == "f16":
        return a.astype("<f2").tobytes()
    u = a.astype(np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2").tobytes()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--preset", default="llama-3.2-1b", choices=sorted(PRESETS))
    ap.add_argument("--type", default="bf16", choices=["bf16", "f16", "f32", "q4_0", "q8_0"])
    args = ap.parse_args()
    vocab, h, inter, layers, heads, kv_heads, theta = PRESETS[args.preset]
    d = h // heads
    rng = np.random.default_rng(1)

    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    tokens += [f"t{i}" for i in range(vocab - len(tokens))]
    types = [2, 3, 3] + [6] * 256 + [1] * (vocab - 259)
    meta = [
        kv("general.architecture", "str", "llama"),
        kv("general.name", "str", f"localbench-random-{args.preset}"),
        kv("general.alignment", "u32", ALIGN),
        kv("llama.context_length", "u32", 4096),
        kv("llama.embedding_length", "u32", h),
        kv("llama.block_count", "u32", layers),
        kv("llama.feed_forward_length", "u32", inter),
        kv("llama.attention.head_count", "u32", heads),
        kv("llama.attention.head_count_kv", "u32", kv_heads),
        kv("llama.rope.freq_base", "f32", theta),
        kv("llama.rope.dimension_count", "u32", d),
        kv("llama.attention.layer_norm_rms_epsilon", "f32", 1e-5),
        kv("llama.vocab_size", "u32", vocab),
        kv("tokenizer.ggml.model", "str", "llama"),
        kv_array("tokenizer.ggml.tokens", "str", tokens),
        kv_array("tokenizer.ggml.scores", "f32", [0.0] * vocab),
        kv_array("tokenizer.ggml.token_type", "i32", types),
        kv("tokenizer.ggml.bos_token_id", "u32", 1),
        kv("tokenizer.ggml.eos_token_id", "u32", 2),
        kv("tokenizer.ggml.unknown_token_id", "u32", 0),
    ]

    # (name, dims innermost first, storage type); norms stay f32 as llama.cpp writes them.
    wt = args.type
    # Quantized types quantize the projections only: the embedding table (and
    # so the tied LM head) stays bf16, as in our quantized workloads.
    tensors = [("token_embd.weight", (h, vocab), "bf16" if wt in BLOCK_BYTES else wt)]
    for i in range(layers):
        p = f"blk.{i}."
        tensors += [
            (p + "attn_norm.weight", (h,), "f32"),
            (p + "attn_q.weight", (h, heads * d), wt),
            (p + "attn_k.weight", (h, kv_heads * d), wt),
            (p + "attn_v.weight", (h, kv_heads * d), wt),
            (p + "attn_output.weight", (heads * d, h), wt),
            (p + "ffn_norm.weight", (h,), "f32"),
            (p + "ffn_gate.weight", (h, inter), wt),
            (p + "ffn_up.weight", (h, inter), wt),
            (p + "ffn_down.weight", (inter, h), wt),
        ]
    tensors.append(("output_norm.weight", (h,), "f32"))  # tied LM head: token_embd

    infos, offset = [], 0
    for name, dims, t in tensors:
        if t in BLOCK_BYTES and dims[0] % 32:
            sys.exit(f"make_gguf: {name}: rows of {dims[0]} are not whole blocks of 32 for {t}")
        infos.append(gguf_str(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", x) for x in dims)
                     + struct.pack("<IQ", TENSOR_TYPES[t], offset))
        size = tensor_bytes(int(np.prod(dims)), t)
        offset += (size + ALIGN - 1) // ALIGN * ALIGN
    with open(args.out, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)))
        for m in meta:
            f.write(m)
        for info in infos:
            f.write(info)
        f.write(b"\0" * ((-f.tell()) % ALIGN))
        for name, dims, t in tensors:
            n = int(np.prod(dims))
            if name.endswith("norm.weight"):
                a = np.ones(n, dtype=np.float32)
            else:
                a = rng.uniform(-1, 1, size=n).astype(np.float32) / np.float32(np.sqrt(dims[0]))
            data = to_type(a, t)
            f.write(data + b"\0" * ((-len(data)) % ALIGN))
    print(f"make_gguf: {args.out}: {args.preset} {args.type}, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
