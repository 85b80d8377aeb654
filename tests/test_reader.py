"""The shipped reader: its files, its card, its spans, and no torch on the way."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from factdesk.answer.calibration import Calibration
from factdesk.answer.reader import CONFIG_FILE, MODEL_DIR, MODEL_FILE, TOKENIZER_FILE, Reader

QUESTION = "Which analyst estimates the number of Russian officers in Venezuela?"
ANSWER = (
    "Analyst Mark Galeotti estimates there are 300 Russian Defense Ministry and corporate "
    "security company officers in Venezuela."
)
OFF_TOPIC = "Tesla moved to Paris in 1882 to work for the Continental Edison Company."
FILLER = "The committee met again on Tuesday and discussed the agenda for the coming year. " * 30


def test_the_model_ships_small_inside_the_package_with_its_card():
    assert (MODEL_DIR / MODEL_FILE).stat().st_size <= 30 * 1024 * 1024
    assert (MODEL_DIR / TOKENIZER_FILE).exists()
    config = json.loads((MODEL_DIR / CONFIG_FILE).read_text())
    assert 0 < config["threshold"] < 1 and config["version"]
    assert config["calibration"]["slope"] > 0
    card = (MODEL_DIR / "MODEL_CARD.md").read_text()
    assert config["version"] in card and str(config["threshold"]) in card
    assert "CC BY-SA 4.0" in card and "Apache-2.0" in card


@pytest.mark.slow
def test_the_int8_weights_cannot_saturate_so_every_cpu_computes_the_same_scores():
    """On CPUs without AVX-512 VNNI, onnxruntime adds pairs of u8 x s8 products in 16 bits:
    full-range signed weights saturate there, and the scores moved with the machine. Unsigned
    weights (an exact u8 x u8 kernel) or 7-bit signed ones (2 x 255 x 64 < 2**15) cannot
    (benchmarks/train_reader.py)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(MODEL_DIR / MODEL_FILE)).graph
    values = {i.name: i for i in graph.initializer}
    weights = [
        numpy_helper.to_array(values[n.input[1]])
        for n in graph.node
        if n.op_type == "MatMulInteger"
    ]
    assert weights
    for weight in weights:
        assert weight.dtype == np.uint8 or (weight.min() >= -64 and weight.max() <= 64)


def test_the_card_reports_the_figures_the_training_run_wrote():
    config = json.loads((MODEL_DIR / CONFIG_FILE).read_text())
    card = (MODEL_DIR / "MODEL_CARD.md").read_text()
    for part in config["figures"]["test"].values():
        for system in ("reader", "baseline"):
            assert f"{part[system]['correct']:g}" in card
            assert f"{part[system]['span']:g}" in card


@pytest.mark.slow
def test_the_short_answer_is_the_span_that_answers(reader):
    (span,) = reader.read(QUESTION, [ANSWER])
    assert span is not None and span.text == "Mark Galeotti"
    assert ANSWER[span.start : span.end] == span.text
    assert reader.confidence(span.margin, 0.6) >= reader.threshold


@pytest.mark.slow
def test_a_passage_without_the_answer_scores_below_the_threshold(reader):
    found = reader.best_span(QUESTION, [OFF_TOPIC])
    assert found is None or reader.confidence(found.margin, 0.1) < reader.threshold


@pytest.mark.slow
def test_questions_read_at_once_run_one_thread_each_and_score_the_same():
    reader = Reader(threads=2, busy_threads=1)
    passages = [ANSWER, OFF_TOPIC, FILLER + ANSWER]
    alone = reader.read(QUESTION, passages)
    with ThreadPoolExecutor(4) as pool:
        at_once = list(pool.map(lambda _: reader.read(QUESTION, passages), range(16)))
    with reader._reading_session() as held:  # as if another question were being read
        busy = reader.read(QUESTION, passages)
    assert held is reader._session and reader._busy_session is not None
    assert busy == alone and all(spans == alone for spans in at_once)
    assert reader._reading == 0


@pytest.mark.slow
def test_a_long_passage_is_read_in_windows_and_offsets_stay_exact(reader):
    passage = FILLER + ANSWER
    (span,) = reader.read(QUESTION, [passage])
    assert span is not None and span.text == "Mark Galeotti"
    assert passage[span.start : span.end] == span.text and span.start > len(FILLER)


def test_the_confidence_rises_with_the_margin():
    calibration = Calibration.of(json.loads((MODEL_DIR / CONFIG_FILE).read_text())["calibration"])
    confidences = [
        calibration.confidence({"margin": margin, "passage_cosine": 0.5})
        for margin in (-5.0, 0.0, 5.0)
    ]
    assert confidences == sorted(set(confidences))


@pytest.mark.slow
def test_threads_can_share_one_reader(reader):
    expected = reader.read(QUESTION, [ANSWER, OFF_TOPIC])
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: reader.read(QUESTION, [ANSWER, OFF_TOPIC]), range(16)))
    assert all(result == expected for result in results)


@pytest.mark.slow
def test_reading_loads_neither_torch_nor_transformers():
    code = (
        "import sys\n"
        "from factdesk.answer.reader import Reader\n"
        "Reader().read('Who?', ['Someone.'])\n"
        "heavy = {'torch', 'transformers', 'sentence_transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_finished_run_resumes_into_more_passes_on_its_own_windows(benchmark_script):
    """`--epochs N --resume` carries a finished run on; any other change of recipe is refused,
    since its saved windows would not be the ones the options make."""
    train_reader = benchmark_script("train_reader")
    saved = {"lr": 1e-4, "epochs": 1, "wording": "exact", "batch": 16}
    assert train_reader._same_windows(saved, saved | {"epochs": 2})
    assert not train_reader._same_windows(saved, saved | {"lr": 5e-5})
    assert not train_reader._same_windows(saved, saved | {"wording": "all"})


def test_checkpoints_exported_together_are_averaged_weight_by_weight(benchmark_script, tmp_path):
    """A run's checkpoint (with its optimiser) and a pass's bare weights average to the mean of
    each float tensor; integer buffers are kept; weights of another model are refused."""
    import torch

    train_reader = benchmark_script("train_reader")
    first, second = tmp_path / "checkpoint.pt", tmp_path / "epoch-1.pt"
    torch.save(
        {"model": {"w": torch.tensor([1.0, 2.0]), "ids": torch.tensor([0, 1])}, "optimizer": {}},
        first,
    )
    torch.save({"w": torch.tensor([3.0, 6.0]), "ids": torch.tensor([0, 1])}, second)
    averaged = train_reader.averaged_weights([first, second])
    assert averaged["w"].tolist() == [2.0, 4.0]
    assert averaged["ids"].dtype == torch.int64
    assert train_reader.averaged_weights([second])["w"].tolist() == [3.0, 6.0]
    other = tmp_path / "other.pt"
    torch.save({"v": torch.tensor([1.0])}, other)
    with pytest.raises(SystemExit):
        train_reader.averaged_weights([first, other])


def test_the_options_that_reproduce_a_reader_are_those_off_the_parsers_defaults(
    benchmark_script,
):
    """The card's command: nothing for a run with the defaults; the recipe's other values (the
    starting reader by its version); for averaged weights, the checkpoints averaged."""
    train_reader = benchmark_script("train_reader")
    parser = train_reader.arguments()
    base = {"questions": None, "skip": 0, "epochs": 1, "lr": 1e-4, "batch": 16, "seed": 13}
    assert train_reader.options_to_reproduce(base, [], parser) == ""
    further = base | {
        "skip": 50000,
        "start_from": "3-5baf7c97",
        "lr": 3e-5,
        "low_overlap_repeats": 1,
    }
    assert train_reader.options_to_reproduce(further, [], parser) == (
        " --skip 50000 --lr 3e-05 --start-from DIR_OF_3-5baf7c97 --low-overlap-repeats 1"
    )
    averaged = ["reader-5/epoch-2.pt", "reader-7/epoch-1.pt"]
    assert train_reader.options_to_reproduce(further, averaged, parser) == (
        " --export-from reader-5/epoch-2.pt reader-7/epoch-1.pt"
    )


def test_int8_leaves_the_layers_that_cost_most_in_fp32_until_within_half_a_point(
    benchmark_script, tmp_path
):
    """A two-layer graph whose F1 stands in for the tune figures: quantising layer 1 costs
    more than layer 0, so layer 1 alone stays fp32."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    train_reader = benchmark_script("train_reader")
    weights = [np.random.default_rng(n).normal(size=(16, 16)).astype(np.float32) for n in (0, 1)]
    nodes = [
        helper.make_node("MatMul", ["x", "w0"], ["h"], name="/bert/encoder/layer.0/dense/MatMul"),
        helper.make_node("MatMul", ["h", "w1"], ["y"], name="/bert/encoder/layer.1/dense/MatMul"),
    ]
    graph = helper.make_graph(
        nodes,
        "two_layers",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])],
        [numpy_helper.from_array(w, f"w{n}") for n, w in enumerate(weights)],
    )
    fp32 = tmp_path / "reader-fp32.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(fp32))

    def figures_of(path):
        fp32_layers = {
            node.name.split("/")[3]
            for node in onnx.load(str(path)).graph.node
            if node.op_type == "MatMul"
        }
        cost = {"layer.0": 0.002, "layer.1": 0.008}
        return {"f1": 0.8 - sum(c for layer, c in cost.items() if layer not in fp32_layers)}

    int8, figures, kept = train_reader.int8_within_loss(fp32, tmp_path, figures_of, 2)
    assert kept == [1]
    assert figures["fp32"]["f1"] - figures["int8"]["f1"] == pytest.approx(0.002)
    ops = {node.name: node.op_type for node in onnx.load(str(int8)).graph.node}
    assert ops["/bert/encoder/layer.1/dense/MatMul"] == "MatMul"
    assert "MatMulInteger" in ops.values()
    assert not (tmp_path / "reader-int8-trial.onnx").exists()


def test_a_question_worded_unlike_its_answers_sentence_is_trained_on_more_often(
    benchmark_script,
):
    import random

    train_reader = benchmark_script("train_reader")
    squad = benchmark_script("squad_data")
    paragraph = (
        "Rostec was founded in 2007. It cut its advisers in Venezuela from 1,000 to a few dozen."
    )
    start = paragraph.index("a few dozen")
    reworded = "What is left of the team once sent to Caracas?"
    reused = "Advisers in Venezuela were cut from 1,000 to what?"
    assert train_reader.words_missing(reworded, paragraph, start) >= train_reader.LOW_OVERLAP
    assert train_reader.words_missing(reused, paragraph, start) == 0.0
    questions = [
        squad.Question(str(n), "Rostec", 0, text, "a few dozen", start)
        for n, text in enumerate((reworded, reused))
    ]
    bank = train_reader.ArticleBank({"Rostec": [paragraph]})
    examples = train_reader.make_examples(questions, bank, random.Random(0), 0.0, 0.0, 2)
    assert [e.question for e in examples] == [reworded] * 3 + [reused]
    assert [e.kind for e in examples].count("few words shared") == 2
    plain = train_reader.make_examples(questions, bank, random.Random(0), 0.0, 0.0)
    assert [e.question for e in plain] == [reworded, reused]
