"""Every bad input `iis fit` refuses (exit status 1), iis.fit refuses with the same message and
hint, as iis.Error (a ValueError); and what only Python can get wrong."""

import numpy as np
import pytest

import iis
from conftest import FIT_OPTIONS, input_flags, make_problem, run_tool, tool_flags, write_inputs


def with_value(name, row, value):
    def change(arrays):
        arrays[name] = arrays[name].copy()
        arrays[name][row] = value
    return change


def replace(name, array):
    def change(arrays):
        arrays[name] = array(arrays[name])
    return change


def drop(name):
    def change(arrays):
        del arrays[name]
    return change


# (id, change to the arrays, options over FIT_OPTIONS)
CASES = [
    ("nan_feature", with_value("train_x", 3, np.nan), {}),
    ("inf_val_feature", with_value("val_x", 7, np.inf), {}),
    ("negative_label", with_value("train_y", 5, -1), {}),
    ("float_label", replace("val_y", lambda y: y.astype(np.float64) + 0.5), {}),
    ("bool_labels", replace("val_y", lambda y: y > 1), {}),
    ("features_1d", replace("train_x", lambda x: x[:, 0].copy()), {}),
    ("labels_2d", replace("train_y", lambda y: y.reshape(-1, 2)), {}),
    ("integer_features", replace("val_x", lambda x: x.astype(np.int32)), {}),
    ("empty_features", replace("train_x", lambda x: x[:0]), {}),
    ("label_count", replace("train_y", lambda y: y[:-1]), {}),
    ("dimension", replace("val_x", lambda x: x[:, :-1].copy()), {}),
    ("concept_dimension", replace("concepts", lambda x: x[:, :-2].copy()), {}),
    ("concept_label_count", replace("concept_labels", lambda y: y[:-3]), {}),
    ("concept_label_range", with_value("concept_labels", 2, 9), {}),
    ("val_label_range", with_value("val_y", 4, 4), {}),
    ("stray_label", with_value("train_y", 0, 1000), {}),
    ("no_concepts", drop("concepts"), {}),
    ("too_many_concepts", None, {"num_concepts": 500}),
    ("zero_concepts", None, {"num_concepts": 0}),
    ("ratios_fall", None, {"ratios": [0.5, 0.1]}),
    ("ratio_one", None, {"ratios": [0, 1.0]}),
    ("ratio_twice", None, {"ratios": [0.1, 0.1]}),
    ("zero_epochs", None, {"epochs": 0}),
    ("zero_batch", None, {"batch_size": 0}),
    ("negative_lr", None, {"lrs": [-0.1]}),
    ("seed_twice", None, {"seeds": [1, 1]}),
    ("threshold", None, {"threshold": "loose"}),
    ("select_on", None, {"select_on": "train"}),
    ("holdout_fraction", None, {"select_on": "holdout", "holdout_fraction": 1.5}),
    ("one_class", None, {"num_classes": 1}),
    ("too_few_classes", None, {"num_classes": 3}),
    ("concept_type", None, {"concept_type": "prototypes"}),
    ("device", None, {"device": "tpu"}),
    ("temperature", None, {"concept_type": "end2end", "temperature": 0}),
    ("kmeans_max_iter", None, {"concept_type": "cluster", "kmeans_max_iter": 0}),
]


@pytest.mark.parametrize("change,options", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_as_the_tool_refuses(tmp_path, change, options):
    arrays = make_problem()
    if change:
        change(arrays)
    options = dict(FIT_OPTIONS, **options)
    write_inputs(str(tmp_path), arrays)
    done = run_tool(["fit"] + input_flags(arrays) + ["--out", "out"] + tool_flags(options),
                    cwd=str(tmp_path))
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: "), done.stderr
    message, hint = lines[0][len("error: "):], lines[1][len("hint: "):]
    with pytest.raises(iis.Error) as raised:
        iis.fit(arrays.pop("train_x"), arrays.pop("train_y"), arrays.pop("val_x"),
                arrays.pop("val_y"), arrays.pop("concepts", None), out=None, quiet=True,
                **arrays, **options)
    assert raised.value.message == message
    assert raised.value.hint == hint
    assert isinstance(raised.value, ValueError)
    assert str(raised.value) == message + "\nhint: " + hint


def test_a_bad_row_of_a_strided_array_is_named_as_in_c_order(problem):
    x = problem["val_x"].copy()
    x[7, 3] = np.nan
    with pytest.raises(iis.Error) as in_c_order:
        iis.fit(**dict(problem, val_x=x), quiet=True)
    assert "row 7 holds NaN or Inf" in in_c_order.value.message
    for strided in (np.asfortranarray(x), np.repeat(x, 2, axis=1)[:, ::2],
                    x.astype(np.float16)[:, :]):
        with pytest.raises(iis.Error) as raised:
            iis.fit(**dict(problem, val_x=strided), quiet=True)
        assert raised.value.message == in_c_order.value.message


def test_unknown_option_names_the_nearest(problem):
    with pytest.raises(iis.Error) as raised:
        iis.fit(**problem, quiet=True, epoch=3)
    assert raised.value.message == "iis.fit has no option 'epoch'"
    assert "'epochs'" in raised.value.hint


def test_paths_are_not_options(problem):
    with pytest.raises(iis.Error, match="no option 'train_features'"):
        iis.fit(**problem, quiet=True, train_features="x.npy")


@pytest.mark.parametrize("options,text", [
    ({"epochs": 2.5}, "epochs=2.5 is not an integer"),
    ({"epochs": True}, "epochs=True is not an integer"),
    ({"seeds": [-1]}, "seeds=-1 is not a list of non-negative integers"),
    ({"force": 1}, "force=1 is not True or False"),
    ({"threshold": 3}, "threshold=3 is not a string"),
    ({"ratios": ["a"]}, "ratios='a' is not a list of numbers"),
])
def test_wrong_python_types(problem, options, text):
    with pytest.raises(iis.Error) as raised:
        iis.fit(**problem, quiet=True, **options)
    assert raised.value.message == text


def test_non_numbers_are_refused(problem):
    problem["train_y"] = np.array(["a"] * len(problem["train_y"]))
    with pytest.raises(iis.Error, match="train_y: an array of <U1 is not numbers"):
        iis.fit(**problem, quiet=True)


def test_single_values_for_lists(problem):
    got = iis.fit(**problem, quiet=True, **dict(FIT_OPTIONS, seeds=3, lrs=0.02))
    assert got["seeds"] == [3]
    assert got["settings"]["lrs"] == [0.02]
