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


# Every variable a launcher sets (core/launcher.cpp): a test of shard="auto" sets its own.
LAUNCHER_VARIABLES = [
    "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "PMI_RANK",
    "PMI_SIZE", "MPI_LOCALRANKID", "RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID",
    "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_STEP"]


@pytest.fixture
def no_launcher(monkeypatch):
    """A process environment without any launcher's variables (the tool run by a test inherits
    it)."""
    for name in LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def write_idx(folder, n, seed=0):
    """FOLDER/tiny-images-idx3-ubyte with n random 28×28 images, and its labels (0..3) beside:
    a dataset small enough to split into a few shards."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 4).astype(np.uint8)
    path = os.path.join(folder, "tiny-images-idx3-ubyte")
    with open(path, "wb") as f:
        f.write((0x803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in images.shape))
        f.write(images.tobytes())
    with open(os.path.join(folder, "tiny-labels-idx1-ubyte"), "wb") as f:
        f.write((0x801).to_bytes(4, "big") + n.to_bytes(4, "big") + labels.tobytes())
    return path


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


EMBED_FILES = ("features.npy", "labels.npy", "paths.txt", "skipped.txt")


def test_embed_shards_merge_into_the_bytes_of_one_run(tmp_path, no_launcher):
    data = write_idx(str(tmp_path), 40)
    options = dict(batch_size=8, quiet=True)
    one = iis.embed("native:mlp", data, tmp_path / "one", **options)
    assert one["embedded"] == 40
    # i/n: each part into the prefix given, then merged by naming them.
    parts = []
    for i in (1, 0):
        part = iis.embed("native:mlp", data, tmp_path / f"part{i}", shard=f"{i}/2", **options)
        assert part["range"] == ((0, 16), (16, 40))[i]  # 5 batches of 8: 2 and 3
        parts.append(f"part{i}")
    done = run_tool(["merge", "--out", "merged"] + parts, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    # auto: i and n from torchrun's variables, each part into OUT.part<i>of<n>, found by --wait.
    # Seven processes for five batches: parts 0 and 3 are empty, and merge all the same.
    for i in range(7):
        no_launcher.setenv("RANK", str(i))
        no_launcher.setenv("WORLD_SIZE", "7")
        part = iis.embed("native:mlp", data, tmp_path / "auto", shard="auto", **options)
        assert part["files"][0] == str(tmp_path / f"auto.part{i}of7.features.npy")
        assert (part["embedded"] == 0) == (i in (0, 3)), i
    no_launcher.delenv("RANK")
    no_launcher.delenv("WORLD_SIZE")
    done = run_tool(["merge", "--out", "auto", "--wait", "--timeout", "60"], cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    for prefix in ("merged", "auto"):
        for suffix in EMBED_FILES:
            assert read_bytes(tmp_path / f"{prefix}.{suffix}") == \
                read_bytes(tmp_path / f"one.{suffix}"), f"{prefix}.{suffix}"


def test_elements_shards_merge_into_the_folder_of_one_run(tmp_path, no_launcher):
    data = write_idx(str(tmp_path), 20)
    # Four images selected (the first of each class), five Slurm tasks: one has none.
    options = dict(kind="patches", grid=2, patch_size=14, images_per_class=1, quiet=True)
    one = iis.elements(data, tmp_path / "one", **options)
    assert one["images"] == 4 and one["elements"] == 16
    images = []
    for task in (4, 0, 2, 1, 3):
        no_launcher.setenv("SLURM_PROCID", str(task))
        no_launcher.setenv("SLURM_NTASKS", "5")
        part = iis.elements(data, tmp_path / "els", shard="auto", **options)
        assert part["out"] == str(tmp_path / f"els.part{task}of5")
        images.append(part["images"])
    assert images == [1, 0, 1, 1, 1]  # task i of 5 holds the images [4i/5, 4(i+1)/5)
    no_launcher.delenv("SLURM_PROCID")
    no_launcher.delenv("SLURM_NTASKS")
    done = run_tool(["merge", "--out", "els", "--wait", "--timeout", "60"], cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "merged 5 shards: 16 elements" in done.stdout
    merged, expected = read_folder(tmp_path / "els"), read_folder(tmp_path / "one")
    assert sorted(merged) == sorted(expected)
    assert merged == expected


@pytest.mark.parametrize("command", ["embed", "elements"])
@pytest.mark.parametrize("shard", ["2/2", "1/x", "auto"])
def test_bad_shards_refused_as_the_tool_refuses(tmp_path, no_launcher, command, shard):
    data = write_idx(str(tmp_path), 8)
    if command == "embed":
        args = ["embed", "--backbone", "native:mlp", "--data", data]
        call = lambda: iis.embed("native:mlp", data, tmp_path / "py", shard=shard)  # noqa: E731
    else:
        args = ["elements", "--data", data, "--kind", "patches"]
        call = lambda: iis.elements(data, tmp_path / "py", kind="patches", shard=shard)  # noqa
    done = run_tool(args + ["--out", "tool", "--shard", shard], cwd=str(tmp_path))
    assert done.returncode == 1, done.stderr
    with pytest.raises(iis.Error) as raised:
        call()
    assert "error: " + raised.value.message == done.stderr.splitlines()[0]
    assert "--shard" in raised.value.message
