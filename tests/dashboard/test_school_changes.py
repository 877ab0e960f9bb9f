"""A school deleted or moved in 学校管理 changes what people may see on their very next
request, without a new login (SPEC §3, §4.4)."""

from sqlalchemy import select

from data_access import accounts, schools
from data_access.models import User
from data_access.refresh import refresh
from data_access.scope import scope_of
from tests.helpers import build_dataset, login, make_admin


def _scope(engine, account):
    with engine.connect() as conn:
        uid = conn.scalar(select(User.id).where(User.account == account))
        return scope_of(conn, uid, accounts.active_bindings(conn, uid)[0].id)


def test_a_deleted_schools_admin_loses_the_scope_on_the_next_request(app, client):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    login(client, make_admin(engine, "school_admin", "S-XY-1", "school-one"))
    assert client.get("/").status_code == 200
    assert client.get("/export/training/T2022/teachers.csv").status_code == 200
    make_admin(engine, "region_training", "350322", "xianyou-admin")
    with engine.begin() as conn:
        schools.delete_school(conn, _scope(engine, "xianyou-admin"), "S-XY-1")
    assert client.get("/export/training/T2022/teachers.csv").status_code == 403
    assert client.get("/").headers["Location"] == "/bind"


def test_a_moved_school_follows_its_admin_and_changes_county(app, client):
    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    refresh(engine)
    school = app.test_client()
    login(school, make_admin(engine, "school_admin", "S-XY-1", "school-one"))
    login(client, make_admin(engine, "region_training", "350322", "xianyou-admin"))
    licheng = app.test_client()
    login(licheng, make_admin(engine, "region_training", "350304", "licheng-admin"))
    url = "/export/training/T2022/teachers.csv?school=S-XY-1"
    assert client.get(url).status_code == 200
    assert licheng.get(url).status_code == 403

    make_admin(engine, "region_training", "350300", "putian-admin")
    with engine.begin() as conn:
        schools.move_school(conn, _scope(engine, "putian-admin"), "S-XY-1", "350304")
    # the old county no longer reaches the school, the new one does; its admin keeps it
    assert client.get(url).status_code == 403
    assert licheng.get(url).status_code == 200
    assert school.get("/export/training/T2022/teachers.csv").status_code == 200
    assert school.get("/").status_code == 200
