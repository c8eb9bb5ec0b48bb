"""The README's Python example is python/examples/fashion_pixels.py, and it runs."""

import os
import re
import subprocess
import sys

import pytest

SOURCE = os.environ.get("IIS_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
EXAMPLE = os.path.join(SOURCE, "python", "examples", "fashion_pixels.py")


def test_readme_shows_the_example():
    with open(os.path.join(SOURCE, "README.md")) as f:
        readme = f.read()
    with open(EXAMPLE) as f:
        example = f.read()
    code = example.split('"""\n', 2)[-1]  # without its docstring
    assert "```python\n" + code + "```" in readme


def test_example_runs():
    if not os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
        if os.environ.get("IIS_REQUIRE_DATA") == "1":
            pytest.fail("Fashion-MNIST is missing: apt-get install dataset-fashion-mnist")
        pytest.skip("Fashion-MNIST is missing (dataset-fashion-mnist)")
    done = subprocess.run([sys.executable, EXAMPLE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    match = re.fullmatch(r"accuracy (\d\.\d{3}), IIS (\d\.\d{3})", first)
    assert match, first
    accuracy, score = float(match[1]), float(match[2])
    assert 0.75 < accuracy < 0.95  # a linear probe on pixels
    assert 0.5 < score < 1.1
    assert len(done.stdout.splitlines()) == 1 + 8  # one line per default ratio
