"""The built-in template pack: data files only, laid out as <channel>/<locale>/<key>.<part>.j2.

Parts: `sms` → body; `email` → subject, txt, html; `letter` → html. This module only tells the
gateway where the files are, so the pack is found after a non-editable `pip install`.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent
