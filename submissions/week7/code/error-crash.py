"""Week 7, code part: conv2d raises an exception."""

import numpy as np

STUDENT = "s-code-crash"


def _cross_correlate(image, filters, stride=1, padding=0):
    image = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    f = filters.shape[0]
    rows = (image.shape[0] - f) // stride + 1
    cols = (image.shape[1] - f) // stride + 1
    out = np.zeros((rows, cols, filters.shape[3]))
    for i in range(rows):
        for j in range(cols):
            patch = image[i * stride : i * stride + f, j * stride : j * stride + f, :]
            out[i, j] = np.tensordot(patch, filters, axes=([0, 1, 2], [0, 1, 2]))
    return out


def conv2d(image, filters, stride=1, padding=0):
    f, _, c, k = filters.shape
    return _cross_corelate(image, filters, stride, padding)  # misspelled: a NameError on every call


def max_pool(x, size, stride):
    rows = (x.shape[0] - size) // stride + 1
    cols = (x.shape[1] - size) // stride + 1
    out = np.zeros((rows, cols, x.shape[2]))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = x[i * stride : i * stride + size, j * stride : j * stride + size].max(axis=(0, 1))
    return out


def grad_w(image, w, b, v, target):
    a = _cross_correlate(image, w) + b
    h = 1 / (1 + np.exp(-a))
    y = np.tensordot(h, v, axes=3)
    dy = -(target - y)
    da = np.tensordot(v, dy, axes=([3], [0])) * h * (1 - h)
    f = w.shape[0]
    rows, cols = da.shape[:2]
    dw = np.zeros_like(w)
    for x in range(f):
        for y_ in range(f):
            dw[x, y_] = np.tensordot(image[x : x + rows, y_ : y_ + cols, :], da, axes=([0, 1], [0, 1]))
    return dw


def adjoints(x1, x2, theta):
    c = np.cos(theta * x1 + x2)
    return {
        "f6": 1.0, "f3": 1.0, "f5": 1.0, "f2": c, "f1": c, "f4": theta,
        "theta": x1 * c + x2**2, "x1": theta * c, "x2": c + 2 * theta * x2,
    }
