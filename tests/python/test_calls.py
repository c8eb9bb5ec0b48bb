"""iis.superpixels, iis.kmeans, iis.score, iis.elements and iis.embed against the tool's
subcommands on the same inputs."""

import json
import os

import numpy as np
import pytest

import iis
from conftest import FIT_OPTIONS, THREADS, make_problem, run_tool, tool_fit

FASHION = os.environ.get("IIS_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"


@pytest.fixture(autouse=True)
def same_threads():
    iis.set_threads(THREADS)


def smooth_image(h=72, w=96, seed=0):
    """A uint8 RGB image with regions and noise: something for SLIC to segment."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    image = np.stack([128 + 100 * np.sin(x / 9.0 + c) * np.cos(y / 13.0 - c) for c in range(3)],
                     axis=-1)
    image += rng.normal(scale=12, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("n_segments,compactness,sigma", [(20, 10, 1), (50, 5, 0), (7, 20, 2)])
def test_superpixels_equal_the_tools_label_map(tmp_path, n_segments, compactness, sigma):
    Image = pytest.importorskip("PIL.Image")
    image = smooth_image()
    Image.fromarray(image).save(tmp_path / "image.png")
    done = run_tool(["superpixels", "image.png", "--n-segments", str(n_segments),
                     "--compactness", str(compactness), "--sigma", str(sigma), "--out",
                     "labels.npy"], cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    expected = np.load(tmp_path / "labels.npy")
    got = iis.superpixels(image, n_segments, compactness=compactness, sigma=sigma)
    assert got.dtype == np.int32 and got.shape == image.shape[:2]
    assert got.max() > 2
    np.testing.assert_array_equal(got, expected)
    # A strided view of the same pixels is the same image.
    wide = np.zeros((image.shape[0], image.shape[1] * 2, 3), np.uint8)
    wide[:, ::2] = image
    np.testing.assert_array_equal(iis.superpixels(wide[:, ::2], n_segments,
                                                  compactness=compactness, sigma=sigma), expected)


def test_superpixels_refused_as_the_tool_refuses(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    image = smooth_image()
    Image.fromarray(image).save(tmp_path / "image.png")
    done = run_tool(["superpixels", "image.png", "--n-segments", "0", "--out", "l.npy"],
                    cwd=str(tmp_path))
    assert done.returncode == 1
    with pytest.raises(iis.Error) as raised:
        iis.superpixels(image, 0)
    assert "error: " + raised.value.message == done.stderr.splitlines()[0]
    with pytest.raises(iis.Error, match="expected a uint8 H×W×3 RGB array"):
        iis.superpixels(image.astype(np.float32), 10)
    with pytest.raises(iis.Error, match="expected a uint8 H×W×3 RGB array"):
        iis.superpixels(image[:, :, 0], 10)


@pytest.mark.parametrize("normalise", [False, True])
def test_kmeans_equals_the_tool(tmp_path, normalise):
    x = make_problem()["concepts"]
    np.save(tmp_path / "x.npy", x)
    args = ["kmeans", "--elements", "x.npy", "--out", "c.npy", "--labels", "l.npy", "--k", "7",
            "--seed", "3", "--kmeans-max-elements", "100"]
    done = run_tool(args + (["--normalise"] if normalise else []), cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    got = iis.kmeans(x, 7, seed=3, kmeans_max_elements=100, normalise=normalise)
    np.testing.assert_array_equal(got["centres"], np.load(tmp_path / "c.npy"))
    np.testing.assert_array_equal(got["labels"], np.load(tmp_path / "l.npy"))
    assert got["inertia"] == summary["inertia"]
    assert got["iterations"] == summary["iterations"]
    assert len(got["sample"]) == summary["clustered_rows"] == 100
    if normalise:
        np.testing.assert_allclose(np.linalg.norm(got["centres"], axis=1), 1, rtol=1e-5)


def test_kmeans_refused_as_the_tool_refuses(tmp_path):
    x = make_problem()["concepts"]
    np.save(tmp_path / "x.npy", x)
    done = run_tool(["kmeans", "--elements", "x.npy", "--out", "c.npy", "--k", "0"],
                    cwd=str(tmp_path))
    assert done.returncode == 1
    with pytest.raises(iis.Error) as raised:
        iis.kmeans(x, 0)
    assert "error: " + raised.value.message == done.stderr.splitlines()[0]


def test_score_equals_the_tool(tmp_path, monkeypatch):
    results = tool_fit(str(tmp_path), make_problem(), FIT_OPTIONS)
    done = run_tool(["score", "--json", "out/results.json"], cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    expected = json.loads(done.stdout)["results"][0]
    monkeypatch.chdir(tmp_path)  # the file named as the tool was given it
    from_file = iis.score(os.path.join("out", "results.json"))["results"][0]
    from_dict = iis.score([results])["results"][0]
    assert from_file == expected
    assert from_dict == dict(expected, file="results[0]")
    assert from_dict["iis"] == results["iis"]


def test_score_of_a_missing_file(tmp_path):
    done = run_tool(["score", "missing.json"], cwd=str(tmp_path))
    assert done.returncode == 1
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(iis.Error) as raised:
            iis.score("missing.json")
    finally:
        os.chdir(old)
    assert "error: " + raised.value.message == done.stderr.splitlines()[0]


def fashion_images():
    path = os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")
    if not os.path.exists(path):
        if os.environ.get("IIS_REQUIRE_DATA") == "1":
            pytest.fail(f"{path} is missing: apt-get install dataset-fashion-mnist")
        pytest.skip(f"{path} is missing (dataset-fashion-mnist)")
    return path


def read_folder(folder):
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            if name == "elements.json":  # holds the run's time
                continue
            with open(os.path.join(root, name), "rb") as f:
                files[os.path.relpath(os.path.join(root, name), folder)] = f.read()
    return files


def test_elements_equal_the_tool(tmp_path):
    data = fashion_images()
    done = run_tool(["elements", "--data", data, "--kind", "segments", "--images-per-class", "1",
                     "--out", "tool"], cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    got = iis.elements(data, tmp_path / "py", kind="segments", images_per_class=1, quiet=True)
    assert got["images"] == 10 and got["elements"] > 10
    tool_files, py_files = read_folder(tmp_path / "tool"), read_folder(tmp_path / "py")
    assert sorted(tool_files) == sorted(py_files)
    assert tool_files == py_files


def test_embed_equals_the_tool(tmp_path):
    data = fashion_images()
    done = run_tool(["embed", "--backbone", "native:mlp", "--data", data, "--limit", "96",
                     "--batch-size", "32", "--out", "tool"], cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    got = iis.embed("native:mlp", data, tmp_path / "py", limit=96, batch_size=32, quiet=True)
    assert got["embedded"] == 96
    for suffix in ("features.npy", "labels.npy"):
        np.testing.assert_array_equal(np.load(tmp_path / f"py.{suffix}"),
                                      np.load(tmp_path / f"tool.{suffix}"))


def test_elements_refused_as_the_tool_refuses(tmp_path):
    data = fashion_images()
    done = run_tool(["elements", "--data", data, "--kind", "patches", "--grid", "0", "--out",
                     "tool"], cwd=str(tmp_path))
    assert done.returncode == 1
    with pytest.raises(iis.Error) as raised:
        iis.elements(data, tmp_path / "py", kind="patches", grid=0)
    assert "error: " + raised.value.message == done.stderr.splitlines()[0]
