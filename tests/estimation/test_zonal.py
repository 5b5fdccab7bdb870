"""Zonal statistics on small rasters and polygons written by the test, with known answers."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pyogrio  # the geo extra is part of dev: a missing package fails, never skips
import pytest
import rasterio
import shapely

from statcoder.errors import EstimationError, InputError
from statcoder.estimation.zonal import zonal_statistics

UTM = "EPSG:32615"  # metres; 10 x 10 pixels of 10 m, top-left corner at (0, 100)


def _raster(path: Path, values: np.ndarray, *, nodata: float | None = -1, georef: bool = True):
    from rasterio.transform import from_origin

    profile = {
        "driver": "GTiff",
        "height": values.shape[0],
        "width": values.shape[1],
        "count": 1,
        "dtype": values.dtype.name,
    }
    if georef:
        profile |= {"crs": UTM, "transform": from_origin(0, 100, 10, 10)}
    if nodata is not None:
        profile["nodata"] = nodata
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NotGeoreferencedWarning for the bad raster
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(values, 1)
    return path


def _polygons(path: Path, boxes: dict[str, tuple[float, float, float, float]], crs: str = UTM):
    geoms = [shapely.geometry.box(*b) for b in boxes.values()]
    if crs != UTM:
        from pyproj import Transformer

        move = Transformer.from_crs(UTM, crs, always_xy=True)
        geoms = [
            shapely.transform(g, lambda xy: np.column_stack(move.transform(xy[:, 0], xy[:, 1])))
            for g in geoms
        ]
    pyogrio.raw.write(
        path,
        geometry=np.array([g.wkb for g in geoms], dtype=object),
        field_data=[np.array(list(boxes), dtype=object)],
        fields=["County"],
        crs=crs,
        driver="GPKG",
        geometry_type="Polygon",
    )
    return path


BOXES = {
    "A": (0, 50, 50, 100),  # top-left 5 x 5 pixels, columns 0-4
    "B": (50, 0, 100, 50),  # bottom-right 5 x 5 pixels, one of them nodata
    "C": (80, 80, 130, 100),  # partly outside: 2 x 2 pixels inside, 40 % of its area
    "D": (200, 200, 210, 210),  # entirely outside
}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, Path]:
    values = np.tile(np.arange(10, dtype="float32"), (10, 1))  # value = column index
    values[9, 9] = -1  # nodata
    classes = np.tile(np.array([1, 1, 1, 2, 2, 2, 2, 3, 3, 3], dtype="int16"), (10, 1))
    return (
        _raster(tmp_path / "values.tif", values),
        _raster(tmp_path / "classes.tif", classes, nodata=None),
        _polygons(tmp_path / "areas.gpkg", BOXES),
    )


def test_zonal_mean_sum_nodata_and_partly_outside(files) -> None:
    values, _, areas = files
    table = zonal_statistics(values, areas, id_column="County").set_index("County")
    assert table.loc["A", "pixels"] == 25 and table.loc["A", "nodata_pixels"] == 0
    assert table.loc["A", "mean"] == pytest.approx(2.0)
    assert table.loc["A", "sum"] == pytest.approx(50.0)
    assert table.loc["B", "pixels"] == 24 and table.loc["B", "nodata_pixels"] == 1
    assert table.loc["B", "sum"] == pytest.approx(5 * (5 + 6 + 7 + 8 + 9) - 9)
    assert table.loc["B", "mean"] == pytest.approx(166 / 24)
    assert table.loc["C", "pixels"] == 4 and table.loc["C", "sum"] == pytest.approx(34.0)
    assert table.loc["C", "raster_coverage"] == pytest.approx(0.4)
    assert table.loc["A", "raster_coverage"] == pytest.approx(1.0)
    assert table.loc["D", "pixels"] == 0 and table.loc["D", "raster_coverage"] == 0
    assert np.isnan(table.loc["D", "mean"])


def test_zonal_class_shares(files) -> None:
    _, classes, areas = files
    table = zonal_statistics(
        classes, areas, id_column="County", statistics=(), classes="all", prefix="lc_"
    ).set_index("County")
    assert table.loc["A", ["lc_share_1", "lc_share_2", "lc_share_3"]].tolist() == pytest.approx(
        [0.6, 0.4, 0.0]
    )
    assert table.loc["B", ["lc_share_2", "lc_share_3"]].tolist() == pytest.approx([0.4, 0.6])
    chosen = zonal_statistics(classes, areas, id_column="County", statistics=(), classes=[3])
    assert list(chosen.columns[-1:]) == ["share_3"]


def test_polygons_in_another_crs_are_reprojected_or_refused(files, tmp_path: Path) -> None:
    values, _, _ = files
    lonlat = _polygons(tmp_path / "lonlat.gpkg", BOXES, crs="EPSG:4326")
    table = zonal_statistics(values, lonlat, id_column="County").set_index("County")
    assert table.loc["A", "pixels"] == 25 and table.loc["A", "sum"] == pytest.approx(50.0)
    assert table.loc["B", "sum"] == pytest.approx(166.0)
    with pytest.raises(EstimationError) as info:
        zonal_statistics(values, lonlat, id_column="County", on_crs_mismatch="error")
    assert "EPSG:4326" in info.value.message and "EPSG:32615" in info.value.message


def test_bad_inputs(files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values, _, areas = files
    flat = _raster(tmp_path / "flat.tif", np.ones((4, 4), dtype="float32"), georef=False)
    with pytest.raises(EstimationError) as info:
        zonal_statistics(flat, areas, id_column="County")
    assert "not georeferenced" in info.value.message and "flat.tif" in info.value.where
    with pytest.raises(InputError, match="did you mean 'County'"):
        zonal_statistics(values, areas, id_column="county")
    with pytest.raises(InputError, match="file not found"):
        zonal_statistics(tmp_path / "none.tif", areas, id_column="County")
    with pytest.raises(EstimationError, match="band 2 does not exist"):
        zonal_statistics(values, areas, id_column="County", band=2)
    monkeypatch.setitem(sys.modules, "rasterio", None)  # as if the geo extra were missing
    with pytest.raises(EstimationError, match=r"statcoder\[geo\]"):
        zonal_statistics(values, areas, id_column="County")


def test_zonal_command(files, tmp_path: Path) -> None:
    import pandas as pd
    from typer.testing import CliRunner

    from statcoder.cli import app

    values, classes, areas = files
    out = tmp_path / "z.csv"
    runner = CliRunner()
    args = ["estimate", "zonal", "--raster", str(values), "--polygons", str(areas)]
    result = runner.invoke(app, [*args, "--id", "County", "--out", str(out), "--stat", "mean"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"County": str}).set_index("County")
    assert table.loc["A", "mean"] == pytest.approx(2.0) and "sum" not in table.columns
    lonlat = _polygons(tmp_path / "ll.gpkg", BOXES, crs="EPSG:4326")
    refused = runner.invoke(
        app,
        ["estimate", "zonal", "--raster", str(values), "--polygons", str(lonlat), "--id",
         "County", "--out", str(out), "--crs-mismatch", "error"],
    )  # fmt: skip
    assert refused.exit_code == 2 and "EPSG:4326" in refused.output
    shares = runner.invoke(
        app,
        ["estimate", "zonal", "--raster", str(classes), "--polygons", str(areas), "--id",
         "County", "--out", str(out), "--classes", "1,3"],
    )  # fmt: skip
    assert shares.exit_code == 0, shares.output
    table = pd.read_csv(out, dtype={"County": str}).set_index("County")
    assert table.loc["A", "share_1"] == pytest.approx(0.6)
