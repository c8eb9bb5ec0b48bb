"""Shared helpers of the Python module's tests: a small synthetic fit problem, the tool run on
the same data written as .npy files, and results compared figure by figure."""

import json
import os
import subprocess

import numpy as np
import pytest

TOOL = os.environ.get("IIS_TOOL", "")

# Settings small enough for a fit in about a second, large enough that heads learn something.
FIT_OPTIONS = dict(num_concepts=24, epochs=4, seeds=[0, 1], batch_size=64)
THREADS = 2


def tool_flags(options):
    """`iis fit` flags for keyword options."""
    flags = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            if value:
                flags.append(flag)
        elif isinstance(value, (list, tuple)):
            flags += [flag, ",".join(str(v) for v in value)]
        else:
            flags += [flag, str(value)]
    return flags


def make_problem(seed=0, n=480, nv=160, d=16, classes=4, m=120):
    """Gaussian classes in D dimensions: features, labels and element vectors (float32)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(classes, d)) * 1.5

    def split(rows):
        y = rng.integers(0, classes, size=rows)
        x = means[y] + rng.normal(size=(rows, d))
        return x.astype(np.float32), y.astype(np.int64)

    train_x, train_y = split(n)
    val_x, val_y = split(nv)
    concepts, concept_labels = split(m)
    return dict(train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y, concepts=concepts,
                concept_labels=concept_labels)


@pytest.fixture
def problem():
    return make_problem()


def run_tool(args, cwd):
    """The tool with the given arguments (after its global flags); its completed process."""
    if not TOOL:
        pytest.skip("IIS_TOOL is not set (run through ctest)")
    command = [TOOL, "--threads", str(THREADS), "--quiet"] + args
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True)


def write_inputs(folder, arrays):
    """Each array as an .npy file named as the argument of iis.fit (no extension), so that the
    tool's messages name the files as iis.fit's name the arrays."""
    for name, array in arrays.items():
        with open(os.path.join(folder, name), "wb") as f:
            np.save(f, array)


def input_flags(arrays):
    flags = {"train_x": "--train-features", "train_y": "--train-labels",
             "val_x": "--val-features", "val_y": "--val-labels", "concepts": "--concepts",
             "concept_labels": "--concept-labels"}
    out = []
    for name in arrays:
        out += [flags[name], name]
    return out


def tool_fit(folder, arrays, options):
    """`iis fit` on the arrays written into `folder`; results.json as a dict."""
    write_inputs(folder, arrays)
    done = run_tool(["fit"] + input_flags(arrays) + ["--out", "out"] + tool_flags(options),
                    cwd=folder)
    assert done.returncode == 0, done.stderr
    with open(os.path.join(folder, "out", "results.json")) as f:
        return json.load(f)


def figures(results):
    """results.json without what names or times the run: the inputs' paths and fingerprints,
    and every timing."""
    if isinstance(results, dict):
        return {k: figures(v) for k, v in results.items()
                if k not in ("inputs", "inputs_key", "timings", "seconds")
                and not k.endswith("_s")}
    if isinstance(results, list):
        return [figures(v) for v in results]
    return results
