"""Paging of the per-teacher list: reading late pages from the end gives the same rows."""

from data_access.refresh import current_snapshot, refresh
from data_access.regions import get_region
from data_access.stats import StatsFilters
from data_access.participants import TeacherFilters, TeacherScope, count_teachers, teacher_page
from data_access.trainings import training_by_code
from data_access.demo import IMPORT_ORDER, generate
from data_access.importers import import_file


def test_pages_read_from_either_end_are_the_same(engine, tmp_path):
    files = generate("small", tmp_path)
    for kind in IMPORT_ORDER:
        import_file(engine, kind, files[kind], id_key=b"k")
    refresh(engine)
    with engine.connect() as conn:
        sid = current_snapshot(conn)[0]
        training = training_by_code(conn, "2022SUMMER")
        where = TeacherScope(region=get_region(conn, "350000"))
        for f in (TeacherFilters(), TeacherFilters(StatsFilters(stage="初中")),
                  TeacherFilters(StatsFilters(certified_only=True))):
            total = count_teachers(conn, sid, training, where, f)
            forward = []
            for page in range(1, -(-total // 50) + 1):
                forward += [r.teacher_id for r in teacher_page(conn, sid, training, where, f,
                                                                page, 50)]
            assert len(forward) == total > 50 and forward == sorted(forward)
            for size in (10, 20, 50):
                pieces = []
                for page in range(1, -(-total // size) + 2):
                    pieces += [r.teacher_id for r in
                               teacher_page(conn, sid, training, where, f, page, size, total)]
                assert pieces == forward, (f, size)
