// Evaluation preprocessing of images for backbones (resize, crop, scale, normalise).
