"""Pieces shared by the routers."""

from __future__ import annotations

from statcoder.api.schemas import ErrorBody

ERRORS = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Malformed request"), (401, "Missing, invalid, expired or revoked key"),
        (403, "Key lacks the scope"), (404, "Not found (or another project's)"),
        (409, "Conflicts with the current state"), (413, "Over a size limit"),
        (422, "Invalid input"),
    )
}
