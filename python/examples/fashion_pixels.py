"""IIS of Fashion-MNIST's pixels as a representation (the README's Python example)."""
import gzip
import numpy as np
import iis

def idx(name):  # an IDX file of Debian's dataset-fashion-mnist
    with gzip.open(f"/usr/share/datasets/fashion-mnist/{name}-ubyte.gz") as f:
        data = f.read()
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * data[3]).reshape(shape)

train_x = idx("train-images-idx3")[:10000].reshape(10000, -1) / np.float32(255)
train_y = idx("train-labels-idx1")[:10000].astype(np.int64)
val_x = idx("t10k-images-idx3").reshape(10000, -1) / np.float32(255)
val_y = idx("t10k-labels-idx1").astype(np.int64)

r = iis.fit(train_x, train_y, val_x, val_y, train_x[:2000], train_y[:2000], epochs=10)
print(f"accuracy {r['standard_accuracy']:.3f}, IIS {r['iis']:.3f}")
for ratio in r["ratios"]:
    print(f"  r = {ratio['ratio']:<5} kept {ratio['kept']:>3}  top-1 {ratio['top1']:.3f}")
