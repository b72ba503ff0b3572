"""Two signals per pair of students: copied code (copydetect's winnowed fingerprints) and shared rare mistakes.

**Code.** copydetect (Pygments tokens; every variable, function and class name made one letter, comments and
strings dropped; k-grams of ``K`` characters, winnowed with a window of ``WINDOW``) fingerprints each student's own
code. The fingerprints of the release's code are removed from every student's (the boilerplate), so the code every
student starts from never matches. A pair's code score is the mean of copydetect's two similarities (the share of
each student's fingerprinted code found in the other's), in [0, 1]. copydetect hashes k-grams with Python's
``hash``, which changes from one process to the next (PYTHONHASHSEED), so winnowing chose other fingerprints on
every run; ``_fingerprint`` does what ``copydetect.utils.get_document_fingerprints`` does with a stable hash
(BLAKE2b), so the same submissions give the same report.

**Mistakes.** Each graded check that failed names the catalogued mistake it recognised (the record's
``mistake``). Two students share the set S of mistakes both made. If n of the N graded students made every
mistake of S, the pair's mistake score is ``2/n * (1 - n/N)``: 1 when the two are (nearly) alone with that
combination in a large class, small when it is common or the class is small.

**Score** = ``1 - (1 - code) * (1 - MISTAKE_WEIGHT * mistakes)``: either signal alone raises it; code alone can
reach 1, shared mistakes alone at most ``MISTAKE_WEIGHT``.
"""
import hashlib
from dataclasses import dataclass

import numpy as np

K, WINDOW = 25, 6  # copydetect's defaults: noise threshold 25, guarantee threshold 30
MISTAKE_WEIGHT = 0.5


@dataclass
class Fingerprint:
    """What ``copydetect.compare_files`` reads of a document (its ``CodeFingerprint``'s attributes)."""
    raw_code: str
    filtered_code: str
    offsets: np.ndarray
    hashes: set
    hash_idx: dict
    k: int
    token_coverage: float


def _kgram_hashes(text, k):
    return np.array([int.from_bytes(hashlib.blake2b(text[i:i + k].encode(), digest_size=8).digest(), "little",
                                    signed=True) for i in range(len(text) - k + 1)], dtype=np.int64)


def _fingerprint(code, boilerplate=()):
    from copydetect.utils import filter_code, get_token_coverage, winnow
    filtered, offsets = filter_code(code, "code.py", "python")
    hashes, idx = winnow(_kgram_hashes(filtered, K), window_size=WINDOW, remove_duplicates=False) \
        if len(filtered) >= K else (np.array([], np.int64), np.array([], int))
    keep = ~np.isin(hashes, np.asarray(list(boilerplate), dtype=np.int64))
    hashes, idx = hashes[keep], idx[keep]
    where = {}
    for h, i in zip(hashes.tolist(), idx.tolist()):
        where.setdefault(h, []).append(i)
    return Fingerprint(code, filtered, offsets, set(where), where, K, get_token_coverage(where, K, len(filtered)))


def fingerprints(codes, boilerplate_cells):
    """{student: Fingerprint} of {student: StudentCode}, the release's cells removed as boilerplate."""
    boilerplate = set()
    for cell in boilerplate_cells:
        boilerplate |= _fingerprint(cell).hashes
    return {student: _fingerprint(code.text, boilerplate) for student, code in codes.items()}


def code_match(a, b):
    """(score in [0, 1], slices in a's code, slices in b's code): copydetect's comparison of two Fingerprints;
    slices are [(start, end)] character ranges of the matching code."""
    if not a.hashes & b.hashes:
        return 0.0, [], []
    from copydetect import compare_files
    _, (sim_a, sim_b), (slices_a, slices_b) = compare_files(a, b)
    pairs = [[[int(s), int(e)] for s, e in zip(*sl)] if len(sl) and len(sl[0]) else [] for sl in (slices_a, slices_b)]
    return float(min(1.0, (sim_a + sim_b) / 2)), pairs[0], pairs[1]


def mistake_sets(records):
    """{student: [mistake ids of the failed checks, in check order]} of the graded records."""
    return {student: list(dict.fromkeys(c.mistake for c in r.checks if c.mistake and c.status == "failed"))
            for student, r in records.items() if r.status == "graded"}


def mistake_match(a, b, sets):
    """(score in [0, 1], shared mistakes, n: how many students made all of them) for students ``a`` and ``b``."""
    shared = [m for m in sets.get(a, []) if m in set(sets.get(b, []))]
    if not shared:
        return 0.0, [], 0
    n = sum(1 for made in sets.values() if set(shared) <= set(made))
    return 2 / n * (1 - n / len(sets)), shared, n


def combined(code, mistakes):
    return 1 - (1 - code) * (1 - MISTAKE_WEIGHT * mistakes)
