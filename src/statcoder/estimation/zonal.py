"""Zonal statistics: per-area covariates (mean, sum, class shares) from a raster and polygons.

From satellite imagery to small-area covariates: for every polygon of a vector file (GeoPackage,
shapefile, GeoJSON...), the pixels of a GeoTIFF band whose centres fall inside the polygon
(``all_touched=True``: every pixel the polygon touches) are summarised::

    table = zonal_statistics("landcover.tif", "counties.gpkg", id_column="County",
                             statistics=("mean", "sum"), classes="all")
    # County, pixels, nodata_pixels, raster_coverage, mean, sum, share_1, share_2, ...

* ``pixels``: valid pixels used; ``nodata_pixels``: pixels inside the polygon equal to the
  band's nodata value (left out of every statistic); ``raster_coverage``: the share (0-1) of the
  polygon's area inside the raster's extent — below 1 the polygon is partly outside the raster
  and its sum covers only the part inside.
* ``mean``, ``sum``, ``min``, ``max`` of the pixel values (units of the raster; a polygon
  without valid pixel gets an empty value); ``share_<class>``: the share (0-1) of valid pixels
  equal to each class value (``classes="all"`` uses every value found).
* The polygons are reprojected to the raster's CRS (``on_crs_mismatch="reproject"``, the
  default) or refused (``"error"``). A raster without georeferencing, or a polygon file without
  a CRS, is refused with a clear error.

Needs the ``geo`` extra (``pip install 'statcoder[geo]'``: rasterio, shapely, pyogrio, pyproj),
imported only when called.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from statcoder.errors import EstimationError, InputError

STATISTICS = ("mean", "sum", "min", "max")
CRS_MISMATCH = ("reproject", "error")
MAX_POLYGONS = 1_000_000
MAX_WINDOW_PIXELS = 400_000_000


def _geo() -> tuple[Any, Any, Any]:
    try:
        import pyogrio
        import rasterio
        import shapely
    except ImportError as exc:
        raise EstimationError(
            f"zonal statistics need the optional geo libraries ({exc.name} is not installed)",
            where="statcoder estimate zonal",
            hint="install them with: pip install 'statcoder[geo]'",
        ) from None
    return rasterio, shapely, pyogrio


def zonal_statistics(
    raster: str | Path,
    polygons: str | Path,
    *,
    id_column: str,
    statistics: Sequence[str] = ("mean", "sum"),
    classes: str | Sequence[float] | None = None,
    band: int = 1,
    all_touched: bool = False,
    on_crs_mismatch: str = "reproject",
    prefix: str = "",
    layer: str | None = None,
) -> pd.DataFrame:
    """Return one row per polygon: ``id_column``, ``pixels``, ``nodata_pixels``,
    ``raster_coverage`` and the requested statistics (see the module docstring for units)."""
    rasterio, shapely, pyogrio = _geo()
    bad = [s for s in statistics if s not in STATISTICS]
    if bad:
        raise EstimationError(
            f"unknown zonal statistic(s) {bad}", where="statistics", hint=f"use {STATISTICS}"
        )
    if on_crs_mismatch not in CRS_MISMATCH:
        raise EstimationError(
            f"unknown on_crs_mismatch {on_crs_mismatch!r}",
            where="on_crs_mismatch",
            hint=f"use one of {CRS_MISMATCH}",
        )
    raster, polygons = Path(raster), Path(polygons)
    for path in (raster, polygons):
        if not path.exists():
            raise InputError("file not found", where=str(path), hint="check the path")
    ids, geoms = _read_polygons(pyogrio, shapely, polygons, id_column, layer)
    try:
        dataset = rasterio.open(raster)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(
            f"cannot read the raster: {exc}", where=str(raster), hint="give a GeoTIFF file"
        ) from None
    with dataset as src:
        _check_raster(src, raster, band)
        geoms = _to_raster_crs(rasterio, shapely, geoms, polygons, src.crs, on_crs_mismatch)
        rows = [
            _one_polygon(rasterio, shapely, src, geom, band, all_touched, statistics)
            for geom in geoms
        ]
    frame = pd.DataFrame({id_column: ids})
    frame["pixels"] = [r["pixels"] for r in rows]
    frame["nodata_pixels"] = [r["nodata"] for r in rows]
    frame["raster_coverage"] = [r["coverage"] for r in rows]
    for name in statistics:
        frame[prefix + name] = [r[name] for r in rows]
    if classes is not None:
        values = [r["values"] for r in rows]
        if isinstance(classes, str):
            if classes != "all":
                raise EstimationError(
                    f"cannot read classes {classes!r}",
                    where="classes",
                    hint="use 'all' or a list of class values",
                )
            found = np.unique(np.concatenate([v for v in values if len(v)] or [np.array([])]))
            levels = found.tolist()
        else:
            levels = [float(c) for c in classes]
        for level in levels:
            label = int(level) if float(level).is_integer() else level
            frame[f"{prefix}share_{label}"] = [
                float(np.mean(v == level)) if len(v) else np.nan for v in values
            ]
    return frame


def _read_polygons(pyogrio, shapely, path: Path, id_column: str, layer: str | None):
    try:
        meta, _, wkb, fields = pyogrio.raw.read(path, layer=layer)
    except Exception as exc:  # noqa: BLE001 - GDAL raises many error types for unreadable files
        raise InputError(
            f"cannot read the polygon file: {exc}",
            where=str(path),
            hint="give a vector file GDAL reads (GeoPackage, shapefile, GeoJSON)",
        ) from None
    names = [str(f) for f in meta["fields"]]
    if id_column not in names:
        import difflib

        close = difflib.get_close_matches(id_column, names, n=3)
        raise InputError(
            f"column {id_column!r} not found in the polygon file",
            where=f"{path}, --id {id_column}",
            hint=(f"did you mean {' or '.join(map(repr, close))}? " if close else "")
            + f"the attributes are: {', '.join(names[:30])}",
        )
    if meta.get("crs") is None:
        raise EstimationError(
            "the polygon file has no coordinate reference system",
            where=str(path),
            hint="assign its CRS first (e.g. ogr2ogr -a_srs EPSG:4326 out.gpkg in.shp)",
        )
    if len(wkb) > MAX_POLYGONS:
        raise InputError(
            f"{len(wkb)} polygons", where=str(path), hint=f"at most {MAX_POLYGONS} per call"
        )
    ids = np.asarray(fields[names.index(id_column)]).astype(str)
    geoms = shapely.from_wkb(wkb)
    missing = [i for i, g in enumerate(geoms) if g is None or g.is_empty]
    if missing:
        raise InputError(
            f"{len(missing)} feature(s) have no geometry",
            where=f"{path}, features {[ids[i] for i in missing[:5]]}",
            hint="remove them or fix their geometry",
        )
    return ids, list(zip(geoms, [meta["crs"]] * len(geoms), strict=True))


def _check_raster(src, path: Path, band: int) -> None:
    from rasterio.transform import Affine

    if src.crs is None or src.transform == Affine.identity():
        raise EstimationError(
            "the raster is not georeferenced (no CRS or no geotransform)",
            where=str(path),
            hint="give a GeoTIFF with its coordinate reference system and geotransform "
            "(e.g. gdal_translate -a_srs EPSG:32615 -a_ullr ... in.tif out.tif)",
        )
    if not 1 <= band <= src.count:
        raise EstimationError(
            f"band {band} does not exist", where=str(path), hint=f"use a band from 1 to {src.count}"
        )


def _to_raster_crs(rasterio, shapely, geoms, path: Path, crs, on_crs_mismatch: str):
    from rasterio.crs import CRS
    from rasterio.warp import transform_geom

    source = CRS.from_user_input(geoms[0][1]) if geoms else crs
    if source == crs:
        return [g for g, _ in geoms]
    if on_crs_mismatch == "error":
        raise EstimationError(
            f"the polygons are in {source.to_string()}, the raster in {crs.to_string()}",
            where=str(path),
            hint="reproject the polygons to the raster's CRS, or allow it (--crs-mismatch "
            "reproject)",
        )
    out = []
    for geom, _ in geoms:
        moved = transform_geom(source, crs, shapely.geometry.mapping(geom))
        out.append(shapely.geometry.shape(moved))
    return out


def _one_polygon(rasterio, shapely, src, geom, band: int, all_touched: bool, statistics):
    from rasterio.features import geometry_mask
    from rasterio.windows import Window

    result: dict[str, Any] = {"pixels": 0, "nodata": 0, "values": np.array([])}
    extent = shapely.geometry.box(*src.bounds)
    area = geom.area
    result["coverage"] = float(geom.intersection(extent).area / area) if area > 0 else 0.0
    for name in statistics:
        result[name] = np.nan
    if not geom.intersects(extent):
        return result
    minx, miny, maxx, maxy = geom.bounds
    inverse = ~src.transform
    cols, rows = zip(*(inverse @ corner for corner in ((minx, maxy), (maxx, miny))), strict=True)
    col0 = max(int(np.floor(min(cols))), 0)
    row0 = max(int(np.floor(min(rows))), 0)
    col1 = min(int(np.ceil(max(cols))), src.width)
    row1 = min(int(np.ceil(max(rows))), src.height)
    if col1 <= col0 or row1 <= row0:
        return result
    window = Window(col0, row0, col1 - col0, row1 - row0)
    if window.width * window.height > MAX_WINDOW_PIXELS:
        raise EstimationError(
            f"a polygon covers {int(window.width * window.height)} pixels",
            where="zonal statistics",
            hint="use a coarser raster or smaller polygons",
        )
    data = src.read(band, window=window)
    transform = src.window_transform(window)
    inside = geometry_mask([geom], data.shape, transform, all_touched=all_touched, invert=True)
    valid = inside.copy()
    if src.nodata is not None:
        is_nodata = np.isnan(data) if np.isnan(src.nodata) else data == src.nodata
        result["nodata"] = int((inside & is_nodata).sum())
        valid &= ~is_nodata
    values = data[valid].astype(float)
    result["pixels"] = int(values.size)
    result["values"] = values
    if values.size:
        for name in statistics:
            result[name] = float(getattr(np, name)(values))
    return result
