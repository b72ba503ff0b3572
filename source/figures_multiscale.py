"""The figures of the multiscale assignment (realnvp_multiscale): its own sizes, orientations and channel order
(8x8 digits, two scales). Drawn by ``make_figures.py`` (``make figures``).
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from figure_drawing import CHANGE, COPY, arrow, blank, box, checkerboard, draw_tensor, legend, save  # noqa: E402

MS = "realnvp_multiscale"


def _grey(ax, start):
    for p in ax.patches[start:]:
        p.set_facecolor("#f0f0f0")


def ms_checkerboard_mask():
    """checkerboard_mask(8, 8, orientation): shape [8, 8, 1], 1 where row + column + orientation is even."""
    fig, ax = plt.subplots(figsize=(10, 4.6))
    blank(ax, (-0.5, 11.5), (-1.9, 4.9))
    for k in range(2):
        ox = 6.6 * k
        draw_tensor(ax, checkerboard(8, 8, k)[:, :, None], (ox, 0), cell=0.45,
                     title=f"checkerboard_mask(8, 8, {k}), shape [8, 8, 1]\n"
                           + ("1 where row + column is even" if k == 0 else "the complement: orientation 1"))
        ax.text(ox, 3.7, "$\\downarrow$ row 0, column 0", fontsize=8, ha="left", va="bottom")
    legend(ax, 0.0, 4.6)
    ax.text(5.5, -1.75, "the single channel axis broadcasts: every channel of a [..., 8, 8, C] batch gets the "
            "same mask", ha="center", fontsize=9)
    save(fig, "checkerboard_mask", MS)


def ms_channel_mask():
    """channel_mask(4, orientation) on the [4, 4, 4] tensor after the squeeze: shape [1, 1, 4]."""
    fig, ax = plt.subplots(figsize=(9.5, 4.4))
    blank(ax, (-0.5, 10.5), (-1.9, 4.6))
    for k in range(2):
        first_half = np.arange(4) < 2
        kept = first_half if k == 0 else ~first_half
        ox = 5.6 * k
        draw_tensor(ax, np.broadcast_to(kept.astype(int), (4, 4, 4)), (ox, 0), cell=0.55, depth_offset=(0.3, 0.3),
                     title=f"channel_mask(4, {k}), shape [1, 1, 4]\n"
                           + ("1 on channels 1-2 (front), 0 on 3-4" if k == 0 else "the complement: 1 on channels 3-4"))
    legend(ax, 0.0, 4.3)
    ax.text(5.0, -1.75, "on a squeezed [4, 4, 4] image: the same channels are copied at every pixel",
            ha="center", fontsize=9)
    save(fig, "channel_mask", MS)


def ms_squeeze():
    """A 4x4x1 image numbered 1..16 (the notebook's squeeze-demo) and its squeeze, in space_to_depth order."""
    fig, ax = plt.subplots(figsize=(11.5, 4.6))
    blank(ax, (-0.3, 14.6), (-1.9, 4.3))
    colors = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a"]
    cell = 0.8
    for i in range(4):
        for j in range(4):
            k = (i % 2) * 2 + (j % 2)  # k = 2a + b for row offset a and column offset b inside the block
            ax.add_patch(Rectangle((j * cell, (3 - i) * cell), cell, cell, fc=colors[k], ec="black", alpha=0.85))
            ax.text(j * cell + cell / 2, (3 - i) * cell + cell / 2, f"{i * 4 + j + 1}", ha="center", va="center",
                    fontsize=10, color="white")
    for k in range(3):
        ax.plot([0, 4 * cell], [k * 2 * cell] * 2, color="black", lw=2.5)
        ax.plot([k * 2 * cell] * 2, [0, 4 * cell], color="black", lw=2.5)
    ax.text(2 * cell, -0.3, "input [4, 4, 1]\n(a, b) = offset inside a $2\\times2$ block", ha="center", va="top",
            fontsize=10)
    arrow(ax, (3.5, 1.6), (5.5, 1.6), "Squeeze()")
    for k in range(4):
        for bi in range(2):
            for bj in range(2):
                i, j = 2 * bi + k // 2, 2 * bj + k % 2
                x0, y0 = 5.8 + k * 2.2 + bj * cell, 0.8 + (1 - bi) * cell
                ax.add_patch(Rectangle((x0, y0), cell, cell, fc=colors[k], ec="black", alpha=0.95))
                ax.text(x0 + cell / 2, y0 + cell / 2, f"{i * 4 + j + 1}", ha="center", va="center",
                        fontsize=10, color="white")
        ax.text(5.8 + k * 2.2 + cell, 2.55, f"channel {k + 1}\n$k={k}$, $(a,b)=({k // 2},{k % 2})$",
                ha="center", fontsize=9)
    ax.text(10.0, 0.5, "output [2, 2, 4]:  out$[i, j, (2a+b)C + c]$ = in$[2i+a,\\ 2j+b,\\ c]$\n"
            "the order of tf.nn.space_to_depth(x, 2)", ha="center", va="top", fontsize=10)
    save(fig, "squeeze", MS)


def ms_factor_out():
    """Scale 1 of the notebook's flow on one digit: [8, 8, 1] -> [4, 4, 4] -> z1 (first 2 channels) + h1."""
    fig, ax = plt.subplots(figsize=(12, 4.4))
    blank(ax, (-0.3, 16.5), (-1.6, 4.6))
    draw_tensor(ax, np.ones((8, 8, 1), int), (0, 0), cell=0.38, title="$\\mathbf{x}$: [8, 8, 1]")
    _grey(ax, 0)
    arrow(ax, (3.4, 1.5), (5.7, 1.5))
    ax.text(4.55, 1.75, "3 checkerboard\ncouplings\nsqueeze\n3 channel\ncouplings", ha="center", va="bottom",
            fontsize=9)
    first_two = np.concatenate([np.ones((4, 4, 2), int), np.zeros((4, 4, 2), int)], axis=-1)  # channels 1-2 copied
    draw_tensor(ax, first_two, (6.0, 0.2), cell=0.45, depth_offset=(0.25, 0.25), title="[4, 4, 4]")
    arrow(ax, (9.0, 2.3), (11.1, 3.0))
    arrow(ax, (9.0, 1.1), (11.1, 0.5))
    draw_tensor(ax, np.ones((4, 4, 2), int), (11.4, 2.4), cell=0.3, depth_offset=(0.16, 0.16))
    ax.text(13.2, 3.0, "$\\mathbf{z}^{(1)}$: channels 1-2, [4, 4, 2]\nfactored out:\ngoes to the base",
            va="center", fontsize=10)
    draw_tensor(ax, np.zeros((4, 4, 2), int), (11.4, -0.4), cell=0.3, depth_offset=(0.16, 0.16))
    ax.text(13.2, 0.2, "$\\mathbf{h}^{(1)}$: channels 3-4, [4, 4, 2]\nprocessed by\nthe final scale",
            va="center", fontsize=10)
    save(fig, "factor_out_latent_variables", MS)


def ms_realnvp():
    """The notebook's two-scale MultiscaleRealNVP, images -> latents, with shapes and mask orientations."""
    fig, ax = plt.subplots(figsize=(14, 4.8))
    blank(ax, (0, 26), (-2.0, 7.6))
    y = 4.5
    box(ax, (0.2, y), 2.0, 1.2, "$\\mathbf{x}$\n[8, 8, 1]", "#f0f0f0", 11)
    x0 = 2.8
    steps = [("3 couplings\ncheckerboard\n0, 1, 0", COPY), ("squeeze\n[4, 4, 4]", "#e5e5e5"),
             ("3 couplings\nchannel\n0, 1, 0", CHANGE), ("split\nchannels", "#e5e5e5")]
    for label, color in steps:
        arrow(ax, (x0 - 0.55, y + 0.6), (x0 - 0.05, y + 0.6))
        box(ax, (x0, y), 2.7, 1.2, label, color, 9)
        x0 += 3.3
    arrow(ax, (x0 - 1.95, y), (x0 - 1.95, 1.7))
    box(ax, (x0 - 3.1, 0.4), 2.3, 1.2, "$\\mathbf{z}^{(1)}$\n[4, 4, 2]", COPY, 11)
    arrow(ax, (x0 - 0.55, y + 0.6), (x0 + 1.25, y + 0.6), "$\\mathbf{h}^{(1)}$\n[4, 4, 2]", offset=(0, -0.95))
    x0 += 1.3
    box(ax, (x0, y), 2.9, 1.2, "4 couplings\ncheckerboard\n0, 1, 0, 1", COPY, 9)
    arrow(ax, (x0 + 1.45, y), (x0 + 1.45, 1.7))
    box(ax, (x0 + 0.3, 0.4), 2.3, 1.2, "$\\mathbf{z}^{(2)}$\n[4, 4, 2]", COPY, 11)
    ax.text(7.4, 6.6, "scale 1", ha="center", fontsize=11)
    ax.text(x0 + 1.45, 6.6, "final scale", ha="center", fontsize=11)
    ax.text(x0 + 3.3, 1.0, "$\\mathbf{z}=(\\mathbf{z}^{(1)}, \\mathbf{z}^{(2)})$\nflattened and concatenated:\n"
            "[64], base $\\mathcal{N}(0, I)$", va="center", fontsize=10)
    ax.text(13.0, -1.3, "forward: image $\\to$ latents, the papers' direction (numbers under 'couplings' are "
            "mask orientations; the flow for sampling is tfb.Invert of this bijector)", ha="center", fontsize=10)
    save(fig, "realnvp", MS)
