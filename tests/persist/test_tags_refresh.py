"""Provider labels to ManageIQ tags through a whole refresh (issue 16, point 23): a container
spec reading a local Kubernetes-shaped API says ``tags: {from: metadata.labels}``; the stored
mappings (label ``zone`` of ContainerNode rows, label ``team`` of every type) give
``/managed/<category>/<value>`` tags and taggings on the node and project rows, on SQLite and
PostgreSQL; a second refresh writes nothing, a changed label moves its tagging."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from miqspec.store import ProviderStore, add_tag_mapping

from ..spec.catalogue_fakes import add_provider, refresh, rows, serve, write_spec

SPEC = """\
verify:
  call: get_namespaces
calls:
  get_namespaces: {path: /api/v1/namespaces, records: items}
  get_nodes: {path: /api/v1/nodes, records: items}
collections:
  container_projects:
    from: get_namespaces
    tags: {from: metadata.labels}
    attributes: {ems_ref: metadata.uid, name: metadata.name}
  container_nodes:
    from: get_nodes
    tags: {from: metadata.labels}
    attributes: {ems_ref: metadata.uid, name: metadata.name}
"""


def routes() -> dict[str, Any]:
    def item(uid: str, name: str, labels: dict[str, str]) -> dict[str, Any]:
        return {"metadata": {"uid": uid, "name": name, "labels": labels}}

    return {
        "/api/v1/namespaces": {
            "items": [item("ns-1", "shop", {"team": "Web Shop"}), item("ns-2", "ops", {})]
        },
        "/api/v1/nodes": {
            "items": [
                item("node-1", "worker-1", {"zone": "eu-1", "team": "ops"}),
                item("node-2", "worker-2", {"zone": "eu-2"}),
            ]
        },
    }


TAGGED = """
select g.taggable_type, coalesce(n.name, p.name), t.name from taggings g
join tags t on t.id = g.tag_id
left join container_nodes n on g.taggable_type = 'ContainerNode' and n.id = g.taggable_id
left join container_projects p on g.taggable_type = 'ContainerProject' and p.id = g.taggable_id
"""


def test_labels_become_tags_in_a_refresh(engine: sa.Engine, keyring: Any, tmp_path: Path) -> None:
    path = write_spec(tmp_path, "kube_tags", "container", SPEC)
    add_tag_mapping(engine, "zone", "zone", resource_type="ContainerNode")
    add_tag_mapping(engine, "team", "team")
    api_routes = routes()
    with serve(api_routes) as api:
        add_provider(engine, keyring, path, api)
        first = refresh(engine, keyring, "kube_tags")
        assert first.report.tags == {"added": 4, "removed": 0, "entries": 4}
        assert set(rows(engine, TAGGED)) == {
            ("ContainerProject", "shop", "/managed/team/web_shop"),
            ("ContainerNode", "worker-1", "/managed/zone/eu_1"),
            ("ContainerNode", "worker-1", "/managed/team/ops"),
            ("ContainerNode", "worker-2", "/managed/zone/eu_2"),
        }
        assert rows(
            engine,
            "select c.description from classifications c join tags t on t.id = c.tag_id"
            " where t.name = '/managed/team/web_shop'",
        ) == [("Web Shop",)]
        again = refresh(engine, keyring, "kube_tags")
        assert again.report.rows_written == 0
        assert again.report.tags == {"added": 0, "removed": 0, "entries": 0}

        changed = copy.deepcopy(api_routes)
        changed["/api/v1/nodes"]["items"][0]["metadata"]["labels"] = {"zone": "eu-2"}
        api.routes.update(changed)
        third = refresh(engine, keyring, "kube_tags")
    assert third.report.tags == {"added": 1, "removed": 2, "entries": 0}
    assert set(rows(engine, TAGGED)) == {
        ("ContainerProject", "shop", "/managed/team/web_shop"),
        ("ContainerNode", "worker-1", "/managed/zone/eu_2"),
        ("ContainerNode", "worker-2", "/managed/zone/eu_2"),
    }
    ProviderStore(engine).delete("kube_tags")  # the rows go, and their taggings with them
    assert rows(engine, "select count(*) from taggings") == [(0,)]
    assert rows(engine, "select count(*) from provider_tag_mappings") == [(2,)]
