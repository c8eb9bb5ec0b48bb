"""The Inherent Interpretability Score (IIS) of vision representations, from Python.

A thin layer over the C++ library behind the ``iis`` tool: ``iis.fit`` is ``iis fit`` on
arrays (NumPy, or PyTorch CPU tensors through the array protocol) and returns what
``results.json`` holds; ``iis.score``, ``iis.kmeans``, ``iis.superpixels``, ``iis.elements`` and
``iis.embed`` are the tool's other commands. Computation runs with the GIL released; Ctrl-C
stops it (KeyboardInterrupt); errors are ``iis.Error``, a ValueError carrying the tool's
message and hint.
"""

import os as _os

__all__ = [
    "Error", "fit", "fit_options", "score", "kmeans", "superpixels", "elements", "embed",
    "set_threads", "threads", "__version__",
]


class Error(ValueError):
    """What the ``iis`` tool reports as ``error:`` (exit status 1): a bad input or option.

    ``message`` is the tool's error line, ``hint`` its ``hint:`` line (may be empty).
    """

    def __init__(self, message, hint=""):
        super().__init__(message, hint)
        self.message = message
        self.hint = hint

    def __str__(self):
        return self.message + ("\nhint: " + self.hint if self.hint else "")


from . import _iis  # noqa: E402  (Error must exist before the module translates errors)

__version__ = _iis.version
set_threads = _iis.set_threads
threads = _iis.threads


def fit_options():
    """Every keyword option of ``fit``: ``{name: (default, help)}``, from the tool's own table."""
    return _iis.fit_options()


def fit(train_x, train_y, val_x, val_y, concepts, concept_labels=None, *, out=None, quiet=False,
        **options):
    """``iis fit`` on arrays: trains the standard head and the interpretable head at every
    sparsity ratio and returns the dictionary ``results.json`` holds (IIS, accuracies per
    ratio, per seed, settings, timings).

    train_x, val_x: N×D and Nv×D float features; train_y, val_y: N and Nv integer labels;
    concepts: M×D float element vectors (None for a type without elements, e.g. text);
    concept_labels: M integer labels of the elements, or None. NumPy arrays or PyTorch CPU
    tensors; C-contiguous float32 features are read in place (no copy; do not change them while
    the fit runs), float16/float64 or strided ones are converted once.

    out: a folder to write what ``iis fit --out`` writes (and to resume from), or None to write
    nothing. quiet: no progress output (else as the tool shows it, on stderr).

    Options are the flags of ``iis fit`` with underscores, with the same defaults and checks:
    """
    arrays = (train_x, train_y, val_x, val_y, concepts, concept_labels)
    return _iis.fit(arrays, out, bool(quiet), options)


def _describe_options():
    lines = []
    for name, (default, text) in _iis.fit_options().items():
        lines.append(f"        {name} = {default!r}: {text}")
    return "\n" + "\n".join(lines) + "\n"


fit.__doc__ += _describe_options()


def score(results_or_paths):
    """``iis score --json``: one row per result (a results.json path, or a dict as ``fit``
    returns it) with standard accuracy, IIS ± std, chance-corrected IIS and the accuracy at
    each ratio. Returns ``{"results": [row, ...]}``."""
    items = results_or_paths
    if isinstance(items, (str, bytes, dict)) or isinstance(items, _os.PathLike):
        items = [items]
    return _iis.score(list(items))


def kmeans(x, k, **options):
    """``iis kmeans``: k-means (greedy k-means++, Lloyd) of the rows of x (M×D float).

    Options as the tool's flags with underscores (defaults as the tool's): seed,
    kmeans_max_elements, kmeans_tol, kmeans_max_iter, normalise; quiet.

    Returns ``{"centres": K×D float32 (unit rows with normalise), "labels": M int64,
    "sample": the rows clustered, "inertia", "iterations", "converged", "inertia_trace",
    "seconds"}``.
    """
    return _iis.kmeans(x, k, **options)


def superpixels(image, n_segments, **options):
    """``iis superpixels --out X.npy``: the SLIC label map (H×W int32, labels 0..n-1) of a
    uint8 H×W×3 RGB image (scikit-image 0.19 semantics). Options: compactness, sigma."""
    return _iis.superpixels(image, n_segments, **options)


def elements(data, out, **options):
    """``iis elements``: cuts concept candidates (SLIC segments or grid patches) from the
    images of ``data`` (an ImageFolder folder or IDX file) into the folder ``out``.

    Options as the tool's flags with underscores: kind ("segments" | "patches"),
    images_per_class, image_select ("first" | "random"), seed, scales, compactness, sigma,
    masks_per_scale, min_area, jaccard, fill, grid, patch_size, force, shard; quiet. Returns
    ``{"images", "images_resumed", "images_skipped", "elements", "seconds", "out"}``.

    shard: "i/n" cuts only the i-th (0-based) of n contiguous parts of the selected images,
    into the folder ``OUT.part<i>of<n>``; "auto" takes i and n from the launcher's environment
    (mpirun, srun, torchrun), as ``iis elements --shard auto``. Join the parts with
    ``iis merge --out OUT --wait``.
    """
    return _iis.elements(data, out, **options)


def embed(backbone, data, out, **options):
    """``iis embed``: representations of the images of ``data`` from ``backbone``
    (model.ts, clip:<archive.pt>, native:<arch>[@ckpt.pt]) written as OUT.features.npy,
    OUT.labels.npy, OUT.paths.txt, OUT.skipped.txt and OUT.embed.json.

    Options as the tool's flags with underscores: preset, preprocess_yaml, resize_size,
    crop_size, interpolation, mean, std, no_normalize, channels, batch_size, device, half,
    bf16, half_storage, workers, limit, shard; quiet. Returns ``{"embedded", "skipped",
    "feature_dim", "range", "seconds", "images_per_second", "preprocessing", "files"}``.

    shard: "i/n" embeds only the i-th (0-based) of n contiguous parts (whole batches) into the
    prefix ``out``; "auto" takes i and n from the launcher's environment (mpirun, srun,
    torchrun) and writes the prefix ``OUT.part<i>of<n>``, as ``iis embed --shard``. Join the
    parts with ``iis merge`` (``--out OUT --wait`` finds the ``auto`` ones).
    """
    return _iis.embed(backbone, data, out, **options)
