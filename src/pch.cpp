// Anchor for the precompiled LibTorch headers shared by every target.
