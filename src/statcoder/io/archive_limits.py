"""Decompression-bomb checks: declared sizes of zip members and ``.npy`` arrays, read before anything is unpacked.

A zip member states its uncompressed size in its header, and Python's zipfile never yields
more than that; a ``.npy`` file states its dtype and shape in its header, and numpy allocates
that much before reading a byte of data. Checking those declarations against limits therefore
refuses a bomb (a small file that unpacks to gigabytes) before any large allocation or write.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from statcoder.errors import InputError, ModelFileError


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits of what an archive may unpack to.

    ``max_total_bytes``: all members together; ``max_member_bytes``: one member;
    ``max_ratio``: uncompressed / compressed size of one member (checked for members over
    ``ratio_floor_bytes``, since tiny members compress arbitrarily well); ``max_members``.
    """

    max_total_bytes: int = 4 << 30
    max_member_bytes: int = 4 << 30
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1 << 20
    max_members: int = 10_000


class ArchiveTooLargeError(InputError):
    """An archive (zip, npz, xlsx) declares more content than the limits allow."""

    code = "archive_too_large"


def check_zip(source: str | Path | BinaryIO | zipfile.ZipFile, limits: ArchiveLimits, *, what: str = "archive") -> int:
    """Check a zip's declared member sizes against ``limits``; returns the declared total (bytes).

    Reads only the central directory. Raises ArchiveTooLargeError over a limit and
    InputError for a file that is not a zip. ``what`` names the file in messages (never a
    server path).
    """
    if isinstance(source, zipfile.ZipFile):
        return _check_infos(source.infolist(), limits, what)
    try:
        with zipfile.ZipFile(source) as zf:
            return _check_infos(zf.infolist(), limits, what)
    except zipfile.BadZipFile:
        raise InputError(f"the {what} is not a valid zip file", where=what, hint="send an intact file") from None


def _check_infos(infos: list[zipfile.ZipInfo], limits: ArchiveLimits, what: str) -> int:
    if len(infos) > limits.max_members:
        raise ArchiveTooLargeError(f"the {what} holds {len(infos)} files; the limit is {limits.max_members}",
                                   where=what, hint="send fewer files")
    total = 0
    for info in infos:
        size = info.file_size
        if size > limits.max_member_bytes:
            raise ArchiveTooLargeError(
                f"a member of the {what} unpacks to {size} bytes; the limit is {limits.max_member_bytes}",
                where=f"{what}: {info.filename[:100]}", hint="check the file; it may be a decompression bomb",
            )
        if size > limits.ratio_floor_bytes and size > limits.max_ratio * max(info.compress_size, 1):
            raise ArchiveTooLargeError(
                f"a member of the {what} is compressed {size / max(info.compress_size, 1):.0f}-fold; "
                f"the limit is {limits.max_ratio:.0f}-fold",
                where=f"{what}: {info.filename[:100]}", hint="check the file; it may be a decompression bomb",
            )
        total += size
        if total > limits.max_total_bytes:
            raise ArchiveTooLargeError(f"the {what} unpacks to more than {limits.max_total_bytes} bytes",
                                       where=what, hint="check the file; it may be a decompression bomb")
    return total


def check_npz(path: str | Path, *, max_array_bytes: int = 4 << 30, max_total_bytes: int = 4 << 30,
              max_ratio: float = 1e6) -> int:
    """Check every array of an ``.npz`` by its ``.npy`` header; returns the declared total (bytes).

    Refused (ModelFileError) before numpy allocates anything: an array larger than
    ``max_array_bytes``, all arrays larger than ``max_total_bytes``, an object dtype (needs
    pickle), a header declaring more data than its member holds, or an unreadable header.
    """
    name = Path(path).name
    limits = ArchiveLimits(max_total_bytes=max_total_bytes, max_member_bytes=max_array_bytes,
                           max_ratio=max_ratio)
    total = 0
    try:
        with zipfile.ZipFile(path) as zf:
            check_zip(zf, limits, what=name)
            for info in zf.infolist():
                with zf.open(info) as member:
                    nbytes = _declared_npy_bytes(member, f"{name}: {info.filename[:100]}")
                if nbytes > info.file_size:
                    raise ModelFileError(
                        "an array header declares more data than the file holds", where=f"{name}: {info.filename[:100]}",
                        hint="the weights file is damaged or crafted; retrain the model",
                    )
                if nbytes > max_array_bytes:
                    raise ModelFileError(f"an array of {nbytes} bytes exceeds the limit of {max_array_bytes}",
                                         where=f"{name}: {info.filename[:100]}", hint="check the model")
                total += nbytes
                if total > max_total_bytes:
                    raise ModelFileError(f"the arrays take more than {max_total_bytes} bytes", where=name,
                                         hint="check the model")
    except (zipfile.BadZipFile, InputError) as exc:
        if isinstance(exc, ArchiveTooLargeError):
            raise ModelFileError(exc.message, where=exc.where, hint=exc.hint) from None
        raise ModelFileError(f"{name} is not a valid numpy archive", where=name,
                             hint="the weights file is damaged; retrain the model") from None
    return total


def _declared_npy_bytes(member: BinaryIO, where: str) -> int:
    """Read a ``.npy`` header (a few hundred bytes) and return the bytes its array declares."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = npy.read_array_header_1_0(member, max_header_size=10_000)
        else:
            shape, _, dtype = npy.read_array_header_2_0(member, max_header_size=10_000)
    except (ValueError, OSError) as exc:
        raise ModelFileError(f"an array header cannot be read ({type(exc).__name__})", where=where,
                             hint="the weights file is damaged; retrain the model") from None
    if dtype.hasobject:
        raise ModelFileError("an array holds Python objects (needs pickle)", where=where,
                             hint="statcoder never loads pickled data; retrain the model")
    count = 1
    for dim in shape:
        count *= int(dim)
    return count * int(np.dtype(dtype).itemsize)
