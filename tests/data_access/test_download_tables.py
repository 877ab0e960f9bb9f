"""The download-table registry (data_access/download_tables.py)."""

import pytest

from data_access.download_tables import FORMATS, TABLES, DownloadTable, url_for


def test_every_table_is_one_complete_definition():
    paths = set()
    for name, table in TABLES.items():
        assert issubclass(table, DownloadTable) and table.name == name
        assert table.label and table.columns and table.path.startswith("/export/")
        assert table.path not in paths
        paths.add(table.path)
        for method in ("authorize", "title", "count", "rows", "audit_scope"):
            assert getattr(table, method) is not getattr(DownloadTable, method), (name, method)


def test_url_for_is_the_stable_url_of_spec_6():
    assert url_for("regions", {"training_code": "T 1", "region": "350300", "q": "x"},
                   "xlsx") == "/export/training/T%201/regions.xlsx?region=350300"
    assert url_for("teachers", {"training_code": "T1", "school": "S-1", "q": "张",
                                "uncertified": "exclude"}, "csv") == (
        "/export/training/T1/teachers.csv?school=S-1&q=%E5%BC%A0&uncertified=exclude")
    assert url_for("audit", {"region": "350000"}, "csv") == "/export/audit.csv"
    with pytest.raises(ValueError):
        url_for("audit", {}, "pdf")


def test_every_table_has_its_routes(app):
    rules = {r.rule for r in app.url_map.iter_rules()}
    for table in TABLES.values():
        flask_rule = table.path + ".<fmt>"
        assert flask_rule in rules, flask_rule
    assert set(FORMATS) == {"csv", "xlsx"}
