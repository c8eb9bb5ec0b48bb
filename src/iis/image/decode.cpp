// Decoding image files of any common format into 8-bit RGB.
