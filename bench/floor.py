"""The floor: the least work any refresh of awesome_cloud must do, written by hand.

One ``requests.Session`` fetches every page, stdlib ``json`` decodes, and SQLAlchemy Core
``executemany`` inserts flavors, templates and vms into a fresh database in one transaction,
with foreign keys resolved through a dict. No change detection, no references by name, no
status: it is the yardstick miqspec's refresh is measured against (bench/README.md).

Usage: python bench/floor.py BASE_URL DATABASE_URL
"""

from __future__ import annotations

import json
import sys
import time

import requests
import sqlalchemy as sa


def fetch_all(session: requests.Session, url: str) -> list[dict]:
    items: list[dict] = []
    token = None
    while True:
        params = {"limit": 1000}
        if token:
            params["next_token"] = token
        resp = session.get(url, params=params, timeout=60)
        resp.raise_for_status()
        body = json.loads(resp.content)
        items.extend(body["items"])
        token = body.get("next_token")
        if not token:
            return items


def main(base: str, db_url: str) -> dict[str, float]:
    t0 = time.perf_counter()
    session = requests.Session()
    token = session.post(
        f"{base}/auth/tokens", json={"access_key": "AKIA-SIM", "secret_key": "sim-secret"}
    ).json()["token"]
    session.headers["Authorization"] = f"Bearer {token}"
    flavors = fetch_all(session, f"{base}/instance_types")
    images = fetch_all(session, f"{base}/images")
    instances = fetch_all(session, f"{base}/instances")
    t1 = time.perf_counter()

    md = sa.MetaData()
    ft = sa.Table(
        "flavors",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ems_id", sa.Integer),
        sa.Column("ems_ref", sa.String),
        sa.Column("name", sa.String),
        sa.Column("cpu_total_cores", sa.Integer),
        sa.Column("memory", sa.BigInteger),
        sa.Column("type", sa.String),
    )
    vt = sa.Table(
        "vms",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ems_id", sa.Integer),
        sa.Column("ems_ref", sa.String),
        sa.Column("uid_ems", sa.String),
        sa.Column("name", sa.String),
        sa.Column("location", sa.String),
        sa.Column("vendor", sa.String),
        sa.Column("raw_power_state", sa.String),
        sa.Column("power_state", sa.String),
        sa.Column("template", sa.Boolean),
        sa.Column("type", sa.String),
        sa.Column("flavor_id", sa.Integer),
    )
    engine = sa.create_engine(db_url)
    md.drop_all(engine)
    md.create_all(engine)
    power = {"running": "on", "stopped": "off", "suspended": "suspended"}
    with engine.begin() as conn:
        conn.execute(
            ft.insert(),
            [
                {
                    "id": i,
                    "ems_id": 1,
                    "ems_ref": f["id"],
                    "name": f["name"],
                    "cpu_total_cores": f["n_cpus"],
                    "memory": f["ram"],
                    "type": "Flavor",
                }
                for i, f in enumerate(flavors, 1)
            ],
        )
        flavor_ids = {f["id"]: i for i, f in enumerate(flavors, 1)}
        conn.execute(
            vt.insert(),
            [
                {
                    "id": i,
                    "ems_id": 1,
                    "ems_ref": m["id"],
                    "uid_ems": m["id"],
                    "name": m["name"],
                    "location": "unknown",
                    "vendor": "awesome_cloud",
                    "raw_power_state": "never",
                    "power_state": "never",
                    "template": True,
                    "type": "Template",
                    "flavor_id": None,
                }
                for i, m in enumerate(images, 1)
            ],
        )
        base_id = len(images)
        conn.execute(
            vt.insert(),
            [
                {
                    "id": base_id + i,
                    "ems_id": 1,
                    "ems_ref": v["id"],
                    "uid_ems": v["id"],
                    "name": v["name"],
                    "location": v["availability_zone"],
                    "vendor": "awesome_cloud",
                    "raw_power_state": v["power_state"],
                    "power_state": power.get(v["power_state"]),
                    "template": False,
                    "type": "Vm",
                    "flavor_id": flavor_ids.get(v["flavor"]),
                }
                for i, v in enumerate(instances, 1)
            ],
        )
    t2 = time.perf_counter()
    engine.dispose()
    return {
        "fetch": t1 - t0,
        "write": t2 - t1,
        "total": t2 - t0,
        "rows": len(flavors) + len(images) + len(instances),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
