"""Display helpers shared by layouts (numbers themselves are formatted by data_access.metrics)."""

UNCERTIFIED_OPTIONS = [{"label": "包含", "value": "include"}, {"label": "不包含", "value": "exclude"}]
ALL = "全部"


def options(values, all_label: str = ALL) -> list[dict]:
    return [{"label": all_label, "value": ""}] + [{"label": v, "value": v} for v in values]
