"""Hidden checks of the multiscale RealNVP assignment, one module per graded item.

One mistake, one check (``checks.earlier_mistakes``): the first check of an item that recognises a catalogued
mistake charges it; a later check of the item that recognises the same mistake calls ``charge``, which finds
it charged already, and then judges the answer against that mistake's model instead of charging it again.
"""
from ms_checks import mistake

from autograder import checks

ASSIGNMENT = "realnvp_multiscale"


def charge(ask, mistake_id, detail=""):
    """The running check recognised ``mistake_id`` in the answer: raise it, unless an earlier check of the same
    item charged it already; then return, and the caller follows through on the mistake's model."""
    if mistake_id not in checks.earlier_mistakes(ask):
        raise mistake(mistake_id, detail)
    checks.followed_through(ask, mistake_id)
