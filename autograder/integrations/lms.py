"""``nbgrader zip_collect`` for an LMS download: nbgrader's file name collector, with the LMS's time format read.

Blackboard names each downloaded file ``<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>``
(``course_config.ZIP_COLLECT_REGEXP``). nbgrader hands the captured time to dateutil, which misreads that
all-dashes form ("2025-02-04-09-00-30" is refused as an invalid timestamp), so ``zip_collect`` stops. This
collector rewrites it as "2025-02-04 09:00:30" first; everything else is nbgrader's ``FileNameCollectorPlugin``
(it reads ``FileNameCollectorPlugin.named_regexp`` from the course config). The time is taken as UTC, as
nbgrader takes every time without a zone.
"""
import re

from nbgrader.plugins import FileNameCollectorPlugin

DASHED = re.compile(r"(\d{4}-\d\d-\d\d)[-_T ](\d\d)[-:](\d\d)[-:](\d\d)")


class LmsFileNameCollector(FileNameCollectorPlugin):
    def collect(self, submitted_file):
        info = super().collect(submitted_file)
        stamp = (info or {}).get("timestamp")
        match = DASHED.fullmatch(stamp) if stamp else None
        if match:
            info["timestamp"] = f"{match[1]} {match[2]}:{match[3]}:{match[4]}"
        return info
