// SLIC superpixels with scikit-image 0.19 semantics.
