"""The grader's own float64 maths for the multiscale RealNVP assignment.

Independent of the solutions notebook: the tests check the stored reference values against it, and the
hidden checks use it to recognise the classic wrong variants of an answer.
"""
import numpy as np
from ms_checks import LEVELS, conditioner_params, image_conditioner

ALPHA = 0.05  # the notebook's ALPHA (a test keeps the two equal)


def preprocess(pixels, noise, alpha=ALPHA):
    """(y, per-pixel log-derivative terms) of y = logit(alpha + (1 - 2 alpha) (pixels + noise) / 17)."""
    p = alpha + (1 - 2 * alpha) * (pixels + noise) / LEVELS
    y = np.log(p) - np.log1p(-p)
    terms = {"scale": np.log(1 - 2 * alpha) - np.log(LEVELS) + 0 * p, "logit": -np.log(p) - np.log1p(-p)}
    return y, terms


def checkerboard(height, width, orientation):
    i, j = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return ((i + j + orientation) % 2 == 0).astype("float64")[:, :, None]


def channel(channels, orientation):
    first = np.arange(channels) < channels // 2
    return (first if orientation == 0 else ~first).astype("float64")[None, None, :]


def squeeze(x, channel_major=False):
    """[..., H, W, C] -> [..., H/2, W/2, 4C]; output channel k*C + c is block position k of channel c."""
    *batch, h, w, c = x.shape
    blocks = x.reshape(*batch, h // 2, 2, w // 2, 2, c)
    n = len(batch)
    order = [*range(n), n, n + 2, n + 1, n + 3, n + 4]  # [..., H/2, W/2, 2 (row), 2 (col), C]
    blocks = blocks.transpose(order)
    if channel_major:  # the wrong order: c*4 + k
        blocks = np.moveaxis(blocks, -1, -3)
    return blocks.reshape(*batch, h // 2, w // 2, 4 * c)


def unsqueeze(y, channel_major=False):
    """The inverse of ``squeeze`` (with the same ``channel_major``): [..., H, W, 4C] -> [..., 2H, 2W, C]."""
    *batch, h, w, c4 = y.shape
    c, n = c4 // 4, len(batch)
    if channel_major:  # channel c*4 + k
        blocks = np.moveaxis(y.reshape(*batch, h, w, c, 2, 2), -3, -1)
    else:  # channel k*C + c
        blocks = y.reshape(*batch, h, w, 2, 2, c)
    blocks = blocks.transpose([*range(n), n, n + 2, n + 1, n + 3, n + 4])  # [..., H, row, W, col, C]
    return blocks.reshape(*batch, 2 * h, 2 * w, c)


def conditioner(channels, seed):
    """ms_checks' conditioner in float64: the same formula (``ms_checks.image_conditioner``), run with numpy."""
    a, b = conditioner_params(channels, seed)
    return lambda x: image_conditioner(x, a, b, np)


def coupling(x, mask, fn):
    """(forward, per-entry log-scale s) of the mask-based affine coupling."""
    t, s = fn(mask * x)
    return mask * x + (1 - mask) * (x * np.exp(s) + t), s


def coupling_inverse(y, mask, fn):
    t, s = fn(mask * y)
    return mask * y + (1 - mask) * ((y - t) * np.exp(-s))


def multiscale(x, seed):
    """(z, log-det) of the notebook's two-scale RealNVP on [N, H, W, C], with the grader's conditioners."""
    n, h, w, c = x.shape

    def net(ch):
        return conditioner(ch, seed + 7 * ch)

    total, hcur = np.zeros(n), x
    for k in range(3):
        mask = np.broadcast_to(checkerboard(h, w, k % 2), (h, w, c))
        hcur, s = coupling(hcur, mask, net(c))
        total += ((1 - mask) * s).sum(axis=(1, 2, 3))
    hcur = squeeze(hcur)
    for k in range(3):
        mask = np.broadcast_to(channel(4 * c, k % 2), (h // 2, w // 2, 4 * c))
        hcur, s = coupling(hcur, mask, net(4 * c))
        total += ((1 - mask) * s).sum(axis=(1, 2, 3))
    z1, hcur = hcur[..., :2 * c], hcur[..., 2 * c:]
    for k in range(4):
        mask = np.broadcast_to(checkerboard(h // 2, w // 2, k % 2), (h // 2, w // 2, 2 * c))
        hcur, s = coupling(hcur, mask, net(2 * c))
        total += ((1 - mask) * s).sum(axis=(1, 2, 3))
    return np.concatenate([z1.reshape(n, -1), hcur.reshape(n, -1)], axis=1), total
