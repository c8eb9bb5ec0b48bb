"""iis.fit against `iis fit` on the same data, and its inputs: float16, strided, PyTorch
tensors, nothing written with out=None, the arrays left as they were."""

import json
import os
import threading
import time

import numpy as np
import pytest

import iis
from conftest import FIT_OPTIONS, THREADS, figures, make_problem, tool_fit


@pytest.fixture(autouse=True)
def same_threads():
    iis.set_threads(THREADS)


@pytest.mark.parametrize("concept_type", ["prototype", "cluster", "end2end"])
def test_fit_equals_the_tool(tmp_path, problem, concept_type):
    options = dict(FIT_OPTIONS, concept_type=concept_type)
    expected = tool_fit(str(tmp_path), problem, options)
    got = iis.fit(**problem, quiet=True, **options)
    assert figures(got) == figures(expected)
    # The figures are those of a fit that learnt something (not two equal failures).
    assert got["standard_accuracy"] > 0.6
    assert len(got["per_seed"]) == 2
    # The arrays are named where paths would stand, with their shapes.
    assert got["inputs"]["train_features"]["path"] == "train_x"
    assert got["inputs"]["train_features"]["shape"] == [480, 16]
    assert got["inputs"]["concept_labels"]["shape"] == [120]


def test_without_concept_labels(tmp_path, problem):
    del problem["concept_labels"]
    expected = tool_fit(str(tmp_path), problem, FIT_OPTIONS)
    got = iis.fit(**problem, quiet=True, **FIT_OPTIONS)
    assert figures(got) == figures(expected)


def test_out_none_writes_nothing(tmp_path, problem, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    iis.fit(**problem, quiet=True, **FIT_OPTIONS)
    assert os.listdir(scratch) == []
    assert sorted(os.listdir(tmp_path)) == before


def test_out_writes_what_the_tool_writes(tmp_path, problem):
    out = tmp_path / "fit"
    got = iis.fit(**problem, out=out, quiet=True, **FIT_OPTIONS)
    with open(out / "results.json") as f:
        assert json.load(f) == got
    for name in ("curve.csv", "epochs.csv", "concepts.npy", "fit_inputs.json"):
        assert (out / name).is_file()
    # A second fit of the same arrays into the same folder reuses the seeds.
    again = iis.fit(**problem, out=str(out), quiet=True, **FIT_OPTIONS)
    assert figures(again) == figures(got)
    # Other arrays are refused there, as the tool refuses other files.
    other = make_problem(seed=1)
    with pytest.raises(iis.Error, match="holds results of different inputs"):
        iis.fit(**other, out=out, quiet=True, **FIT_OPTIONS)


def test_float16_is_read_as_its_float32_values(problem):
    half = {k: (v.astype(np.float16) if v.dtype == np.float32 else v) for k, v in problem.items()}
    widened = {k: (v.astype(np.float32) if v.dtype == np.float16 else v) for k, v in half.items()}
    got = iis.fit(**half, quiet=True, **FIT_OPTIONS)
    expected = iis.fit(**widened, quiet=True, **FIT_OPTIONS)
    assert figures(got) == figures(expected)
    assert got["inputs"]["train_features"]["fingerprint"] == \
        expected["inputs"]["train_features"]["fingerprint"]


def test_strided_and_fortran_arrays(problem):
    expected = iis.fit(**problem, quiet=True, **FIT_OPTIONS)
    strided = {}
    for name, array in problem.items():
        wide = np.zeros((array.shape[0] * 2,) + array.shape[1:], array.dtype)
        wide[::2] = array
        strided[name] = wide[::2]
        assert not strided[name].flags.c_contiguous
    strided["val_x"] = np.asfortranarray(problem["val_x"])
    got = iis.fit(**strided, quiet=True, **FIT_OPTIONS)
    assert figures(got) == figures(expected)


def test_reversed_rows_are_other_data(problem):
    # A negative stride (which a tensor cannot view) is converted, not misread.
    flipped = dict(problem)
    flipped["train_x"] = problem["train_x"][::-1]
    flipped["train_y"] = problem["train_y"][::-1]
    expected = dict(problem)
    expected["train_x"] = np.ascontiguousarray(problem["train_x"][::-1])
    expected["train_y"] = np.ascontiguousarray(problem["train_y"][::-1])
    assert figures(iis.fit(**flipped, quiet=True, **FIT_OPTIONS)) == \
        figures(iis.fit(**expected, quiet=True, **FIT_OPTIONS))


def test_torch_tensors(problem):
    torch = pytest.importorskip("torch")
    tensors = {k: torch.from_numpy(v.copy()) for k, v in problem.items()}
    got = iis.fit(**tensors, quiet=True, **FIT_OPTIONS)
    assert figures(got) == figures(iis.fit(**problem, quiet=True, **FIT_OPTIONS))
    x = tensors["train_x"]
    assert iis._iis._feature_data_address(x) == x.data_ptr()


def test_zero_copy_only_for_c_order_float32(problem):
    x = problem["train_x"]
    assert iis._iis._feature_data_address(x) == x.ctypes.data
    assert iis._iis._feature_data_address(x.astype(np.float16)) != x.ctypes.data
    assert iis._iis._feature_data_address(x[:, ::2]) != x.ctypes.data


def test_inputs_are_left_unchanged(problem):
    copies = {k: v.copy() for k, v in problem.items()}
    iis.fit(**problem, quiet=True, **dict(FIT_OPTIONS, concept_type="end2end"))
    for name, array in problem.items():
        np.testing.assert_array_equal(array, copies[name])


def test_another_thread_runs_during_a_fit(problem):
    # The GIL is released while the library computes: a Python thread keeps ticking.
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.005)

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        start = time.monotonic()
        iis.fit(**problem, quiet=True, **dict(FIT_OPTIONS, epochs=40, concept_type="end2end"))
        end = time.monotonic()
    finally:
        stop.set()
        ticker.join()
    assert end - start > 0.5, "the fit was too short to tell"
    during = [t for t in ticks if start < t < end]
    gaps = np.diff([start] + during + [end])
    # Held for the whole fit, the GIL would leave one gap as long as the fit.
    assert gaps.max() < 0.25 * (end - start), (gaps.max(), end - start)
    assert len(during) >= 10


def test_two_fits_at_once(capfd):
    # Each gives the figures it gives alone, and neither ending makes the other's progress show.
    problems = [make_problem(seed=0), make_problem(seed=1)]
    options = dict(FIT_OPTIONS, concept_type="end2end")
    alone = [iis.fit(**p, quiet=True, **options) for p in problems]
    capfd.readouterr()
    together = [None, None]

    def run(i, epochs):
        together[i] = iis.fit(**problems[i], quiet=True, **dict(options, epochs=epochs))

    threads = [threading.Thread(target=run, args=(0, 4)), threading.Thread(target=run, args=(1, 40))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert figures(together[0]) == figures(alone[0])
    assert together[1]["settings"]["epochs"] == 40
    assert capfd.readouterr().err == ""
