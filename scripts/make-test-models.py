#!/usr/bin/env python3
"""Small synthetic GGUF models for the llama3, qwen2, qwen3 and phi3 families.

No real weights can be downloaded where kvserve is tested, so its forward pass
for these families is checked on small files with seeded random weights and
each family's REAL tokenizer, against llama.cpp and a numpy reference. This
script makes those files. The metadata keys, tensor names, shapes and layouts
are the ones llama.cpp's converter writes and its loader expects; the facts,
with references into llama.cpp's source, are in
scripts/fixtures/MODEL-FAMILIES.md.

Usage:
    scripts/make-test-models.py --out DIR [--families llama3,qwen2,qwen3,phi3]
        [--variants NAME,...]
        [--types f32,f16,q8_0,bf16,q2_k,q3_k,q4_k] [--vocab-dir DIR]
        [--check-llama-server PATH]

Files (DIR/<variant>-<type>.gguf, type f32, f16, q8_0, bf16, q2_k, q3_k or q4_k):

    llama3            general.architecture "llama", 4 layers, 4 heads of 64,
                      1 KV head, rope_freqs.weight from Llama 3.1's rope_scaling
                      (factor 8, low 1, high 4, original context 8192, theta
                      500000); separate output.weight; no key_length (as a
                      Llama 3.1 config without head_dim converts).
    llama3-tied       the same layers with Llama 3.2's rope_scaling (factor 32)
                      and attention.key_length/value_length 64 (Llama 3.2's
                      config has head_dim); no output.weight.
    qwen2, qwen2-tied 3 layers, 4 heads of 64, 2 KV heads, Q/K/V biases.
    qwen3, qwen3-tied 3 layers, 8 heads of 128 (attention.key_length 128, so
                      the query width 1024 != embedding width 256), 2 KV
                      heads, per-head Q/K RMSNorm, no biases.
    phi3, phi3-tied   2 layers, 4 heads of 64, 2 KV heads, fused attn_qkv and
                      ffn_up (gate then up), full rotary, sliding_window 2047
                      (as Phi-3-mini-4k; llama.cpp ignores it for phi3).
    phi3-partial      phi3 with rope.dimension_count 48 of head dim 64 (partial
                      rotary, as Phi-4-mini's 96 of 128), sliding_window 0.
    phi3-longrope     phi3-partial plus LongRoPE: rope_factors_long/short.weight
                      (24 values each), context_length 131072,
                      rope.scaling.original_context_length 4096 and
                      rope.scaling.attn_factor sqrt(1 + ln 32 / ln 4096).

"-tied" always means the file has no output.weight: the output projection is
token_embd.weight (tie_word_embeddings). Every other tensor of a "-tied" file
equals the untied file's, except where the variant description says otherwise.

All variants: embedding width 256, feed-forward width 768, RMS norm, SwiGLU,
one embedding row per vocabulary token (llama3 128256, qwen2/qwen3 151936,
phi3 32064). The tokenizer.* keys are copied unchanged from llama.cpp's
vocab-only files (models/ggml-vocab-llama-bpe.gguf, ggml-vocab-qwen2.gguf for
both Qwen families, ggml-vocab-phi-3.gguf). Types: f32 has every tensor F32;
f16 has the 2-D weights F16 and the 1-D ones (norms, biases, rope factors)
F32, as convert_hf_to_gguf.py --outtype f16 writes them; q8_0 and bf16 the
same with Q8_0 or BF16 (gguf.quants.quantize) instead of F16; q2_k, q3_k and
q4_k the same with every 2-D weight Q2_K, Q3_K or Q4_K, quantized by this
script (gguf-py cannot; see quantize_k: a plain min/max fit, coarser than
llama-quantize's search, and checked against gguf's dequantization). All types
of a variant hold the same float32 weights before rounding. llama.cpp's
llama-quantize can also make K-quant files from the f32/f16 ones (every row
length is a multiple of 256).

Weights: a seeded numpy default_rng per variant (seed from the variant's base
name, so a file is the same whichever --families/--types are asked for), so
running the script twice gives byte-identical files; each file's sha256 is
printed. They are scaled so that greedy decoding is confident: the output
projection's rows have a norm near 32 against a unit-RMS final hidden state
(logits of standard deviation 32, so that the top logit leads the next one by
a few units on most steps: the gap between the two largest of n Gaussian
draws is about sigma / sqrt(2 ln n)). The attention output and feed-forward
down projections are large (gain 24) against the embedding (RMS 2), so the
residual stream is not dominated by the input token and a tied model does not
just predict its input again. Norm weights are 1 + 0.05 N(0, 1); qwen2's Q/K/V
biases 0.3 N(0, 1).

--check-llama-server PATH: after writing, load every file in llama.cpp's
llama-server (one at a time, one thread, one slot) and print, for three
prompts, the 16 greedy ids and the smallest top-1 minus top-2 log-probability
over them; phi3-longrope is also run with a context above its original one
(8192 > 4096), where llama.cpp switches to the long factors.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

SCRIPTS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS_DIR / "fixtures"))
sys.dont_write_bytecode = True  # keep scripts/fixtures free of __pycache__
from fixturelib import sha256_file  # noqa: E402

# llama.cpp's vocab-only files, as scripts/fetch-tokenizer-vectors unpacks
# them from PyPI's llama-cpp-python sdist (sha256-checked, with the licence).
DEFAULT_VOCAB_DIR = SCRIPTS_DIR.parent / "vendor-data" / "tokenizer-vectors"

N_EMBD = 256
N_FF = 768
BASE_SEED = 28

# Scales (see the docstring).
OUTPUT_ROW_NORM = 32.0   # output.weight row norm (logit std for a unit-RMS hidden state)
EMBD_STD = OUTPUT_ROW_NORM / math.sqrt(N_EMBD)  # token_embd entries (2): tied logits alike
QK_GAIN = 1.5            # Q and K projections: output RMS for a unit-RMS input
RESIDUAL_GAIN = 24.0     # attention output and FFN down projections
BIAS_STD = 0.3           # qwen2 Q/K/V biases
NORM_JITTER = 0.05       # norm weights 1 + NORM_JITTER * N(0, 1)


@dataclass(frozen=True)
class Variant:
    name: str            # file name stem, e.g. "qwen2-tied"
    family: str          # --families name
    arch: str            # general.architecture
    vocab: str           # vocab-only file under --vocab-dir
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    rms_eps: float
    rope_theta: float
    context_length: int
    tied: bool = False
    # family specific
    write_head_dim: bool = False          # attention.key_length / value_length
    qkv_bias: bool = False                # qwen2
    qk_norm: bool = False                 # qwen3
    fused: bool = False                   # phi3: attn_qkv and ffn_up = [gate; up]
    n_rot: int | None = None              # rope.dimension_count when written
    llama3_rope: dict | None = None       # Llama 3.1 rope_scaling -> rope_freqs.weight
    longrope: bool = False                # phi3 rope_factors_long/short
    orig_context_length: int | None = None
    sliding_window: int | None = None     # phi3
    seed: str | None = None               # seed name; default: name without "-tied"

    @property
    def seed_name(self) -> str:
        return self.seed or self.name.removesuffix("-tied")


LLAMA31_ROPE = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192}
LLAMA32_ROPE = {**LLAMA31_ROPE, "factor": 32.0}


def _variants() -> list[Variant]:
    llama = dict(family="llama3", arch="llama", vocab="ggml-vocab-llama-bpe.gguf", n_layer=4,
                 n_head=4, n_head_kv=1, head_dim=64, rms_eps=1e-5, rope_theta=500000.0,
                 context_length=4096, n_rot=64)
    qwen2 = dict(family="qwen2", arch="qwen2", vocab="ggml-vocab-qwen2.gguf", n_layer=3,
                 n_head=4, n_head_kv=2, head_dim=64, rms_eps=1e-6, rope_theta=1000000.0,
                 context_length=4096, qkv_bias=True)
    qwen3 = dict(family="qwen3", arch="qwen3", vocab="ggml-vocab-qwen2.gguf", n_layer=3,
                 n_head=8, n_head_kv=2, head_dim=128, rms_eps=1e-6, rope_theta=1000000.0,
                 context_length=4096, write_head_dim=True, qk_norm=True)
    phi3 = dict(family="phi3", arch="phi3", vocab="ggml-vocab-phi-3.gguf", n_layer=2,
                n_head=4, n_head_kv=2, head_dim=64, rms_eps=1e-5, rope_theta=10000.0,
                context_length=4096, fused=True, n_rot=64, orig_context_length=4096,
                sliding_window=2047)
    partial = {**phi3, "n_rot": 48, "sliding_window": 0}
    return [
        Variant("llama3", llama3_rope=LLAMA31_ROPE, **llama),
        # Seeded as "llama3": the same weights, Llama 3.2's factors and head_dim keys.
        Variant("llama3-tied", tied=True, llama3_rope=LLAMA32_ROPE, write_head_dim=True, **llama),
        Variant("qwen2", **qwen2),
        Variant("qwen2-tied", tied=True, **qwen2),
        Variant("qwen3", **qwen3),
        Variant("qwen3-tied", tied=True, **qwen3),
        Variant("phi3", **phi3),
        Variant("phi3-tied", tied=True, **phi3),
        Variant("phi3-partial", **partial),
        # Seeded as phi3-partial: the same weights, plus the LongRoPE factors.
        Variant("phi3-longrope", longrope=True, seed="phi3-partial",
                **{**partial, "context_length": 131072}),
    ]


VARIANTS = _variants()
FAMILIES = ["llama3", "qwen2", "qwen3", "phi3"]
KEY_ORDER = ["block_count", "context_length", "embedding_length", "feed_forward_length",
             "head_count", "head_count_kv", "rope_freq_base", "layer_norm_rms_eps", "key_length",
             "value_length", "file_type", "vocab_size", "rope_dimension_count"]
PHI3_KEY_ORDER = ["context_length", "rope_scaling_orig_ctx_len", "embedding_length",
                  "feed_forward_length", "block_count", "head_count", "head_count_kv",
                  "layer_norm_rms_eps", "rope_dimension_count", "rope_freq_base", "file_type",
                  "sliding_window", "rope_scaling_attn_factors"]
TYPES = {
    "f32": (None, gguf.LlamaFileType.ALL_F32),
    "f16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16),
    "q8_0": (gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
    "bf16": (gguf.GGMLQuantizationType.BF16, gguf.LlamaFileType.MOSTLY_BF16),
    "q2_k": (gguf.GGMLQuantizationType.Q2_K, gguf.LlamaFileType.MOSTLY_Q2_K),
    "q3_k": (gguf.GGMLQuantizationType.Q3_K, gguf.LlamaFileType.MOSTLY_Q3_K_S),
    "q4_k": (gguf.GGMLQuantizationType.Q4_K, gguf.LlamaFileType.MOSTLY_Q4_K_S),
}


# ---------------------------------------------------------------- RoPE factors


def llama3_rope_freqs(head_dim: int, theta: float, p: dict) -> np.ndarray:
    """Llama 3.1 rope_scaling as a per-frequency divisor of the rotation angle.

    For the frequency f_i = theta^(-2i/head_dim) (i < head_dim/2), its
    wavelength w = 2 pi / f_i is compared with original_context / high_freq_factor
    and original_context / low_freq_factor: shorter wavelengths keep f_i
    (factor 1), longer ones are divided by `factor`, and in between the
    frequency is interpolated, s = (original_context / w - low) / (high - low),
    f_i' = (1 - s) f_i / factor + s f_i, i.e. a divisor 1 / ((1 - s) / factor + s).
    """
    factor, low, high = p["factor"], p["low_freq_factor"], p["high_freq_factor"]
    old_ctx = p["original_max_position_embeddings"]
    freqs = theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    out = []
    for f in freqs:
        wavelen = 2.0 * math.pi / f
        if wavelen < old_ctx / high:
            out.append(1.0)
        elif wavelen > old_ctx / low:
            out.append(factor)
        else:
            s = (old_ctx / wavelen - low) / (high - low)
            out.append(1.0 / ((1.0 - s) / factor + s))
    return np.asarray(out, dtype=np.float32)


def longrope_factors(n_rot: int) -> tuple[np.ndarray, np.ndarray]:
    """Made-up LongRoPE factors shaped like Phi-3's: short near 1, long 1 -> 40."""
    t = np.linspace(0.0, 1.0, n_rot // 2)
    short = 1.0 + 0.25 * t * t
    long = np.exp(t * math.log(40.0))
    return long.astype(np.float32), short.astype(np.float32)


def longrope_attn_factor(context_length: int, orig: int) -> float:
    # Phi-3's LongRoPE attention factor, as the converter writes it.
    scale = context_length / orig
    return math.sqrt(1.0 + math.log(scale) / math.log(orig)) if scale > 1.0 else 1.0


# ---------------------------------------------------------------- weights


def make_weights(v: Variant, n_vocab: int) -> dict[str, np.ndarray]:
    """Every tensor of the variant, float32, numpy shape (rows, columns).

    A matrix is stored with one row per output feature (GGUF ne = [columns,
    rows]); inserted in the order the file lists them.
    """
    seed = [BASE_SEED, zlib.crc32(v.seed_name.encode("utf-8"))]
    rng = np.random.default_rng(seed)

    def normal(rows: int, cols: int, rms_out: float) -> np.ndarray:
        # rms_out: RMS of (this matrix @ x) for x of unit RMS.
        return (rng.standard_normal((rows, cols)) * (rms_out / math.sqrt(cols))).astype(np.float32)

    def norm_weight(n: int) -> np.ndarray:
        return (1.0 + NORM_JITTER * rng.standard_normal(n)).astype(np.float32)

    q_width = v.n_head * v.head_dim
    kv_width = v.n_head_kv * v.head_dim
    t: dict[str, np.ndarray] = {}

    if v.llama3_rope is not None:
        t["rope_freqs.weight"] = llama3_rope_freqs(v.head_dim, v.rope_theta, v.llama3_rope)
    if v.longrope:
        t["rope_factors_long.weight"], t["rope_factors_short.weight"] = longrope_factors(v.n_rot)

    t["token_embd.weight"] = (rng.standard_normal((n_vocab, N_EMBD)) * EMBD_STD).astype(np.float32)

    for i in range(v.n_layer):
        p = f"blk.{i}."
        t[p + "attn_norm.weight"] = norm_weight(N_EMBD)
        wq = normal(q_width, N_EMBD, QK_GAIN)
        wk = normal(kv_width, N_EMBD, QK_GAIN)
        wv = normal(kv_width, N_EMBD, 1.0)
        if v.fused:
            t[p + "attn_qkv.weight"] = np.concatenate([wq, wk, wv], axis=0)
        else:
            t[p + "attn_q.weight"], t[p + "attn_k.weight"], t[p + "attn_v.weight"] = wq, wk, wv
        if v.qkv_bias:
            t[p + "attn_q.bias"] = (BIAS_STD * rng.standard_normal(q_width)).astype(np.float32)
            t[p + "attn_k.bias"] = (BIAS_STD * rng.standard_normal(kv_width)).astype(np.float32)
            t[p + "attn_v.bias"] = (BIAS_STD * rng.standard_normal(kv_width)).astype(np.float32)
        if v.qk_norm:
            t[p + "attn_q_norm.weight"] = norm_weight(v.head_dim)
            t[p + "attn_k_norm.weight"] = norm_weight(v.head_dim)
        t[p + "attn_output.weight"] = normal(N_EMBD, q_width, RESIDUAL_GAIN)
        t[p + "ffn_norm.weight"] = norm_weight(N_EMBD)
        gate = normal(N_FF, N_EMBD, 1.0)
        up = normal(N_FF, N_EMBD, 1.0)
        if v.fused:
            t[p + "ffn_up.weight"] = np.concatenate([gate, up], axis=0)
        else:
            t[p + "ffn_gate.weight"], t[p + "ffn_up.weight"] = gate, up
        t[p + "ffn_down.weight"] = normal(N_EMBD, N_FF, RESIDUAL_GAIN)

    t["output_norm.weight"] = norm_weight(N_EMBD)
    # Drawn last, so that the untied file's other tensors equal the tied one's.
    output = normal(n_vocab, N_EMBD, OUTPUT_ROW_NORM)
    if not v.tied:
        t["output.weight"] = output
    return t


# ---------------------------------------------------------------- the tokenizer


def tokenizer_fields(path: Path) -> list[tuple[str, object, gguf.GGUFValueType, gguf.GGUFValueType | None]]:
    """Every tokenizer.* key of a vocab-only GGUF, as (key, value, type, array type).

    Strings are kept as their raw bytes, so they are copied exactly.
    """
    reader = gguf.GGUFReader(path)
    out = []
    for key, f in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        vtype = f.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            sub = f.types[-1]
            if sub == gguf.GGUFValueType.STRING:
                val = [bytes(f.parts[i]) for i in f.data]
            else:
                val = [f.parts[i][0].item() for i in f.data]
            out.append((key, val, vtype, sub))
        elif vtype == gguf.GGUFValueType.STRING:
            out.append((key, bytes(f.parts[f.data[0]]), vtype, None))
        else:
            out.append((key, f.parts[f.data[0]][0].item(), vtype, None))
    return out


def n_tokens(fields) -> int:
    for key, val, _, _ in fields:
        if key == "tokenizer.ggml.tokens":
            return len(val)
    raise SystemExit("vocab file has no tokenizer.ggml.tokens")


# ---------------------------------------------------------------- writing


def write_variant(v: Variant, type_name: str, weights: dict[str, np.ndarray], tok_fields,
                  path: Path) -> None:
    qtype, file_type = TYPES[type_name]
    w = gguf.GGUFWriter(path, v.arch)
    w.add_name(f"kvserve synthetic {v.name}")
    values = {
        "block_count": v.n_layer, "context_length": v.context_length,
        "embedding_length": N_EMBD, "feed_forward_length": N_FF,
        "head_count": v.n_head, "head_count_kv": v.n_head_kv,
        "rope_freq_base": v.rope_theta, "layer_norm_rms_eps": v.rms_eps,
        "key_length": v.head_dim if v.write_head_dim else None,
        "value_length": v.head_dim if v.write_head_dim else None,
        "file_type": file_type,
        "vocab_size": weights["token_embd.weight"].shape[0] if v.arch == "llama" else None,
        "rope_dimension_count": v.n_rot,
        "rope_scaling_orig_ctx_len": v.orig_context_length,
        "sliding_window": v.sliding_window,
        "rope_scaling_attn_factors":
            longrope_attn_factor(v.context_length, v.orig_context_length) if v.longrope else None,
    }
    # In the converter's order: conversion/phi.py Phi3MiniModel for phi3, else
    # conversion/base.py TextModel.set_gguf_parameters then conversion/llama.py.
    for key in PHI3_KEY_ORDER if v.arch == "phi3" else KEY_ORDER:
        if values[key] is not None:
            getattr(w, "add_" + key)(values[key])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for key, val, vtype, sub in tok_fields:
        w.add_key_value(key, val, vtype, sub)

    for name, x in weights.items():
        if qtype is None or x.ndim == 1:
            w.add_tensor(name, x)
        elif qtype == gguf.GGMLQuantizationType.F16:
            w.add_tensor(name, x.astype(np.float16))
        elif qtype in K_QUANTIZERS:
            w.add_tensor(name, quantize_k(x, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(name, gguf.quants.quantize(x, qtype), raw_dtype=qtype)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ---------------------------------------------------------------- K-quants
#
# gguf-py quantizes BF16 and Q8_0 but not the K-quants, so Q2_K, Q3_K and
# Q4_K are made here: per sub-block the plain min/max (or max |x|) fit, no
# search, rounded half to even throughout, so the bytes are deterministic.
# The block layouts are gguf-py's (gguf/quants.py dequantize_blocks); every
# quantized tensor is read back through gguf.quants.dequantize and checked
# against a bound of one quantization step per value.

QK_K = 256


def _f16(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float16)


def _super_scale(per_sub: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """A super-block's f16 scale for integer sub-block scales 0...top, and
    those integers (0 where the scale is 0)."""
    d = _f16(per_sub.max(axis=-1) / top)
    d32 = d.astype(np.float32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ints = np.where(d32 > 0, np.clip(np.rint(per_sub / d32), 0, top), 0)
    return d, ints.astype(np.uint8)


def _levels(x: np.ndarray, step: np.ndarray, offset: np.ndarray, top: int) -> np.ndarray:
    """round((x + offset) / step) in 0...top (0 where step is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(step > 0, np.rint((x + offset) / step), 0)
    return np.clip(q, 0, top).astype(np.uint8)


def _two_bit_planes(q: np.ndarray) -> np.ndarray:
    """(blocks, 256) values 0...3 -> 64 bytes: value 128h + 32k + l at bits
    2k of byte 32h + l."""
    q = q.reshape(-1, 2, 4, 32).astype(np.uint8)
    return (q[:, :, 0] | q[:, :, 1] << 2 | q[:, :, 2] << 4 | q[:, :, 3] << 6).reshape(-1, 64)


def quantize_q2_k(x: np.ndarray) -> np.ndarray:
    """Blocks of 84 bytes: scales[16] (scale | minimum << 4), qs[64], d, dmin."""
    sub = x.reshape(-1, 16, 16).astype(np.float32)
    low = np.minimum(sub.min(axis=-1), 0)
    scale = (sub.max(axis=-1) - low) / 3
    d, sc = _super_scale(scale, 15)
    dmin, m = _super_scale(-low, 15)
    step = (d.astype(np.float32)[:, None] * sc)[..., None]
    offset = (dmin.astype(np.float32)[:, None] * m)[..., None]
    q = _levels(sub, step, offset, 3)
    return np.concatenate([sc | m << 4, _two_bit_planes(q), d[:, None].view(np.uint8),
                           dmin[:, None].view(np.uint8)], axis=1)


def quantize_q3_k(x: np.ndarray) -> np.ndarray:
    """Blocks of 110 bytes: hmask[32], qs[64], scales[12], d; x = d (sc - 32) (q - 4)."""
    sub = x.reshape(-1, 16, 16).astype(np.float32)
    d, sc = _super_scale(np.abs(sub).max(axis=-1) / 4, 31)
    step = (d.astype(np.float32)[:, None] * sc)[..., None]
    q = _levels(sub, step, 4 * step, 7).reshape(-1, QK_K)   # q - 4 in -4...3
    hmask = np.zeros((q.shape[0], 32), np.uint8)
    for m in range(8):                                       # value 32m + l: bit m of byte l
        hmask |= (q[:, 32 * m:32 * m + 32] >> 2) << m
    stored = (sc.astype(np.int16) + 32).astype(np.uint8)     # 6 bits: sc + 32
    low = stored & 0xF
    scales = np.concatenate([low[:, :8] | low[:, 8:] << 4,   # scale s < 8 low nibble of byte s, else high of s - 8
                             (stored[:, 0:4] >> 4) | (stored[:, 4:8] >> 4) << 2
                             | (stored[:, 8:12] >> 4) << 4 | (stored[:, 12:16] >> 4) << 6], axis=1)
    return np.concatenate([hmask, _two_bit_planes(q & 3), scales, d[:, None].view(np.uint8)], axis=1)


def quantize_q4_k(x: np.ndarray) -> np.ndarray:
    """Blocks of 144 bytes: d, dmin, 12 bytes of 6-bit scales and minimums, qs[128]."""
    sub = x.reshape(-1, 8, 32).astype(np.float32)
    low = np.minimum(sub.min(axis=-1), 0)
    d, sc = _super_scale((sub.max(axis=-1) - low) / 15, 63)
    dmin, m = _super_scale(-low, 63)
    step = (d.astype(np.float32)[:, None] * sc)[..., None]
    offset = (dmin.astype(np.float32)[:, None] * m)[..., None]
    q = _levels(sub, step, offset, 15)
    scales = np.concatenate([sc[:, :4] | (sc[:, 4:] >> 4) << 6, m[:, :4] | (m[:, 4:] >> 4) << 6,
                             (sc[:, 4:] & 0xF) | (m[:, 4:] & 0xF) << 4], axis=1)
    qs = (q[:, 0::2] | q[:, 1::2] << 4).reshape(-1, 128)     # sub-blocks 2p, 2p + 1 share bytes 32p...
    return np.concatenate([d[:, None].view(np.uint8), dmin[:, None].view(np.uint8), scales, qs], axis=1)


K_QUANTIZERS = {
    gguf.GGMLQuantizationType.Q2_K: (quantize_q2_k, 3),
    gguf.GGMLQuantizationType.Q3_K: (quantize_q3_k, 7),
    gguf.GGMLQuantizationType.Q4_K: (quantize_q4_k, 15),
}


def quantize_k(x: np.ndarray, qtype: gguf.GGMLQuantizationType) -> np.ndarray:
    """A (rows, columns) float32 matrix as rows of K-quant blocks, checked
    against gguf-py's dequantization: within one level step of the block's
    range per value (the fits are coarse, not wrong)."""
    fn, levels = K_QUANTIZERS[qtype]
    rows, cols = x.shape
    data = fn(x.reshape(-1, QK_K)).reshape(rows, -1)
    assert data.shape[1] == cols // QK_K * gguf.GGML_QUANT_SIZES[qtype][1], (qtype, data.shape)
    back = gguf.quants.dequantize(data, qtype).reshape(-1, QK_K)
    blocks = x.reshape(-1, QK_K)
    span = np.abs(blocks).max(axis=1, keepdims=True) * 2
    error = np.abs(back - blocks)
    assert np.all(error <= span / levels * 1.01 + 1e-6), (qtype, float((error / np.maximum(span, 1e-30)).max()))
    return data


# ---------------------------------------------------------------- llama.cpp check

CHECK_PROMPTS = ["The capital of France is", "Once upon a time, there was a little",
                 "def fibonacci(n):\n    "]
CHECK_N_PREDICT = 16


def check_with_llama_server(exe: str, files: list[tuple[Variant, Path]]) -> bool:
    """Greedy ids and the smallest top-1/top-2 margin per prompt, per file."""
    from make_greedy_fixtures import REQUEST, Server, http

    ok = True
    runs = []
    for v, path in files:
        runs.append((v, path, 2048))
        if v.longrope:
            runs.append((v, path, 8192))  # above the original context: long factors
    with tempfile.TemporaryDirectory() as tmp:
        for v, path, n_ctx in runs:
            flags = ["-t", "1", "-c", str(n_ctx)]
            print(f"{path.name} (-c {n_ctx}):", flush=True)
            with Server(exe, path, str(Path(tmp) / "server.log"), flags) as server:
                for prompt in CHECK_PROMPTS:
                    body = {**REQUEST, "prompt": prompt, "n_predict": CHECK_N_PREDICT}
                    status, r = http(server.port, "/completion", body)
                    if status != 200:
                        print(f"  HTTP {status}: {r}")
                        ok = False
                        continue
                    margins = []
                    for p in r["completion_probabilities"]:
                        top = p["top_logprobs"]
                        margins.append(top[0]["logprob"] - top[1]["logprob"])
                    low = sum(m < 0.25 for m in margins)
                    # llama-server leaves out the entry of a token that ends inside a
                    # UTF-8 character, so there can be fewer entries than ids.
                    print(f"  {prompt!r}: ids {r['tokens']} stop {r['stop_type']}; "
                          f"margin min {min(margins):.3f} median {float(np.median(margins)):.2f}, "
                          f"{low} of {len(margins)} steps with probabilities below 0.25; "
                          f"text {r['content']!r}")
    return ok


# ---------------------------------------------------------------- main


def parse_list(text: str, allowed, what: str) -> list[str]:
    items = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in items if s not in allowed]
    if bad or not items:
        raise SystemExit(f"unknown {what}: {', '.join(bad) or '(none)'}; choose from {', '.join(allowed)}")
    return items


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="directory for the .gguf files")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--variants", default=None,
                    help="only these variants of the families (e.g. llama3-tied); default: all")
    ap.add_argument("--types", default=",".join(TYPES))
    ap.add_argument("--vocab-dir", default=str(DEFAULT_VOCAB_DIR),
                    help="a directory with llama.cpp's ggml-vocab-*.gguf files "
                         "(default: vendor-data/tokenizer-vectors, from scripts/fetch-tokenizer-vectors)")
    ap.add_argument("--check-llama-server", metavar="PATH", default=None,
                    help="run every file in this llama-server and print greedy ids and margins")
    args = ap.parse_args()

    families = parse_list(args.families, FAMILIES, "family")
    variants = parse_list(args.variants, [v.name for v in VARIANTS], "variant") if args.variants else None
    types = parse_list(args.types, list(TYPES), "type")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    vocab_dir = Path(args.vocab_dir)
    if not vocab_dir.is_dir():
        sys.exit(f"make-test-models: no vocabulary files at {vocab_dir}; run scripts/fetch-tokenizer-vectors first")

    vocabs: dict[str, list] = {}
    written: list[tuple[Variant, Path]] = []
    for v in VARIANTS:
        if v.family not in families or (variants is not None and v.name not in variants):
            continue
        if v.vocab not in vocabs:
            vocabs[v.vocab] = tokenizer_fields(vocab_dir / v.vocab)
        tok = vocabs[v.vocab]
        weights = make_weights(v, n_tokens(tok))
        for type_name in types:
            path = out / f"{v.name}-{type_name}.gguf"
            write_variant(v, type_name, weights, tok, path)
            print(f"{sha256_file(path)}  {path.name}  {path.stat().st_size} bytes", flush=True)
            written.append((v, path))

    if args.check_llama_server:
        return 0 if check_with_llama_server(args.check_llama_server, written) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
