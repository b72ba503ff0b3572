"""Draw the figures of the notes into source/<assignment>/figures/ for every assignment that shows them.

Run with ``make figures``. The PNGs are committed; nbgrader copies them into the release, and the notebooks
refer to them by relative path (``figures/<name>.png``). Each assignment gets only the figures its notebook
shows, drawn for it: the multiscale assignment's masks, squeeze and architecture have the sizes, orientations
and channel order of its own exercises (8x8 digits, two scales).
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402

SOURCE = Path(__file__).resolve().parent
COPY, CHANGE = "#9ecae1", "#fdae6b"  # b = 1 (passes through), b = 0 (transformed)
DPI = 110


def save(fig, name, assignment="normalising_flows"):
    out = SOURCE / assignment / "figures"
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.png", dpi=DPI, bbox_inches="tight", facecolor="white")
    print("wrote", out / f"{name}.png")
    plt.close(fig)


def box(ax, xy, w, h, text, color="white", fontsize=11):
    ax.add_patch(FancyBboxPatch(xy, w, h, boxstyle="round,pad=0.02", fc=color, ec="black", lw=1.2))
    ax.text(xy[0] + w / 2, xy[1] + h / 2, text, ha="center", va="center", fontsize=fontsize)


def arrow(ax, start, end, text=None, color="black", offset=(0, 0.12)):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color=color, lw=1.4))
    if text:
        ax.text((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1], text,
                ha="center", fontsize=10, color=color)


def blank(ax, xlim, ylim):
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")


def change_of_variables():
    lam, mu = 2.0, 1.5
    fig, axs = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (w, h), title, label in [
            (axs[0], (1, 1), r"$Z$ uniform on $\Omega_Z=[0,1]^2$", r"$p_Z=1$"),
            (axs[1], (lam, mu), r"$X=f(Z)$ uniform on $\Omega_X$", r"$p_X=\frac{1}{|\lambda\mu|}$")]:
        ax.add_patch(Rectangle((0, 0), w, h, fc=COPY, ec="black", alpha=0.8))
        ax.text(w / 2, h / 2, label, ha="center", va="center", fontsize=15)
        ax.set_xlim(-0.3, 2.4)
        ax.set_ylim(-0.3, 1.9)
        ax.set_aspect("equal")
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_title(title, fontsize=12)
    axs[0].set_xlabel("$z_1$"); axs[0].set_ylabel("$z_2$")
    axs[1].set_xlabel("$x_1$"); axs[1].set_ylabel("$x_2$")
    axs[1].annotate(r"$\lambda$", (lam / 2, -0.2), ha="center", fontsize=13)
    axs[1].annotate(r"$\mu$", (lam + 0.12, mu / 2), va="center", fontsize=13)
    fig.subplots_adjust(wspace=0.8)
    fig.text(0.49, 0.5, r"$f(z_1,z_2)$" + "\n" + r"$=(\lambda z_1,\ \mu z_2)$" + "\n" + r"$\Longrightarrow$",
             ha="center", va="center", fontsize=12)
    fig.suptitle(r"A linear map stretches area by $|\det J_f|=|\lambda\mu|$, so the density shrinks by the same factor"
                 r" ($\lambda=2,\ \mu=1.5$)", fontsize=11)
    save(fig, "change_of_variables")


def change_of_variables_monotonic():
    z = np.linspace(-2.5, 2.5, 200)
    fig, axs = plt.subplots(1, 2, figsize=(9, 3.8))
    for ax, y, title in [(axs[0], np.tanh(z) + 0.3 * z, "(a) strictly increasing"),
                         (axs[1], -(z ** 3) / 6 - 0.5 * z, "(b) strictly decreasing")]:
        ax.plot(z, y, lw=2.2)
        z1, z2 = -1.2, 1.0
        f = np.interp([z1, z2], z, y)
        ax.plot([z1, z2], f, "o", color="black")
        for zz, ff, name in [(z1, f[0], "1"), (z2, f[1], "2")]:
            ax.plot([zz, zz], [ax.get_ylim()[0] if False else -3, ff], ":", color="grey")
            ax.annotate(rf"$f(z^{{({name})}})$", (zz, ff), textcoords="offset points", xytext=(6, 6))
        ax.set_ylim(-3, 3)
        ax.set_xlabel("$z$")
        ax.set_ylabel("$x=f(z)$")
        ax.set_title(title)
        ax.axhline(0, color="grey", lw=0.6)
    fig.suptitle(r"An invertible $f:\mathbb{R}\to\mathbb{R}$ is strictly monotonic: $z^{(1)}<z^{(2)}$ keeps or reverses order",
                 fontsize=11)
    fig.tight_layout()
    save(fig, "change_of_variables_monotonic")


def affine_coupling_layer():
    """Both formulas of the coupling in the notes' letters, and which direction each one is used in: the papers
    encode with scale-and-shift; our bijector (like tfb.RealNVP) samples with it."""
    fig, axs = plt.subplots(1, 2, figsize=(13, 5.6))
    for ax, direction in zip(axs, ("scale", "undo")):
        blank(ax, (0, 10), (-1.9, 6))
        if direction == "scale":
            src, dst, op = "x", "z", r"$\odot\,\exp(s)\ +\ t$"
            title = "Scale and shift, equations (10, 11) and (14):  $\\mathbf{z}=f(\\mathbf{x})$"
            uses = [("papers", "encode: data $\\mathbf{x}$ $\\to$ latent $\\mathbf{z}$"),
                     ("our bijector", "forward: latent $\\mathbf{x}$ $\\to$ data $\\mathbf{y}$, used by sample()")]
        else:
            src, dst, op = "z", "x", r"$-\,t,\ \ \odot\,\exp(-s)$"
            title = "Undo it, equations (12, 13) and (15):  $\\mathbf{x}=f^{-1}(\\mathbf{z})$"
            uses = [("papers", "sample: latent $\\mathbf{z}$ $\\to$ data $\\mathbf{x}$"),
                     ("our bijector", "inverse: data $\\mathbf{y}$ $\\to$ latent $\\mathbf{x}$, used by log_prob()")]
        box(ax, (0.3, 3.5), 1.8, 1.2, rf"$\mathbf{{{src}}}_{{1:d}}$", COPY, 13)
        box(ax, (0.3, 0.8), 1.8, 1.2, rf"$\mathbf{{{src}}}_{{d+1:D}}$", CHANGE, 13)
        box(ax, (7.9, 3.5), 1.8, 1.2, rf"$\mathbf{{{dst}}}_{{1:d}}$", COPY, 13)
        box(ax, (7.9, 0.8), 1.8, 1.2, rf"$\mathbf{{{dst}}}_{{d+1:D}}$", CHANGE, 13)
        box(ax, (3.6, 3.0), 2.2, 1.0, "network\n$s(\\cdot),\\ t(\\cdot)$", "#e5e5e5", 11)
        arrow(ax, (2.1, 4.1), (7.9, 4.1), "copied unchanged", offset=(0, 0.2))
        arrow(ax, (2.6, 4.1), (3.8, 3.6))
        arrow(ax, (4.7, 3.0), (4.7, 1.6), "$s, t$", offset=(0.35, 0))
        box(ax, (3.3, 0.9), 2.8, 0.9, op, "white", 10)
        arrow(ax, (2.1, 1.4), (3.3, 1.4))
        arrow(ax, (6.1, 1.4), (7.9, 1.4))
        for row, (who, what) in enumerate(uses):  # each row in its own letters: the papers' x, z; TFP's x, y
            ax.text(0.3, -0.55 - 0.75 * row, f"{who}:", fontsize=10, fontweight="bold", va="center")
            ax.text(2.6, -0.55 - 0.75 * row, what, fontsize=10, va="center")
        ax.set_title(title, fontsize=11)
    fig.suptitle("Affine coupling layer: one block conditions an elementwise scale and shift of the other.\n"
                 "Its inverse is again an affine coupling (log-scale $-s$, shift $-t\\odot\\exp(-s)$), so either "
                 "formula can be the sampling direction.\nBoxes and the papers' row: $\\mathbf{x}$ data, $\\mathbf{z}$ latent. "
                 "Our bijector's row: TFP's letters, input $\\mathbf{x}$ and output $\\mathbf{y}$", fontsize=12)
    fig.subplots_adjust(top=0.77)
    save(fig, "affine_coupling_layer")


def _draw_tensor(ax, mask, origin, cell=0.45, depth_offset=(0.22, 0.22), title=None, fill=None):
    """Draw an h x w x c tensor as c stacked grids; mask has shape (h, w, c) with 1 = copied. ``fill``: one
    colour for every cell instead."""
    h, w, c = mask.shape
    for k in reversed(range(c)):
        ox, oy = origin[0] + k * depth_offset[0], origin[1] + k * depth_offset[1]
        for i in range(h):
            for j in range(w):
                color = fill or (COPY if mask[i, j, k] else CHANGE)
                ax.add_patch(Rectangle((ox + j * cell, oy + (h - 1 - i) * cell), cell, cell,
                                       fc=color, ec="black", lw=0.5))
    if title:
        ax.text(origin[0] + w * cell / 2 + c * depth_offset[0] / 2, origin[1] - 0.5, title,
                ha="center", va="top", fontsize=10)


def checkerboard(h, w, parity=0):
    return ((np.add.outer(np.arange(h), np.arange(w)) + parity) % 2 == 0).astype(int)


def legend(ax, x, y):
    ax.add_patch(Rectangle((x, y), 0.35, 0.35, fc=COPY, ec="black"))
    ax.text(x + 0.5, y + 0.17, "b = 1: copied, conditions the network", va="center", fontsize=9)
    ax.add_patch(Rectangle((x, y - 0.55), 0.35, 0.35, fc=CHANGE, ec="black"))
    ax.text(x + 0.5, y - 0.38, "b = 0: scaled and shifted", va="center", fontsize=9)


def masks():
    for name, mask, caption in [
            ("checkerboard_mask", np.repeat(checkerboard(6, 6)[:, :, None], 4, axis=2),
             "(b) checkerboard mask $b_s\\in\\{0,1\\}^{6\\times 6}$,\nthe same for every channel"),
            ("channel_mask", np.broadcast_to(np.array([1, 1, 0, 0]), (6, 6, 4)),
             "(b) channel mask $b_c\\in\\{0,1\\}^{4}$,\nthe same at every pixel")]:
        fig, ax = plt.subplots(figsize=(9, 4.4))
        blank(ax, (-0.3, 10.5), (-1.6, 4.2))
        _draw_tensor(ax, np.full((6, 6, 4), -1) * 0 + 1, (0, 0), title="(a) input $\\mathbf{h}\\in\\mathbb{R}^{6\\times6\\times4}$,\nno mask")
        # (a) drawn in neutral grey
        for p in ax.patches:
            p.set_facecolor("#f0f0f0")
        _draw_tensor(ax, mask, (5.6, 0), title=caption)
        legend(ax, 0.0, 3.9)
        save(fig, name)


def alternating_masks():
    fig, ax = plt.subplots(figsize=(12, 3.6))
    blank(ax, (-0.3, 15.5), (-1.2, 4.2))
    for k in range(3):
        _draw_tensor(ax, checkerboard(4, 4, k % 2)[:, :, None], (k * 5.2, 0.2), cell=0.55,
                     title=f"coupling layer {k + 1}: mask {'b' if k % 2 == 0 else '1 - b'}")
        if k < 2:
            arrow(ax, (k * 5.2 + 2.5, 1.3), (k * 5.2 + 4.9, 1.3))
    ax.text(0.0, 3.6, "What one layer copies, the next layer transforms", ha="left", fontsize=11)
    legend(ax, 11.2, 3.6)
    save(fig, "alternating_masks")


def squeeze():
    fig, ax = plt.subplots(figsize=(10, 4.2))
    blank(ax, (-0.3, 13.2), (-1.3, 4.3))
    colors = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a"]
    cell = 0.8
    for i in range(4):
        for j in range(4):
            q = (i % 2) * 2 + (j % 2)  # position inside its 2x2 block -> output channel
            ax.add_patch(Rectangle((j * cell, (3 - i) * cell), cell, cell, fc=colors[q], ec="black", alpha=0.85))
            ax.text(j * cell + cell / 2, (3 - i) * cell + cell / 2, f"{i * 4 + j + 1}", ha="center", va="center",
                    fontsize=10, color="white")
    for k in range(2):
        ax.plot([0, 4 * cell], [k * 2 * cell, k * 2 * cell], color="black", lw=2.5)
        ax.plot([k * 2 * cell, k * 2 * cell], [0, 4 * cell], color="black", lw=2.5)
    ax.plot([0, 4 * cell], [4 * cell] * 2, color="black", lw=2.5)
    ax.plot([4 * cell] * 2, [0, 4 * cell], color="black", lw=2.5)
    ax.text(2 * cell, -0.5, "$4\\times4\\times1$ input", ha="center", va="top")
    arrow(ax, (3.5, 1.6), (5.5, 1.6), "squeeze")
    for q in range(4):
        for bi in range(2):
            for bj in range(2):
                i, j = 2 * bi + q // 2, 2 * bj + q % 2
                x0, y0 = 5.8 + q * 1.85 + bj * cell, 0.8 + (1 - bi) * cell
                ax.add_patch(Rectangle((x0, y0), cell, cell, fc=colors[q], ec="black", alpha=0.95))
                ax.text(x0 + cell / 2, y0 + cell / 2, f"{i * 4 + j + 1}", ha="center", va="center",
                        fontsize=10, color="white")
        ax.text(5.8 + q * 1.85 + cell, 2.55, f"channel {q + 1}", ha="center", fontsize=9)
    ax.text(9.0, -0.1, "$2\\times2\\times4$ output: channel $k$ holds\nposition $k$ of every $2\\times2$ block",
            ha="center", va="top")
    save(fig, "squeeze")


def factor_out():
    fig, ax = plt.subplots(figsize=(12, 4.2))
    blank(ax, (-0.3, 16), (-1.6, 4.6))
    _draw_tensor(ax, np.ones((8, 8, 2), int), (0, 0), cell=0.38, title="$\\mathbf{h}^{(k)}\\in\\mathbb{R}^{8\\times8\\times2}$")
    for p in ax.patches:
        p.set_facecolor("#f0f0f0")
    arrow(ax, (3.9, 1.6), (5.7, 1.6))
    ax.text(4.8, 1.85, "coupling\nsqueeze\ncoupling", ha="center", va="bottom", fontsize=9)
    _draw_tensor(ax, np.ones((4, 4, 8), int), (6.0, 0.2), cell=0.45, depth_offset=(0.18, 0.18),
                 title="$4\\times4\\times8$", fill="#f0f0f0")
    arrow(ax, (9.4, 2.2), (11.3, 3.0))
    arrow(ax, (9.4, 1.2), (11.3, 0.5))
    _draw_tensor(ax, np.ones((4, 4, 4), int), (11.6, 2.4), cell=0.3, depth_offset=(0.14, 0.14))
    ax.text(14.2, 3.0, "$\\mathbf{z}^{(k+1)}\\in\\mathbb{R}^{4\\times4\\times4}$\nfactored out:\ngoes to the base",
            va="center", fontsize=10)
    _draw_tensor(ax, np.zeros((4, 4, 4), int), (11.6, -0.4), cell=0.3, depth_offset=(0.14, 0.14))
    ax.text(14.2, 0.2, "$\\mathbf{h}^{(k+1)}\\in\\mathbb{R}^{4\\times4\\times4}$\nprocessed by\nthe next scale",
            va="center", fontsize=10)
    save(fig, "factor_out_latent_variables")


def realnvp():
    fig, ax = plt.subplots(figsize=(15, 4.6))
    blank(ax, (0, 31), (-1.5, 7.5))
    y = 4.5
    box(ax, (0.2, y), 1.6, 1.2, "$\\mathbf{x}$", "#f0f0f0", 14)
    x0 = 2.4
    for scale in range(2):
        steps = [("3 couplings\ncheckerboard", COPY), ("squeeze", "#e5e5e5"), ("3 couplings\nchannel", CHANGE),
                 ("split\nhalf", "#e5e5e5")]
        for label, color in steps:
            arrow(ax, (x0 - 0.55, y + 0.6), (x0 - 0.05, y + 0.6))
            box(ax, (x0, y), 2.5, 1.2, label, color, 9)
            x0 += 3.1
        arrow(ax, (x0 - 1.85, y), (x0 - 1.85, 1.6))
        box(ax, (x0 - 2.65, 0.4), 1.6, 1.1, f"$\\mathbf{{z}}^{{({scale + 1})}}$", COPY, 13)
    arrow(ax, (x0 - 0.55, y + 0.6), (x0 - 0.05, y + 0.6))
    box(ax, (x0, y), 2.5, 1.2, "4 couplings\ncheckerboard", COPY, 9)
    arrow(ax, (x0 + 1.25, y), (x0 + 1.25, 1.6))
    box(ax, (x0 + 0.45, 0.4), 1.6, 1.1, "$\\mathbf{z}^{(3)}$", COPY, 13)
    ax.text(15.5, -1.0, "$\\mathbf{z}=(\\mathbf{z}^{(1)},\\mathbf{z}^{(2)},\\mathbf{z}^{(3)})$ is modelled by a simple base "
            "distribution (e.g. a diagonal Gaussian)", ha="center", fontsize=11)
    ax.text(7.6, 6.6, "scale 1", ha="center", fontsize=11)
    ax.text(20.0, 6.6, "scale 2", ha="center", fontsize=11)
    ax.text(28.5, 6.6, "final scale", ha="center", fontsize=11)
    save(fig, "realnvp")


def shift_and_log_scale_fn():
    fig, ax = plt.subplots(figsize=(12, 3.8))
    blank(ax, (0, 21), (0, 6.5))
    box(ax, (0.2, 2.6), 2.6, 1.2, "input $b\\odot\\mathbf{x}$\n$[\\ldots, D]$", "#f0f0f0", 10)
    box(ax, (3.8, 2.6), 3.0, 1.2, "Dense(64)\nReLU", "#e5e5e5", 10)
    box(ax, (7.8, 2.6), 3.0, 1.2, "Dense(64)\nReLU", "#e5e5e5", 10)
    box(ax, (12.4, 4.3), 3.4, 1.2, "Dense(D)\nlinear", "#e5e5e5", 10)
    box(ax, (12.4, 0.9), 3.4, 1.2, "Dense(D)\ntanh", "#e5e5e5", 10)
    box(ax, (17.2, 4.3), 3.4, 1.2, "shift $t$\n$[\\ldots, D]$", CHANGE, 10)
    box(ax, (17.2, 0.9), 3.6, 1.5, "log_scale $s\\in(-1,1)$\nscale $e^{s}\\in(e^{-1},e)$\n$[\\ldots, D]$", CHANGE, 10)
    arrow(ax, (2.8, 3.2), (3.8, 3.2))
    arrow(ax, (6.8, 3.2), (7.8, 3.2))
    arrow(ax, (10.8, 3.4), (12.4, 4.8))
    arrow(ax, (10.8, 3.0), (12.4, 1.5))
    arrow(ax, (15.8, 4.9), (17.2, 4.9))
    arrow(ax, (15.8, 1.5), (17.2, 1.5))
    ax.text(10.5, 6.2, "shift_and_log_scale_fn: a shared trunk with two heads", ha="center", fontsize=11)
    save(fig, "shift_and_log_scale_fn")


# ----------------------------------------------------------------------------------------------------------
# The multiscale assignment (realnvp_multiscale): its own sizes, orientations and channel order
# ----------------------------------------------------------------------------------------------------------
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
        _draw_tensor(ax, checkerboard(8, 8, k)[:, :, None], (ox, 0), cell=0.45,
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
        _draw_tensor(ax, np.broadcast_to(kept.astype(int), (4, 4, 4)), (ox, 0), cell=0.55, depth_offset=(0.3, 0.3),
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
    _draw_tensor(ax, np.ones((8, 8, 1), int), (0, 0), cell=0.38, title="$\\mathbf{x}$: [8, 8, 1]")
    _grey(ax, 0)
    arrow(ax, (3.4, 1.5), (5.7, 1.5))
    ax.text(4.55, 1.75, "3 checkerboard\ncouplings\nsqueeze\n3 channel\ncouplings", ha="center", va="bottom",
            fontsize=9)
    first_two = np.concatenate([np.ones((4, 4, 2), int), np.zeros((4, 4, 2), int)], axis=-1)  # channels 1-2 copied
    _draw_tensor(ax, first_two, (6.0, 0.2), cell=0.45, depth_offset=(0.25, 0.25), title="[4, 4, 4]")
    arrow(ax, (9.0, 2.3), (11.1, 3.0))
    arrow(ax, (9.0, 1.1), (11.1, 0.5))
    _draw_tensor(ax, np.ones((4, 4, 2), int), (11.4, 2.4), cell=0.3, depth_offset=(0.16, 0.16))
    ax.text(13.2, 3.0, "$\\mathbf{z}^{(1)}$: channels 1-2, [4, 4, 2]\nfactored out:\ngoes to the base",
            va="center", fontsize=10)
    _draw_tensor(ax, np.zeros((4, 4, 2), int), (11.4, -0.4), cell=0.3, depth_offset=(0.16, 0.16))
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


if __name__ == "__main__":
    change_of_variables()
    change_of_variables_monotonic()
    affine_coupling_layer()
    masks()
    alternating_masks()
    squeeze()
    factor_out()
    realnvp()
    shift_and_log_scale_fn()
    ms_checkerboard_mask()
    ms_channel_mask()
    ms_squeeze()
    ms_factor_out()
    ms_realnvp()
