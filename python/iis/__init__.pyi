# Type stubs of the iis package (python/iis/__init__.py). The keyword options and their defaults
# are the tool's (tests/python/test_stubs.py checks them against the module's own tables).
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

ArrayLike = npt.ArrayLike  # NumPy arrays, PyTorch CPU tensors, anything np.asarray takes
PathLike = Union[str, os.PathLike]
Floats = Union[float, Sequence[float]]
Seeds = Union[int, Sequence[int]]

class Error(ValueError):
    """A bad input or option, as the tool's `error:` line (message) and `hint:` line (hint)."""

    message: str
    hint: str
    def __init__(self, message: str, hint: str = ...) -> None: ...

def set_threads(n: int) -> int:
    """CPU threads of LibTorch and OpenCV (0: all cores, the default); returns the count."""

def threads() -> int:
    """The CPU thread count in effect."""

def fit_options() -> Dict[str, Tuple[Any, str]]:
    """Every keyword option of fit: {name: (default, help)}."""

def fit(
    train_x: ArrayLike,
    train_y: ArrayLike,
    val_x: ArrayLike,
    val_y: ArrayLike,
    concepts: Optional[ArrayLike],
    concept_labels: Optional[ArrayLike] = None,
    *,
    out: Optional[PathLike] = None,
    quiet: bool = False,
    num_concepts: int = 200,
    concept_type: str = "prototype",
    concept_select: str = "",
    kmeans_max_elements: int = 20000,
    kmeans_tol: float = 0.0001,
    kmeans_max_iter: int = 300,
    temperature: float = 0.1,
    clip_train_features: str = "",
    clip_val_features: str = "",
    text_features: str = "",
    concept_names: str = "",
    clip_cutoff: float = 0.25,
    interpretability_cutoff: float = 0.45,
    proj_steps: int = 1000,
    proj_batch_size: int = 50000,
    final_layer: str = "adam",
    saga_alpha: float = 0.99,
    saga_lambda: float = 0.0007,
    saga_step: float = 0.1,
    saga_epochs: int = 1000,
    saga_tol: float = 0.0001,
    saga_batch_size: int = 256,
    ratios: Floats = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.98],
    lrs: Floats = [0.01],
    epochs: int = 30,
    batch_size: int = 1024,
    seeds: Seeds = [0],
    device: str = "cpu",
    threshold: str = "strict",
    select_on: str = "val",
    holdout_fraction: float = 0.1,
    num_classes: int = 0,
    force: bool = False,
) -> Dict[str, Any]:
    """`iis fit` on arrays; returns what results.json holds (out=None writes nothing)."""

def score(
    results_or_paths: Union[PathLike, Dict[str, Any], Sequence[Union[PathLike, Dict[str, Any]]]]
) -> Dict[str, List[Dict[str, Any]]]:
    """`iis score --json` of results.json files or fit's dicts."""

def kmeans(
    x: ArrayLike,
    k: int,
    *,
    seed: int = 0,
    kmeans_max_elements: int = 20000,
    kmeans_tol: float = 0.0001,
    kmeans_max_iter: int = 300,
    normalise: bool = False,
    quiet: bool = False,
) -> Dict[str, Any]:
    """`iis kmeans` of the rows of x: centres, labels, sample, inertia, iterations, ..."""

def superpixels(
    image: ArrayLike, n_segments: int, *, compactness: float = 10.0, sigma: float = 1.0
) -> np.ndarray:
    """The SLIC label map (H×W int32) of a uint8 H×W×3 RGB image, as `iis superpixels`."""

def elements(
    data: PathLike,
    out: PathLike,
    *,
    kind: str = "segments",
    images_per_class: int = 10,
    image_select: str = "first",
    seed: int = 0,
    scales: Sequence[int] = [10, 20, 30],
    compactness: float = 10.0,
    sigma: float = 1.0,
    masks_per_scale: int = 5,
    min_area: float = 0.001,
    jaccard: float = 0.5,
    fill: int = 117,
    grid: int = 4,
    patch_size: int = 224,
    force: bool = False,
    shard: str = "",
    quiet: bool = False,
) -> Dict[str, Any]:
    """`iis elements`: concept candidates cut from a dataset's images into `out`
    (shard "i/n" or "auto": only that part, into OUT.part<i>of<n>)."""

def embed(
    backbone: PathLike,
    data: PathLike,
    out: PathLike,
    *,
    preset: str = "",
    preprocess_yaml: str = "",
    resize_size: int = -1,
    crop_size: int = -1,
    interpolation: str = "",
    mean: Sequence[float] = [],
    std: Sequence[float] = [],
    no_normalize: bool = False,
    channels: int = 0,
    batch_size: int = 64,
    device: str = "cpu",
    half: bool = False,
    bf16: bool = False,
    half_storage: bool = False,
    workers: int = 0,
    limit: int = 0,
    shard: str = "",
    quiet: bool = False,
) -> Dict[str, Any]:
    """`iis embed`: a dataset's representations written as OUT.features.npy and the rest
    (shard "i/n": only that part, into OUT; "auto": from the launcher, into OUT.part<i>of<n>)."""
