"""Student text, capped: whatever a submission raises or prints, a result keeps at most ``TEXT_BYTES`` of each text,
with a note saying how much was cut. Used where a result's texts are set (``results``) and, for the student's
sake, in the worker before it sends an error (a long message then costs its text, not the worker).
"""

#: The most UTF-8 bytes one text of a result keeps (a check's message, a note, a reason, the printed output).
TEXT_BYTES = 64 * 2**10


def capped(text, limit=TEXT_BYTES):
    """``text`` cut to at most ``limit`` bytes of UTF-8, ending with a note that says how many bytes were cut.
    Cutting a cut text again leaves it as it is (a record read back renders the same)."""
    if not isinstance(text, str) or len(text) * 4 <= limit:
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    keep = max(limit - 64, 0)
    return data[:keep].decode("utf-8", "ignore") + f" [... cut here: {len(data) - keep} more bytes]"
