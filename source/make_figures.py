"""Draw the figures of the notes into source/<assignment>/figures/ for every assignment that shows them.

Run with ``make figures``. The PNGs are committed; nbgrader copies them into the release, and the notebooks
refer to them by relative path (``figures/<name>.png``). Each assignment gets only the figures its notebook
shows, drawn for it: the multiscale assignment's masks, squeeze and architecture have the sizes, orientations
and channel order of its own exercises (8x8 digits, two scales); they are drawn in ``figures_multiscale.py``, and
the drawing helpers both use are in ``figure_drawing.py``.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import figures_multiscale  # noqa: E402
from figure_drawing import CHANGE, COPY, arrow, blank, box, checkerboard, draw_tensor, legend, save  # noqa: E402,F401


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


def masks():
    for name, mask, caption in [
            ("checkerboard_mask", np.repeat(checkerboard(6, 6)[:, :, None], 4, axis=2),
             "(b) checkerboard mask $b_s\\in\\{0,1\\}^{6\\times 6}$,\nthe same for every channel"),
            ("channel_mask", np.broadcast_to(np.array([1, 1, 0, 0]), (6, 6, 4)),
             "(b) channel mask $b_c\\in\\{0,1\\}^{4}$,\nthe same at every pixel")]:
        fig, ax = plt.subplots(figsize=(9, 4.4))
        blank(ax, (-0.3, 10.5), (-1.6, 4.2))
        draw_tensor(ax, np.full((6, 6, 4), -1) * 0 + 1, (0, 0), title="(a) input $\\mathbf{h}\\in\\mathbb{R}^{6\\times6\\times4}$,\nno mask")
        # (a) drawn in neutral grey
        for p in ax.patches:
            p.set_facecolor("#f0f0f0")
        draw_tensor(ax, mask, (5.6, 0), title=caption)
        legend(ax, 0.0, 3.9)
        save(fig, name)


def alternating_masks():
    fig, ax = plt.subplots(figsize=(12, 3.6))
    blank(ax, (-0.3, 15.5), (-1.2, 4.2))
    for k in range(3):
        draw_tensor(ax, checkerboard(4, 4, k % 2)[:, :, None], (k * 5.2, 0.2), cell=0.55,
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
    draw_tensor(ax, np.ones((8, 8, 2), int), (0, 0), cell=0.38, title="$\\mathbf{h}^{(k)}\\in\\mathbb{R}^{8\\times8\\times2}$")
    for p in ax.patches:
        p.set_facecolor("#f0f0f0")
    arrow(ax, (3.9, 1.6), (5.7, 1.6))
    ax.text(4.8, 1.85, "coupling\nsqueeze\ncoupling", ha="center", va="bottom", fontsize=9)
    draw_tensor(ax, np.ones((4, 4, 8), int), (6.0, 0.2), cell=0.45, depth_offset=(0.18, 0.18),
                 title="$4\\times4\\times8$", fill="#f0f0f0")
    arrow(ax, (9.4, 2.2), (11.3, 3.0))
    arrow(ax, (9.4, 1.2), (11.3, 0.5))
    draw_tensor(ax, np.ones((4, 4, 4), int), (11.6, 2.4), cell=0.3, depth_offset=(0.14, 0.14))
    ax.text(14.2, 3.0, "$\\mathbf{z}^{(k+1)}\\in\\mathbb{R}^{4\\times4\\times4}$\nfactored out:\ngoes to the base",
            va="center", fontsize=10)
    draw_tensor(ax, np.zeros((4, 4, 4), int), (11.6, -0.4), cell=0.3, depth_offset=(0.14, 0.14))
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
    figures_multiscale.ms_checkerboard_mask()
    figures_multiscale.ms_channel_mask()
    figures_multiscale.ms_squeeze()
    figures_multiscale.ms_factor_out()
    figures_multiscale.ms_realnvp()
