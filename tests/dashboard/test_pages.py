"""The frame around every screen: menus that open their screens, pages in Chinese, error
pages inside the product's frame with a way back."""

import dash
import pytest

from tests.helpers import PASSWORD, csrf, login, make_admin


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.get("props", {}).values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def menu_items(client) -> list[dict]:
    layout = client.get("/_dash-layout").get_json()
    return [n for n in _walk(layout)
            if isinstance(n.get("props", {}).get("id"), dict)
            and n["props"]["id"].get("type") == "shell-menu-item"]


@pytest.mark.parametrize("role, scope", [("region_training", "350000"),
                                         ("region_super", "350300"),
                                         ("school_admin", "S-XY-1")])
def test_every_menu_entry_opens_its_screen(app, client, role, scope):
    from tests.helpers import build_dataset

    engine = app.extensions["yanxiu"].engine
    build_dataset(engine)
    login(client, make_admin(engine, role, scope))
    items = menu_items(client)
    assert items, "no menu"
    dash_paths = {p["path"] for p in dash.page_registry.values()}
    for item in items:
        href = item["props"]["href"]
        if item["type"] == "Link":
            # A client-side link only works for a screen Dash itself renders.
            assert href in dash_paths, (href, "is not a Dash page: the click opens 页面不存在")
        else:
            assert item["type"] == "A"
            page = client.get(href)
            assert page.status_code == 200, href
            assert "页面不存在" not in page.get_data(as_text=True)
    assert any(i["props"]["href"] == "/bind" for i in items)


def test_binding_page_for_a_bound_user_has_the_frame_with_its_entry_highlighted(app, client):
    engine = app.extensions["yanxiu"].engine
    login(client, make_admin(engine, "region_training", "350000"))
    html = client.get("/bind").get_data(as_text=True)
    assert 'class="leftmenu"' in html
    assert 'class="menu-item active" href="/bind"' in html
    assert 'href="/codes"' in html and "退出" in html


def test_index_page_is_chinese(app, client):
    login(client, make_admin(app.extensions["yanxiu"].engine, "region_training", "350000"))
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "Loading..." not in html and "正在加载" in html


def test_error_pages_are_chinese_in_the_frame_with_a_way_back(app, client):
    engine = app.extensions["yanxiu"].engine
    login(client, make_admin(engine, "region_training", "350300"))
    missing = client.get("/export/training/T2022/regions.pdf",
                         headers={"Referer": "http://localhost/codes"})
    assert missing.status_code == 404
    text = missing.get_data(as_text=True)
    assert "页面不存在" in text and 'class="leftmenu"' in text
    assert 'href="/codes"' in text and "返回上一页" in text and "返回工作台" in text
    assert "Not Found" not in text and "The requested URL" not in text
    denied = client.get("/export/training/T2022/regions.csv?region=350000")
    assert denied.status_code in (403, 404)
    assert "Forbidden" not in denied.get_data(as_text=True)
    # a form posted without its token
    expired = client.post("/bind", data={"code": "x"})
    assert expired.status_code == 400
    assert "表单已过期" in expired.get_data(as_text=True)
    assert "Bad Request" not in expired.get_data(as_text=True)
    # a wrong method
    wrong = client.post("/export/training/T2022/regions.csv")
    assert wrong.status_code == 405 and "请求方式无效" in wrong.get_data(as_text=True)


def test_error_page_for_an_anonymous_visitor_leads_to_the_login(app, client):
    page = client.post("/login", data={})  # no CSRF token
    assert page.status_code == 400
    text = page.get_data(as_text=True)
    assert "表单已过期" in text and 'href="/login"' in text and "前往登录" in text


def test_internal_errors_get_a_chinese_page(app, client):
    def boom():
        raise RuntimeError("broken on purpose")

    app.add_url_rule("/export/boom", "boom", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    login(client, make_admin(app.extensions["yanxiu"].engine, "region_training", "350000"))
    page = client.get("/export/boom")
    assert page.status_code == 500
    text = page.get_data(as_text=True)
    assert "系统内部错误" in text and "Internal Server Error" not in text
    assert "broken on purpose" not in text


def test_login_page_links_to_registration(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/register"' in html and "注册账号" in html


def test_binding_page_starts_with_the_name_and_phone_given_at_registration(client):
    token = csrf(client)
    client.post("/register", data={"account": "wanglin01", "password": PASSWORD,
                                   "name": "王琳", "phone": "13912345678",
                                   "csrf_token": token})
    html = client.get("/bind").get_data(as_text=True)
    assert 'id="contact_name" name="contact_name"' in html
    assert 'value="王琳"' in html and 'value="13912345678"' in html
