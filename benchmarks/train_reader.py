"""Train factdesk's reader: an extractive span model that finds the short answer, or says none.

Reproduces the model shipped in src/factdesk/models/reader/ from the SQuAD files in
../shared/data/squad (see its README):

    python benchmarks/train_reader.py --data ../shared/data/squad --out build/reader

1. Split SQuAD by article (squad_data.py): TUNE and TEST are held out (with every article of
   benchmarks/conversations/); all the other articles of SQuAD 2.0 train can train.
2. Make windows of at most MAX_LENGTH word pieces (question + part of a paragraph). A positive
   holds the answer and is labelled with its first and last word piece; an unanswerable question
   of SQuAD 2.0 (written to look answerable from its paragraph) is labelled with [CLS] ("no
   answer") on a window of its paragraph. Every question of the training articles, once a pass;
   the unanswerable ones in SQuAD's own wording only, unless `--wording all`. On-topic and made
   negatives (`--on-topic-rate`, `--made-rate`) are off: they did not help (negatives.py).
3. Fine-tune the bundled all-MiniLM-L6-v2 with a fresh span head (start and end logits per word
   piece), word embeddings frozen, AdamW with warm-up then linear decay. Checkpoints every
   CHECKPOINT_STEPS; `--resume` carries an interrupted run on from its last one.
4. Export to ONNX and quantise to int8 (shipped when it loses at most half a point of F1 on the
   tune articles; where it loses more, the encoder layers that bring back the most F1 stay
   fp32, one at a time, until it does).
5. `--measure` (run after step 4, or on its own with a model folder) chooses the decline
   threshold and fits the confidence on the tune articles through the real answer pipeline, then
   reports the test articles once, and writes reader.json and the model card.

Training needs the `train` extra; the shipped model runs with onnxruntime and tokenizers only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import reader_figures
from reader_figures import STRIDE
from squad_data import TEST, TUNE, Question, held_out, load_articles

SEED = 13
MAX_LENGTH = 192
MAX_ANSWER_PIECES = 30
PACKAGE = Path(__file__).resolve().parent.parent / "src" / "factdesk" / "models" / "reader"
CHECKPOINT_STEPS = 100
MAX_SHIPPED_MB = 60
# int8 ships where it costs at most this much tune F1 against fp32
INT8_F1_LOSS = 0.005
_NAME = re.compile(r"\b(?:[A-Z][\w'’-]*|\d[\d,.]*)(?:[ ](?:[A-Z][\w'’-]*|\d[\d,.]*))*")
_AUXILIARY = re.compile(
    r"\b(is|was|are|were|did|does|do|can|could|has|have|had|will|would|should)\b", re.I
)
ANTONYMS = {
    "first": "last",
    "largest": "smallest",
    "biggest": "smallest",
    "most": "least",
    "before": "after",
    "highest": "lowest",
    "earliest": "latest",
    "oldest": "newest",
    "longest": "shortest",
    "more": "fewer",
    "increase": "decrease",
    "increased": "decreased",
    "north": "south",
    "east": "west",
    "won": "lost",
    "best": "worst",
    "maximum": "minimum",
    "early": "late",
    "began": "ended",
    "start": "end",
    "major": "minor",
    "higher": "lower",
    "larger": "smaller",
    "greater": "smaller",
    "better": "worse",
    "older": "younger",
    "open": "closed",
    "opened": "closed",
    "positive": "negative",
    "success": "failure",
    "successful": "unsuccessful",
    "allowed": "forbidden",
    "supported": "opposed",
    "accepted": "rejected",
    "male": "female",
    "modern": "ancient",
    "public": "private",
    "internal": "external",
}
ANTONYMS |= {b: a for a, b in list(ANTONYMS.items()) if b not in ANTONYMS}


@dataclass(frozen=True)
class Example:
    """One training window: a question against a paragraph, and the kind of pair it is."""

    question: str
    article: str
    paragraph: int
    answer_start: int  # -1: no answer in this paragraph
    answer: str
    kind: str


# ---------------------------------------------------------------- data

# An answerable question that lacks this share of its words in its answer's sentence reads like
# a news question written by someone else: by words_missing, the seed set's answerable
# questions lack a median 0.89 of their words, SQuAD's training questions 0.36, and the reader
# is least sure of them (benchmarks/README.md, "Why news questions are declined").
LOW_OVERLAP = 0.8


def words_missing(question: str, paragraph: str, start: int) -> float:
    """The share of the question's words (stemmed, stop words left out) that the sentence of
    `paragraph` holding character `start` lacks."""
    from factdesk.ingest.sentences import split_sentences
    from factdesk.search.keyword import terms

    asked = set(terms(question))
    if not asked:
        return 0.0
    spans = split_sentences(paragraph)
    sentence = next((paragraph[a:b] for a, b in spans if a <= start < b), paragraph)
    return len(asked - set(terms(sentence))) / len(asked)


_WORD = re.compile(r"[a-z0-9]+")
_STOP = set(
    [
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "with",
        "from",
        "and",
        "or",
        "is",
        "was",
        "are",
        "were",
        "be",
        "been",
        "what",
        "which",
        "who",
        "whom",
        "when",
        "where",
        "why",
        "how",
        "did",
        "does",
        "do",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "as",
        "than",
        "into",
        "about",
    ]
)


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


class ArticleBank:
    """Per article: paragraph word sets (for on-topic negatives) and names (for swaps)."""

    def __init__(self, paragraphs: dict[str, list[str]]) -> None:
        self.paragraphs = paragraphs
        self.words = {a: [_words(p) for p in ps] for a, ps in paragraphs.items()}
        self.names: dict[str, list[str]] = {}
        for article, texts in paragraphs.items():
            found = set()
            for text in texts:
                found.update(
                    m.group()
                    for m in _NAME.finditer(text)
                    if m.start() > 0 and text[: m.start()].rstrip()[-1:] not in '.!?"'
                )
            self.names[article] = sorted(n for n in found if len(n) > 2)

    def on_topic(self, question: Question) -> int | None:
        """The article's other paragraph sharing most words with the question, if it lacks
        the answer."""
        wanted = _words(question.text)
        best, best_score = None, 0
        for number, words in enumerate(self.words[question.article]):
            if number == question.paragraph:
                continue
            score = len(wanted & words)
            if score > best_score:
                best, best_score = number, score
        if best is None:
            return None
        if question.answer.lower() in self.paragraphs[question.article][best].lower():
            return None
        return best


def swap_entity(question: Question, paragraph: str, names: list[str], rng: random.Random):
    """The question with a name or number that ties it to the paragraph replaced by another
    of the article's that the paragraph never mentions."""
    anchors = [m for m in _NAME.finditer(question.text) if m.start() > 0 and m.group() in paragraph]
    if not anchors:
        return None
    anchor = rng.choice(anchors)
    is_number = anchor.group()[0].isdigit()
    choices = [
        n
        for n in names
        if n[0].isdigit() == is_number and n not in paragraph and n not in question.text
    ]
    if not choices:
        return None
    text = question.text
    return text[: anchor.start()] + rng.choice(choices) + text[anchor.end() :]


def negate(question: Question) -> str | None:
    """'When was X built?' -> 'When was X not built?' (after the first auxiliary)."""
    match = _AUXILIARY.search(question.text)
    if not match or " not " in question.text or "n't" in question.text:
        return None
    # after the subject would be better English; after the auxiliary's next word is close enough
    rest = question.text[match.end() :]
    words = rest.split(" ")
    if len(words) < 3:
        return None
    cut = 2 if words[0] == "" else 1
    return question.text[: match.end()] + " ".join(words[:cut]) + " not " + " ".join(words[cut:])


def antonym(question: Question, paragraph: str) -> str | None:
    """A word of the question replaced by its antonym, where the paragraph lacks the antonym."""
    for match in re.finditer(r"[A-Za-z]+", question.text):
        word = match.group().lower()
        other = ANTONYMS.get(word)
        if other and not re.search(rf"\b{other}\b", paragraph, re.I):
            return question.text[: match.start()] + other + question.text[match.end() :]
    return None


def make_examples(
    questions: list[Question],
    bank: ArticleBank,
    rng: random.Random,
    on_topic_rate: float,
    made_rate: float,
    low_overlap_repeats: int = 0,
) -> list[Example]:
    """Positives, plus on-topic and made negatives at the given rates, plus every adversarial
    question of the training articles; a positive that shares few words with its answer's
    sentence (LOW_OVERLAP) comes `low_overlap_repeats` more times."""
    examples = []
    for q in questions:
        paragraph = bank.paragraphs[q.article][q.paragraph]
        if not q.answer:
            examples.append(Example(q.text, q.article, q.paragraph, -1, "", "adversarial"))
            continue
        examples.append(Example(q.text, q.article, q.paragraph, q.start, q.answer, "positive"))
        if low_overlap_repeats and words_missing(q.text, paragraph, q.start) >= LOW_OVERLAP:
            repeat = Example(q.text, q.article, q.paragraph, q.start, q.answer, "few words shared")
            examples.extend([repeat] * low_overlap_repeats)
        if rng.random() < on_topic_rate and (other := bank.on_topic(q)) is not None:
            examples.append(Example(q.text, q.article, other, -1, "", "on-topic paragraph"))
        if rng.random() < made_rate:
            makers = [
                (
                    "made: swapped name",
                    lambda q=q, paragraph=paragraph: swap_entity(
                        q, paragraph, bank.names[q.article], rng
                    ),
                ),
                ("made: negation", lambda q=q: negate(q)),
                ("made: antonym", lambda q=q, paragraph=paragraph: antonym(q, paragraph)),
            ]
            weights = [0.6, 0.25, 0.15]
            order = rng.choices(range(3), weights=weights, k=3)
            for index in [*order, 0, 1, 2]:
                kind, maker = makers[index]
                if text := maker():
                    examples.append(Example(text, q.article, q.paragraph, -1, "", kind))
                    break
    return examples


# ---------------------------------------------------------------- windows


def encode(tokenizer, example: Example, paragraph: str, rng: random.Random) -> dict | None:
    """One window of at most MAX_LENGTH word pieces: a window holding the answer for a positive,
    a random window for a negative; labels are word-piece positions, 0 for no answer."""
    enc = tokenizer(
        example.question,
        paragraph,
        truncation="only_second",
        max_length=MAX_LENGTH,
        stride=STRIDE,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    windows = []
    for w in range(len(enc["input_ids"])):
        sequence = enc.sequence_ids(w)
        offsets = enc["offset_mapping"][w]
        context = [i for i, s in enumerate(sequence) if s == 1]
        if not context:
            continue
        start = end = 0
        if example.answer_start >= 0:
            a, b = example.answer_start, example.answer_start + len(example.answer)
            if offsets[context[0]][0] > a or offsets[context[-1]][1] < b:
                continue  # the answer is not wholly in this window
            start = next(i for i in context if offsets[i][1] > a)
            end = next(i for i in reversed(context) if offsets[i][0] < b)
        windows.append((w, start, end))
    if not windows:
        return None
    w, start, end = rng.choice(windows)
    return {
        "input_ids": enc["input_ids"][w],
        "token_type_ids": enc["token_type_ids"][w],
        "start": start,
        "end": end,
    }


def batches(encoded: list[dict], batch: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar length (sorted within pools of 50 batches), in random order: padding
    to the longest of a batch then wastes little."""
    order = list(range(len(encoded)))
    rng.shuffle(order)
    pool = batch * 50
    result = []
    for i in range(0, len(order), pool):
        chunk = sorted(order[i : i + pool], key=lambda j: len(encoded[j]["input_ids"]))
        result += [chunk[k : k + batch] for k in range(0, len(chunk), batch)]
    rng.shuffle(result)
    return result


def collate(encoded: list[dict], indices: list[int]):
    import torch

    longest = max(len(encoded[i]["input_ids"]) for i in indices)
    ids = torch.zeros((len(indices), longest), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, i in enumerate(indices):
        n = len(encoded[i]["input_ids"])
        ids[row, :n] = torch.tensor(encoded[i]["input_ids"])
        types[row, :n] = torch.tensor(encoded[i]["token_type_ids"])
        mask[row, :n] = 1
    starts = torch.tensor([encoded[i]["start"] for i in indices])
    ends = torch.tensor([encoded[i]["end"] for i in indices])
    return ids, types, mask, starts, ends


# ---------------------------------------------------------------- training


def weights_from_onnx(path: Path) -> dict:
    """The parameters of an exported reader (fp32 or dynamically quantised int8), named as in the
    torch model, so that a shipped reader can be trained further (`--start-from`)."""
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def dequantized(name: str, scale: str, zero: str) -> np.ndarray:
        return (values[name].astype(np.float32) - values[zero].astype(np.float32)) * values[
            scale
        ].astype(np.float32)

    state = {k: v for k, v in values.items() if k.startswith(("bert.", "qa_outputs."))}
    for name in list(state):
        if name.endswith("_quantized"):  # a quantised embedding table keeps its torch name
            base = name[: -len("_quantized")]
            state[base] = dequantized(name, base + "_scale", base + "_zero_point")
    for node in graph.node:
        if node.op_type not in ("MatMulInteger", "MatMul") or node.input[1] not in values:
            continue
        weight = node.input[1]
        if node.op_type == "MatMulInteger":
            base = weight[: -len("_quantized")]
            matrix = dequantized(weight, base + "_scale", node.input[3])
        else:
            matrix = values[weight].astype(np.float32)
        output, bias = node.output[0], None
        for _ in range(4):  # MatMul -> (Cast -> Mul ->) Add(bias): the bias names the layer
            after = consumers[output][0]
            bias = next((i for i in after.input if i.endswith(".bias") and i in values), None)
            if bias:
                break
            output = after.output[0]
        if bias is None:
            raise ValueError(f"{path}: cannot name the weight {weight}")
        state[bias[: -len(".bias")] + ".weight"] = matrix.T.copy()
    return {
        k: torch.from_numpy(np.array(v, dtype=v.dtype))
        for k, v in state.items()
        if not k.endswith(("_quantized", "_scale", "_zero_point"))
    }


def train(encoded: list[dict], out: Path, args) -> Path:
    """Fine-tune with checkpoints; returns the folder of the trained model."""
    import torch
    from transformers import AutoModelForQuestionAnswering, get_linear_schedule_with_warmup

    from factdesk.search.embeddings import bundled_model_path

    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    model = AutoModelForQuestionAnswering.from_pretrained(bundled_model_path())
    if args.start_from:
        state = weights_from_onnx(args.start_from / "reader.onnx")
        # the word embeddings were frozen: the base model's are exact, the int8 copy is not
        state.pop("bert.embeddings.word_embeddings.weight", None)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or [m for m in missing if "word_embeddings" not in m]:
            raise SystemExit(f"--start-from: missing {missing}, unexpected {unexpected}")
        print(f"starting from {args.start_from}", flush=True)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    plan = batches(encoded, args.batch, random.Random(SEED))
    total = len(plan) * args.epochs
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01
    )
    schedule = get_linear_schedule_with_warmup(optimizer, int(total * 0.06), total)
    checkpoint = out / "checkpoint.pt"
    step = 0
    elapsed = 0.0
    if args.resume and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step, elapsed = state["step"], state["elapsed"]
        print(f"resumed at step {step} of {total} ({elapsed:.0f} s trained)", flush=True)
    model.train()
    began = time.perf_counter() - elapsed
    losses: list[float] = []
    while step < total:
        epoch, index = divmod(step, len(plan))
        order = plan if epoch == 0 else batches(encoded, args.batch, random.Random(SEED + epoch))
        ids, types, mask, starts, ends = collate(encoded, order[index])
        output = model(
            input_ids=ids,
            token_type_ids=types,
            attention_mask=mask,
            start_positions=starts,
            end_positions=ends,
        )
        output.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(output.loss.item())
        step += 1
        if step % 20 == 0:
            seconds = time.perf_counter() - began
            rate = step * args.batch / seconds
            left = (total - step) * args.batch / rate
            print(
                f"step {step}/{total} loss {np.mean(losses[-20:]):.3f}"
                f" {rate:.2f} windows/s, {seconds / 60:.1f} min, about {left / 60:.0f} min left",
                flush=True,
            )
        if step % len(plan) == 0:  # each pass's end, kept to measure while the next one runs
            torch.save(model.state_dict(), out / f"epoch-{step // len(plan)}.pt")
        if step % CHECKPOINT_STEPS == 0 or step == total:
            state = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "schedule": schedule.state_dict(),
                "step": step,
                "elapsed": time.perf_counter() - began,
            }
            torch.save(state, out / "checkpoint.tmp")
            os.replace(out / "checkpoint.tmp", checkpoint)
    folder = out / "torch"
    model.save_pretrained(str(folder))
    (out / "training.json").write_text(
        json.dumps({"seconds": time.perf_counter() - began, "steps": total}, indent=2)
    )
    return folder


def averaged_weights(checkpoints: list[Path]) -> dict:
    """The weights of these checkpoints, averaged (one checkpoint: its own weights).

    Readers fine-tuned one from another lie in one basin, and their average often reads
    held-out text better than either (Wortsman et al., 2022, "Model soups"; benchmarks/README.md
    has what it did here).
    """
    import torch

    states = []
    for checkpoint in checkpoints:
        state = torch.load(checkpoint, weights_only=False)
        states.append(state.get("model", state))
    first = states[0]
    if any(state.keys() != first.keys() for state in states[1:]):
        raise SystemExit("checkpoints to average must hold the same model's weights")
    return {
        name: (sum(state[name].double() for state in states) / len(states)).to(tensor.dtype)
        if tensor.is_floating_point()
        else tensor
        for name, tensor in first.items()
    }


def export_onnx(folder: Path, out: Path) -> Path:
    """The trained model as ONNX (fp32)."""
    import torch
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(str(folder)).eval()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = {n: torch.ones((1, 16), dtype=torch.long) for n in names}
    fp32 = out / "reader-fp32.onnx"
    dynamic = {n: {0: "batch", 1: "tokens"} for n in names}
    with torch.no_grad():
        torch.onnx.export(
            model,
            tuple(sample[n] for n in names),
            str(fp32),
            input_names=names,
            output_names=["start_logits", "end_logits"],
            dynamic_axes={
                **dynamic,
                "start_logits": {0: "batch", 1: "tokens"},
                "end_logits": {0: "batch", 1: "tokens"},
            },
            opset_version=17,
            dynamo=False,
        )
    return fp32


def quantise(fp32: Path, int8: Path, fp32_layers: Sequence[int] = ()) -> Path:
    """int8 dynamic quantisation of the fp32 reader, the encoder layers `fp32_layers` left in
    fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # reading the graph costs a second or two: only when some layers stay fp32
    nodes = onnx.load(str(fp32)).graph.node if fp32_layers else ()
    kept = [
        node.name for node in nodes if any(f"/layer.{layer}/" in node.name for layer in fp32_layers)
    ]
    # 7-bit signed weights: on CPUs without AVX-512 VNNI onnxruntime adds pairs of u8 x s8
    # products in 16 bits, which full 8-bit weights saturate (the scores then move with the
    # machine); 7 bits cannot, and keep the fast signed kernel (benchmarks/README.md).
    quantize_dynamic(
        str(fp32),
        str(int8),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gather"],
        per_channel=True,
        reduce_range=True,
        nodes_to_exclude=kept,
    )
    return int8


def int8_within_loss(
    fp32: Path, out: Path, figures_of: Callable[[Path], dict], layers: int
) -> tuple[Path, dict[str, dict], list[int]]:
    """The int8 reader with as few encoder layers left in fp32 as keep its tune F1 within
    INT8_F1_LOSS of fp32's, the layers whose fp32 copy alone brings back the most F1 first.
    Returns the model, the figures of fp32 and of it, and the layers left in fp32."""
    figures = {"fp32": figures_of(fp32)}
    int8 = quantise(fp32, out / "reader-int8.onnx")
    figures["int8"] = figures_of(int8)
    if figures["fp32"]["f1"] - figures["int8"]["f1"] <= INT8_F1_LOSS:
        return int8, figures, []
    trial = out / "reader-int8-trial.onnx"
    alone = {n: figures_of(quantise(fp32, trial, [n])) for n in range(layers)}
    trial.unlink()
    print(
        f"tune F1 with one layer left in fp32: { {n: f['f1'] for n, f in alone.items()} }",
        flush=True,
    )
    kept: list[int] = []
    for layer in sorted(alone, key=lambda n: -alone[n]["f1"]):
        kept.append(layer)
        quantise(fp32, int8, kept)
        # the first layer's figures were just measured, on the same model
        figures["int8"] = alone[layer] if len(kept) == 1 else figures_of(int8)
        if figures["fp32"]["f1"] - figures["int8"]["f1"] <= INT8_F1_LOSS:
            break
    return int8, figures, sorted(kept)


def unsigned_weights(path: Path) -> int:
    """Store an int8 model's full-range signed MatMul weights as uint8 with zero point 128: the
    same numbers, through an exact u8 x u8 kernel on every CPU (slower than 7-bit signed
    weights with VNNI; what the reader 2-f62ec55f was converted with, its fp32 weights being
    lost). Returns how many weights it changed."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    initializers = {i.name: i for i in model.graph.initializer}
    changed: set[str] = set()
    for node in model.graph.node:
        if node.op_type != "MatMulInteger" or node.input[1] in changed:
            continue
        weight_and_zero_point = node.input[1], node.input[3]
        for name in weight_and_zero_point:
            values = numpy_helper.to_array(initializers[name])
            if values.dtype == np.int8:
                shifted = (values.astype(np.int16) + 128).astype(np.uint8)
                initializers[name].CopyFrom(numpy_helper.from_array(shifted, name))
        changed.add(node.input[1])
    onnx.save(model, str(path))
    return len(changed)


def _same_windows(saved: dict, recipe: dict) -> bool:
    """Whether a saved run's recipe made the windows `recipe` would make."""
    return {**saved, "epochs": None} == {**recipe, "epochs": None}


def windows(args, recipe: dict, pool: list[Question], paragraphs, tokenizer):
    """The training windows, made once per run and kept beside its checkpoints: a resumed run
    trains on exactly the windows it started with, whatever changed in this script since."""
    import torch

    saved = args.out / "windows.pt"
    if args.resume and saved.exists():
        state = torch.load(saved, weights_only=False)
        # runs made before the wording option trained on every wording, before the low-overlap
        # one repeated nothing; the number of passes may grow (a finished run carried into
        # another pass trains on the same windows)
        before = {"wording": "all", "low_overlap_repeats": 0}
        if not _same_windows(before | state["recipe"], recipe):
            sys.exit(
                f"Error: {args.out} holds a run of another recipe ({state['recipe']}); "
                "resume it with the same options, or give another --out"
            )
        return state["encoded"], Counter(state["kinds"])
    rng = random.Random(SEED)
    pool = list(pool)
    rng.shuffle(pool)
    end = None if args.questions is None else args.skip + args.questions
    bank = ArticleBank(paragraphs)
    examples = make_examples(
        pool[args.skip : end],
        bank,
        rng,
        args.on_topic_rate,
        args.made_rate,
        args.low_overlap_repeats,
    )
    encoded, kinds = [], Counter()
    for example in examples:
        window = encode(tokenizer, example, paragraphs[example.article][example.paragraph], rng)
        if window:
            encoded.append(window)
            kinds[example.kind] += 1
    torch.save({"recipe": recipe, "encoded": encoded, "kinds": dict(kinds)}, saved)
    return encoded, kinds


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of the SQuAD files")
    parser.add_argument("--out", type=Path, required=True, help="folder for the model and figures")
    parser.add_argument(
        "--questions", type=int, help="training questions, of both kinds [all of them]"
    )
    parser.add_argument(
        "--skip", type=int, default=0, help="skip this many training questions first [0]"
    )
    parser.add_argument(
        "--start-from",
        type=Path,
        help="train further from the reader package in this folder (with --skip past the "
        "questions it saw)",
    )
    # Neither made nor on-topic negatives helped in the ablation (benchmarks/negatives.py):
    # SQuAD 2.0's own unanswerable questions are the negatives.
    parser.add_argument("--on-topic-rate", type=float, default=0.0)
    parser.add_argument("--made-rate", type=float, default=0.0)
    # 26,074 of SQuAD 2.0's unanswerable questions are machine round trips, and no answerable one
    # is: trained on them, the reader learns the round trip's wording as "no answer" and declines
    # paraphrased questions (benchmarks/README.md, "What the round trips teach").
    parser.add_argument(
        "--low-overlap-repeats",
        type=int,
        default=0,
        help="train this many more times a pass on each answerable question that lacks "
        f"{LOW_OVERLAP:.0%}% or more of its words in its answer's sentence, as news questions "
        "written by others do [0]",
    )
    parser.add_argument(
        "--wording",
        choices=("exact", "all"),
        default="exact",
        help="the unanswerable questions to train on: SQuAD's own wording only, or the machine "
        "round trips too [exact]",
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="carry on from the last checkpoint (with a larger --epochs, a finished run goes "
        "on into more passes over the same windows)",
    )
    parser.add_argument(
        "--export-from",
        type=Path,
        nargs="+",
        help="skip training: export and measure this checkpoint (a run's checkpoint.pt, or the "
        "epoch-N.pt it keeps at the end of each pass) into --out; given several checkpoints of "
        "one lineage, their weights averaged",
    )
    parser.add_argument(
        "--measure",
        type=Path,
        help="skip training and export: calibrate, choose the threshold and measure again with "
        "the reader package in this folder (after a change to the answer pipeline)",
    )
    parser.add_argument("--limit", type=int, help="questions a set, when measuring (a smoke test)")
    parser.add_argument(
        "--previous",
        type=Path,
        default=PACKAGE,
        help="the reader to report beside the new one [the one in the package now]",
    )
    return parser


def options_to_reproduce(recipe: dict, averaged: list[str], parser) -> str:
    """The options beyond --data and --out that made a reader: its recipe's values that differ
    from the parser's defaults, or for averaged weights the checkpoints averaged (each run
    trained first with its own recipe, in its training.json)."""
    if averaged:
        return " --export-from " + " ".join(averaged)
    defaults = vars(parser.parse_args(["--data", ".", "--out", "."]))
    options = []
    for name, value in recipe.items():
        if name in defaults and value != defaults[name]:
            # The recipe keeps the starting reader's version, not the folder it was read from.
            shown = f"DIR_OF_{value}" if name == "start_from" else value
            options.append(f" --{name.replace('_', '-')} {shown}")
    return "".join(options)


def main() -> None:
    parser = arguments()
    args = parser.parse_args()
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    from factdesk.search.embeddings import bundled_model_path, prepare_runtime

    prepare_runtime(args.threads)
    if args.measure:
        package = args.out / "reader"
        if package.resolve() != args.measure.resolve():
            shutil.copytree(args.measure, package, dirs_exist_ok=True)
        training = json.loads((package / "training.json").read_text())
        reader_figures.measure(
            package, args.data, args.out, training, started, _previous(args, package), args.limit
        )
        return
    repo = Path(__file__).resolve().parent.parent
    paragraphs, questions = load_articles(args.data)
    out_of_training = held_out(repo)
    pool = [
        q
        for q in questions
        if q.article not in out_of_training and (q.exact or args.wording == "all")
    ]
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path())
    recipe = {
        "questions": args.questions,
        "skip": args.skip,
        "start_from": (
            json.loads((args.start_from / "reader.json").read_text())["version"]
            if args.start_from
            else None
        ),
        "on_topic_rate": args.on_topic_rate,
        "made_rate": args.made_rate,
        "epochs": args.epochs,
        "batch": args.batch,
        "lr": args.lr,
        "max_length": MAX_LENGTH,
        "stride": STRIDE,
        "seed": SEED,
        "wording": args.wording,
        "low_overlap_repeats": args.low_overlap_repeats,
    }
    if args.export_from:
        import torch

        made = torch.load(args.export_from[0].parent / "windows.pt", weights_only=False)
        encoded, kinds, recipe = [], Counter(made["kinds"]), made["recipe"]
    else:
        encoded, kinds = windows(args, recipe, pool, paragraphs, tokenizer)
    split = {
        "train_articles": len({q.article for q in pool}),
        "held_out": sorted(out_of_training),
        "windows": dict(kinds),
    }
    print(json.dumps(split, indent=1), flush=True)
    if args.export_from:
        import torch
        from transformers import AutoModelForQuestionAnswering

        model = AutoModelForQuestionAnswering.from_pretrained(bundled_model_path())
        model.load_state_dict(averaged_weights(args.export_from))
        folder = args.out / "torch"
        model.save_pretrained(str(folder))
    else:
        folder = train(encoded, args.out, args)
    tokenizer.save_pretrained(str(args.out / "tokenizer"))
    fp32 = export_onnx(folder, args.out)
    tokenizer_file = args.out / "tokenizer" / "tokenizer.json"
    from factdesk.answer.reader import Reader

    tune = [q for q in questions if q.article in TUNE and q.exact]
    random.Random(SEED).shuffle(tune)

    def figures_of(path: Path) -> dict:
        reader = Reader(model_file=path, tokenizer_file=tokenizer_file)
        return reader_figures.paragraph_figures(reader, paragraphs, tune, 1000)

    layers = json.loads((folder / "config.json").read_text())["num_hidden_layers"]
    int8, figures, fp32_layers = int8_within_loss(fp32, args.out, figures_of, layers)
    print(f"single-paragraph figures on 1,000 tune questions: {figures}", flush=True)
    loss = figures["fp32"]["f1"] - figures["int8"]["f1"]
    fp32_mb = fp32.stat().st_size / 1e6
    shipped = int8 if loss <= INT8_F1_LOSS or fp32_mb > MAX_SHIPPED_MB else fp32
    package = args.out / "reader"
    package.mkdir(exist_ok=True)
    shutil.copy(shipped, package / "reader.onnx")
    shutil.copy(tokenizer_file, package / "tokenizer.json")
    version = f"3-{hashlib.sha256((package / 'reader.onnx').read_bytes()).hexdigest()[:8]}"
    training_file = args.out / "training.json"
    trained = json.loads(training_file.read_text()) if training_file.exists() else {}
    training = {
        "version": version,
        "windows": dict(kinds),
        "train_articles": split["train_articles"],
        "training_seconds": round(trained.get("seconds", 0)),
        "tune_paragraph_figures": figures,
        "shipped": "int8" if shipped == int8 else "fp32",
        "int8_f1_loss": round(loss, 4),
        "fp32_layers": fp32_layers,
        "fp32_mb": round(fp32_mb, 1),
        "splits": {"tune": sorted(TUNE), "test": sorted(TEST), "held_out": split["held_out"]},
        "recipe": recipe,
    }
    if args.export_from and len(args.export_from) > 1:
        # The runs' folders and files, e.g. "reader-5/epoch-2.pt": where the weights came from.
        training["averaged"] = [f"{path.parent.name}/{path.name}" for path in args.export_from]
    training["options"] = options_to_reproduce(recipe, training.get("averaged", []), parser)
    (package / "training.json").write_text(json.dumps(training, indent=2) + "\n")
    reader_figures.measure(
        package,
        args.data,
        args.out,
        training,
        started - trained.get("seconds", 0),
        _previous(args, package),
        args.limit,
    )


def _previous(args, package: Path) -> Path | None:
    """The reader to report beside the new one, unless it is the same one."""
    if args.previous is None or not (args.previous / "reader.json").exists():
        return None
    same = args.previous.resolve() == package.resolve()
    return None if same else args.previous


if __name__ == "__main__":
    main()
