"""What every figure of the notes is drawn with: the colours of a mask, boxes, arrows, tensors as stacked grids,
and where a figure is saved (``source/<assignment>/figures/<name>.png``). Used by ``make_figures.py``.
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


def draw_tensor(ax, mask, origin, cell=0.45, depth_offset=(0.22, 0.22), title=None, fill=None):
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
