"""A container manager refreshed with the catalogue alone (issue 16, point 17): no ``models:``.

A spec written here reads a local Kubernetes-shaped API (namespaces, nodes, pods, services,
replication controllers, persistent volumes and claims, quotas, limit ranges, routes) into
ManageIQ's container collections, on SQLite and PostgreSQL at the head migration. The rows
keep ManageIQ's tables and references (pods -> node, project, replicator and services; a
node -> the VM it lives on, in another manager; persistent volumes -> the manager through
parent_id/parent_type); labels and selectors are custom_attributes; what vanishes is
archived (deleted_on) where ManageIQ archives it, deleted elsewhere.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from .catalogue_fakes import add_provider, refresh, rows, serve, write_spec

NS = [("ns-1", "default", {"team": "web"}), ("ns-2", "ops", {})]


def _meta(uid: str, name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta = {"uid": uid, "name": name, "resourceVersion": "7",
            "creationTimestamp": "2024-05-01T10:00:00Z", **extra}  # fmt: skip
    if namespace:
        meta["namespace"] = namespace
    return meta


def _container(name: str, image: str, port: int) -> dict[str, Any]:
    return {"name": name, "image": image,
            "ports": [{"containerPort": port, "protocol": "TCP", "name": "http"}],
            "env": [{"name": "MODE", "value": "prod"},
                    {"name": "DEBUG", "value": "0"}]}  # fmt: skip


def _status(name: str, image_id: str) -> dict[str, Any]:
    return {"name": name, "imageID": image_id, "restartCount": 2,
            "state": {"running": {"startedAt": "2024-05-01T10:01:00Z"}}}  # fmt: skip


WEB = "registry.example.com:5000/shop/web:1.0"
WEB_ID = "docker-pullable://registry.example.com:5000/shop/web@sha256:aaa"
LOG = "registry.example.com:5000/ops/log:2"
LOG_ID = "docker-pullable://registry.example.com:5000/ops/log@sha256:bbb"


def _pod(uid: str, name: str, node: str, app: str, containers: list[Any]) -> dict[str, Any]:
    return {
        "metadata": _meta(uid, name, "default", labels={"app": app},
                          ownerReferences=[{"kind": "ReplicationController", "uid": "rc-1"}]),
        "spec": {"nodeName": node, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                 "nodeSelector": {"disk": "ssd"},
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "pvc"}},
                             {"name": "tmp", "emptyDir": {}}],
                 "containers": [_container(n, i, p) for n, i, _, p in containers]},
        "status": {"phase": "Running", "podIP": "10.0.0.9",
                   "conditions": [{"type": "Ready", "status": "True"},
                                  {"type": "PodScheduled", "status": "True"}],
                   "containerStatuses": [_status(n, d) for n, _, d, _ in containers]},
    }  # fmt: skip


def api_routes() -> dict[str, Any]:
    nodes = [
        {"metadata": _meta(f"node-{i}", f"worker-{i}", labels={"zone": "a"}),
         "status": {"nodeInfo": {"kubeletVersion": "v1.29.1", "containerRuntimeVersion":
                                 "cri-o://1.29", "systemUUID": f"SYS-{i}", "osImage": "RHCOS 4",
                                 "kernelVersion": "5.14.0"},
                    "capacity": {"cpu": "8", "memory": "16384Mi", "pods": "250"},
                    "allocatable": {"cpu": "7.5", "pods": "250"},
                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                    "lastHeartbeatTime": "2024-05-01T10:05:00Z"}]}}
        for i in (1, 2)
    ]  # fmt: skip
    pods = [
        _pod("pod-1", "web-a", "worker-1", "web", [("web", WEB, WEB_ID, 8080)]),
        _pod("pod-2", "web-b", "worker-2", "web",
             [("web", WEB, WEB_ID, 8080), ("log", LOG, LOG_ID, 9000)]),
        _pod("pod-3", "cron", "worker-2", "cron", [("log", LOG, LOG_ID, 9100)]),
    ]  # fmt: skip
    services = [
        {"metadata": _meta("svc-1", "web", "default", labels={"tier": "front"}),
         "spec": {"selector": {"app": "web"}, "clusterIP": "172.30.0.10", "type": "ClusterIP",
                  "sessionAffinity": "None",
                  "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                            {"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"}]}},
        {"metadata": _meta("svc-2", "cron", "default"),
         "spec": {"selector": {"app": "cron"}, "type": "ClusterIP", "ports": []}},
    ]  # fmt: skip
    return {
        "/api/v1/namespaces": {"items": [
            {"metadata": _meta(uid, name, labels=labels), "status": {"phase": "Active"}}
            for uid, name, labels in NS]},
        "/api/v1/nodes": {"items": nodes},
        "/api/v1/pods": {"items": pods},
        "/api/v1/services": {"items": services},
        "/api/v1/replicationcontrollers": {"items": [
            {"metadata": _meta("rc-1", "web-1", "default"),
             "spec": {"replicas": 2, "selector": {"app": "web"}},
             "status": {"replicas": 2}}]},
        "/api/v1/persistentvolumes": {"items": [
            {"metadata": _meta("pv-1", "pv-nfs"),
             "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany"],
                      "persistentVolumeReclaimPolicy": "Retain",
                      "nfs": {"server": "nfs.example.com", "path": "/exports/pv1"},
                      "claimRef": {"uid": "pvc-1"}},
             "status": {"phase": "Bound"}}]},
        "/api/v1/persistentvolumeclaims": {"items": [
            {"metadata": _meta("pvc-1", "pvc", "default"),
             "spec": {"accessModes": ["ReadWriteMany"],
                      "resources": {"requests": {"storage": "5Gi"}}},
             "status": {"phase": "Bound", "accessModes": ["ReadWriteMany"],
                        "capacity": {"storage": "10Gi"}}}]},
        "/api/v1/resourcequotas": {"items": [
            {"metadata": _meta("rq-1", "quota", "default"),
             "spec": {"hard": {"pods": "10", "cpu": "4"}, "scopes": ["NotTerminating"]},
             "status": {"hard": {"pods": "10", "cpu": "4"}, "used": {"pods": "3", "cpu": "1.5"}}}]},
        "/api/v1/limitranges": {"items": [
            {"metadata": _meta("lr-1", "limits", "default"),
             "spec": {"limits": [{"type": "Container", "max": {"cpu": "2", "memory": "1Gi"},
                                  "default": {"cpu": "500m"}}]}}]},
        "/apis/route.openshift.io/v1/routes": {"items": [
            {"metadata": _meta("route-1", "web", "default", labels={"expose": "yes"}),
             "spec": {"host": "web.apps.example.com", "path": "/", "to": {"name": "web"}}}]},
    }  # fmt: skip


SPEC = (Path(__file__).parent / "catalogue_specs" / "kube_fake.yaml").read_text()


def test_container_manager_without_models(engine, keyring, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_spec(tmp_path, "kube_fake", "container", SPEC)
    assert "models:" not in path.read_text()
    routes = api_routes()
    with serve(routes) as api:
        ems = add_provider(engine, keyring, path, api)
        with engine.begin() as conn:  # node worker-1 runs on a VM of another manager
            conn.exec_driver_sql(
                "insert into vms (ems_id, ems_ref, uid_ems, name, template, type) values "
                "(999, 'vm-77', 'SYS-1', 'worker-1-vm', false, "
                "'ManageIQ::Providers::Vmware::InfraManager::Vm')"
            )
        first = refresh(engine, keyring, "kube_fake")
        again = refresh(engine, keyring, "kube_fake")
        check_rows(engine, ems)
        assert again.report.rows_written == 0
        assert not [w for w in first.warnings if "dropped" in w], first.warnings

        # pod-3 and the cron service go; an image stays; the quota's pod count changes
        changed = copy.deepcopy(routes)
        changed["/api/v1/pods"]["items"].pop()
        changed["/api/v1/services"]["items"].pop()
        changed["/api/v1/resourcequotas"]["items"][0]["status"]["used"]["pods"] = "2"
        api.routes.update(changed)
        third = refresh(engine, keyring, "kube_fake")
    check_archived(engine, third)


def check_rows(engine, ems: int) -> None:  # type: ignore[no-untyped-def]
    projects = "select ems_id, name, status_phase from container_projects order by name"
    assert rows(engine, projects) == [(ems, "default", "Active"), (ems, "ops", "Active")]
    nodes = rows(engine, "select name, type, lives_on_type, lives_on_id, allocatable_cpus "
                 "from container_nodes order by name")  # fmt: skip
    vm_id = rows(engine, "select id from vms where ems_ref = 'vm-77'")[0][0]
    assert nodes == [
        ("worker-1", "ManageIQ::Providers::KubeFake::ContainerManager::ContainerNode",
         "ManageIQ::Providers::Vmware::InfraManager::Vm", vm_id, 7.5),
        ("worker-2", "ManageIQ::Providers::KubeFake::ContainerManager::ContainerNode",
         None, None, 7.5)]  # fmt: skip
    # pods: node, project, replicator and services resolved
    pods = rows(
        engine,
        """
        select g.name, n.name, p.name, r.name from container_groups g
        join container_nodes n on n.id = g.container_node_id
        join container_projects p on p.id = g.container_project_id
        join container_replicators r on r.id = g.container_replicator_id
        order by g.name""",
    )
    assert pods == [
        ("cron", "worker-2", "default", "web-1"),
        ("web-a", "worker-1", "default", "web-1"),
        ("web-b", "worker-2", "default", "web-1"),
    ]
    assert rows(engine, """
        select g.name, s.name from container_groups_container_services j
        join container_groups g on g.id = j.container_group_id
        join container_services s on s.id = j.container_service_id order by 1""") == [
        ("cron", "cron"), ("web-a", "web"), ("web-b", "web")]  # fmt: skip
    # containers: their pod and image; the image its registry
    registry = ("registry.example.com", "5000")
    assert rows(engine, """
        select g.name, c.name, c.restart_count, c.state, i.name, i.tag, r.host, r.port
        from containers c join container_groups g on g.id = c.container_group_id
        join container_images i on i.id = c.container_image_id
        join container_image_registries r on r.id = i.container_image_registry_id
        order by 1, 2""") == [
        ("cron", "log", 2, "running", "ops/log", "2", *registry),
        ("web-a", "web", 2, "running", "shop/web", "1.0", *registry),
        ("web-b", "log", 2, "running", "ops/log", "2", *registry),
        ("web-b", "web", 2, "running", "shop/web", "1.0", *registry)]  # fmt: skip
    assert rows(engine, "select count(*) from container_images") == [(2,)]
    assert rows(
        engine,
        """
        select c.name, p.port, p.protocol from container_port_configs p
        join containers c on c.id = p.container_id order by 2""",
    ) == [("web", 8080, "TCP"), ("web", 8080, "TCP"), ("log", 9000, "TCP"), ("log", 9100, "TCP")]
    env = "select count(*), count(distinct container_id) from container_env_vars"
    assert rows(engine, env) == [(8, 4)]
    # labels and selectors: custom attributes by section and resource type
    assert rows(engine, """
        select resource_type, section, name, value from custom_attributes
        order by 1, 2, 3, 4""") == [
        ("ContainerGroup", "labels", "app", "cron"), ("ContainerGroup", "labels", "app", "web"),
        ("ContainerGroup", "labels", "app", "web"),
        ("ContainerGroup", "node_selectors", "disk", "ssd"),
        ("ContainerGroup", "node_selectors", "disk", "ssd"),
        ("ContainerGroup", "node_selectors", "disk", "ssd"),
        ("ContainerNode", "labels", "zone", "a"), ("ContainerNode", "labels", "zone", "a"),
        ("ContainerProject", "labels", "team", "web"),
        ("ContainerReplicator", "selectors", "app", "web"),
        ("ContainerService", "labels", "tier", "front"),
        ("ContainerService", "selectors", "app", "cron"),
        ("ContainerService", "selectors", "app", "web")]  # fmt: skip
    assert rows(engine, """
        select container_entity_type, name, status from container_conditions order by 1, 2""") == [
        ("ContainerGroup", "PodScheduled", "True"), ("ContainerGroup", "PodScheduled", "True"),
        ("ContainerGroup", "PodScheduled", "True"), ("ContainerGroup", "Ready", "True"),
        ("ContainerGroup", "Ready", "True"), ("ContainerGroup", "Ready", "True"),
        ("ContainerNode", "Ready", "True"), ("ContainerNode", "Ready", "True")]  # fmt: skip
    # node hardware and OS through the computer system
    assert rows(engine, """
        select n.name, h.cpu_total_cores, h.memory_mb, o.distribution from container_nodes n
        join computer_systems cs on cs.managed_entity_id = n.id
             and cs.managed_entity_type = 'ContainerNode'
        join hardwares h on h.computer_system_id = cs.id
        join operating_systems o on o.computer_system_id = cs.id order by 1""") == [
        ("worker-1", 8, 16384, "RHCOS 4"), ("worker-2", 8, 16384, "RHCOS 4")]  # fmt: skip
    # services, their ports, routes
    assert rows(engine, """
        select s.name, p.name, p.port, p.target_port, p.protocol
        from container_service_port_configs p
        join container_services s on s.id = p.container_service_id order by 3""") == [
        ("web", "dns", 53, "53", "UDP"), ("web", "http", 80, "8080", "TCP")]  # fmt: skip
    assert rows(
        engine,
        """
        select r.host_name, s.name, p.name from container_routes r
        join container_services s on s.id = r.container_service_id
        join container_projects p on p.id = r.container_project_id""",
    ) == [("web.apps.example.com", "web", "default")]
    # volumes: the persistent volume owned by the manager (parent), a pod's volumes by the pod
    assert rows(
        engine,
        """
        select v.name, v.type, v.parent_type, v.parent_id, v.nfs_server, c.name
        from container_volumes v left join persistent_volume_claims c
             on c.id = v.persistent_volume_claim_id
        where v.parent_type = 'ExtManagementSystem'""",
    ) == [("pv-nfs", "PersistentVolume", "ExtManagementSystem", ems, "nfs.example.com", "pvc")]
    assert rows(engine, """
        select g.name, v.name, v.type, c.name from container_volumes v
        join container_groups g on g.id = v.parent_id and v.parent_type = 'ContainerGroup'
        left join persistent_volume_claims c on c.id = v.persistent_volume_claim_id
        order by 1, 2""") == [
        ("cron", "data", None, "pvc"), ("cron", "tmp", None, None),
        ("web-a", "data", None, "pvc"), ("web-a", "tmp", None, None),
        ("web-b", "data", None, "pvc"), ("web-b", "tmp", None, None)]  # fmt: skip
    # quotas and limits
    assert rows(
        engine,
        """
        select q.name, i.resource, i.quota_desired, i.quota_enforced, i.quota_observed
        from container_quota_items i join container_quotas q on q.id = i.container_quota_id
        order by 2""",
    ) == [("quota", "cpu", 4.0, 4.0, 1.5), ("quota", "pods", 10.0, 10.0, 3.0)]
    assert rows(engine, "select scope from container_quota_scopes") == [("NotTerminating",)]
    assert rows(
        engine,
        """
        select l.name, i.item_type, i.resource, i.max, i."default" from container_limit_items i
        join container_limits l on l.id = i.container_limit_id order by 3""",
    ) == [
        ("limits", "Container", "cpu", "2", "500m"),
        ("limits", "Container", "memory", "1Gi", None),
    ]


def check_archived(engine, third) -> None:  # type: ignore[no-untyped-def]
    # ManageIQ archives pods, containers and quota items (deleted_on); services are deleted
    assert rows(
        engine,
        """
        select name, deleted_on is not null from container_groups order by name""",
    ) == [("cron", True), ("web-a", False), ("web-b", False)]
    assert rows(
        engine,
        """
        select c.name, c.deleted_on is not null from containers c
        join container_groups g on g.id = c.container_group_id where g.name = 'cron'""",
    ) == [("log", True)]
    assert rows(engine, "select name from container_services") == [("web",)]
    # the archived container's port config and env vars are left as they are
    assert rows(engine, "select count(*) from container_port_configs") == [(4,)]
    assert rows(engine, "select count(*) from container_env_vars") == [(8,)]
    assert rows(
        engine,
        """
        select resource, quota_observed, deleted_on is not null from container_quota_items
        order by 1, 3""",
    ) == [("cpu", 1.5, False), ("pods", 2.0, False), ("pods", 3.0, True)]
    report = third.report
    assert report.of("container_groups").archived == 1
    assert report.of("containers").archived == 1
    assert report.of("container_services").deleted == 1
