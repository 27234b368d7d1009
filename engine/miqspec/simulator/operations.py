"""Instance operations and provisioning of the Awesome Cloud simulator, asynchronous as a cloud.

Takes: the ``Dataset``, ``SimulatorOptions`` (``operation_delay``: how long a state stays
transitional; ``instance_quota``: most instances at once) and one request at a time (method,
path under ``/v1``, JSON body), after the API checked the bearer token.
Gives: ``SimOperations.handle`` -> ``Reply``:

- ``POST /instances/<id>/start|stop|suspend|reboot``: 202 with the instance in its
  transitional state (``starting``, ``stopping``, ``suspending``, ``rebooting``), which becomes
  ``running``/``stopped``/``suspended``/``running`` after ``operation_delay`` seconds; 409 when
  the instance is not in a state the action starts from (start: stopped or suspended; the
  others: running) or is already changing; 404 for an unknown instance;
- ``DELETE /instances/<id>``: 202, the instance ``deleting``, gone after the delay;
- ``POST /instances`` (``{"name", "image", "flavor", "availability_zone"}``): 202 with the new
  instance ``creating`` (``running`` after the delay); 400 for a missing name or an unknown
  image, flavor or zone; 409 ``quota exceeded`` past ``instance_quota``.

Each change is an event of the API's event stream (``notify``: ``instance.power_changed`` when
an action is accepted and when it ends, ``instance.created``, ``instance.deleted``).
Failures on demand come from the API's fault flags (``fault_path="/start"``, ...), applied
before this module sees a request. ``cancel`` stops pending transitions (reset, stop).
Raises nothing (bad requests get 4xx replies). Starts timer threads; no other I/O.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

from miqspec.simulator.data import ZONE_IDS, Dataset
from miqspec.simulator.options import SimulatorOptions

Reply = Any  # simulator.api.Reply (api imports this module)
MakeReply = Callable[[int, Any], Reply]
Notify = Callable[[dict[str, list[str]], Callable[[str], Any]], Any]

# action -> (states it starts from, transitional state, final state)
ACTIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "start": (frozenset({"stopped", "suspended"}), "starting", "running"),
    "stop": (frozenset({"running"}), "stopping", "stopped"),
    "suspend": (frozenset({"running"}), "suspending", "suspended"),
    "reboot": (frozenset({"running"}), "rebooting", "running"),
}
TRANSITIONAL = frozenset(
    {"starting", "stopping", "suspending", "rebooting", "deleting", "creating"}
)
_ACTION = re.compile(r"^/instances/([^/]+)/([a-z_]+)$")
_ONE = re.compile(r"^/instances/([^/]+)$")


class SimOperations:
    """Pending transitions of the simulated instances, each on a timer."""

    def __init__(
        self,
        dataset: Dataset,
        options: SimulatorOptions,
        reply: MakeReply,
        notify: Notify | None = None,
    ) -> None:
        self.dataset, self.options, self.reply = dataset, options, reply
        self.notify: Notify = notify or (lambda affected, lookup: None)
        self._lock = threading.Lock()
        self._timers: set[threading.Timer] = set()

    def handles(self, method: str, resource: str) -> bool:
        """Whether (method, path under /v1) is an operation of this module."""
        if method == "POST":
            return resource == "/instances" or _ACTION.match(resource) is not None
        return method == "DELETE" and _ONE.match(resource) is not None

    def handle(self, method: str, resource: str, body: bytes) -> Reply:
        if method == "POST" and resource == "/instances":
            return self._create(body)
        found = _ACTION.match(resource) if method == "POST" else _ONE.match(resource)
        if found is None:
            return self.reply(404, {"error": f"no such resource: /v1{resource}"})
        instance_id = found.group(1)
        action = found.group(2) if method == "POST" else "delete"
        if action != "delete" and action not in ACTIONS:
            return self.reply(404, {"error": f"no such action: {action}"})
        with self._lock:  # one decision at a time: two starts cannot both be accepted
            item = self.dataset.instance(instance_id)
            if item is None:
                return self.reply(404, {"error": f"no such instance: {instance_id}"})
            state = item["power_state"]
            if state in TRANSITIONAL:
                return self.reply(409, {"error": f"instance {instance_id} is {state}"})
            if action == "delete":
                new = self.dataset.update_instance(instance_id, {"power_state": "deleting"})
                self.notify({"powered": [instance_id]}, self.dataset.instance)
                self._later(instance_id, "deleting", None)
                return self.reply(202, new)
            sources, transitional, final = ACTIONS[action]
            if state not in sources:
                return self.reply(
                    409, {"error": f"cannot {action} instance {instance_id}: it is {state}"}
                )
            new = self.dataset.update_instance(instance_id, {"power_state": transitional})
            self.notify({"powered": [instance_id]}, self.dataset.instance)
            self._later(instance_id, transitional, {"power_state": final})
        return self.reply(202, new)

    def _create(self, body: bytes) -> Reply:
        try:
            values = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            values = None
        if not isinstance(values, dict):
            return self.reply(400, {"error": "body must be a JSON object"})
        name = values.get("name")
        if not isinstance(name, str) or not name.strip():
            return self.reply(400, {"error": "name is required"})
        snap = self.dataset.snapshot()
        fields: dict[str, Any] = {"name": name, "power_state": "creating", "public_ip": None}
        for key, known in (
            ("image", {i["id"] for i in snap.images}),
            ("flavor", {f["id"] for f in snap.flavors}),
            ("availability_zone", set(ZONE_IDS)),
        ):
            value = values.get(key)
            if value in (None, ""):
                continue
            if value not in known:
                return self.reply(400, {"error": f"unknown {key}: {value}"})
            fields[key] = value
        with self._lock:
            quota = self.options.instance_quota
            count = len(self.dataset.snapshot().instances)
            if quota and count >= quota:
                return self.reply(
                    409, {"error": f"quota exceeded: {count} of {quota} instances in use"}
                )
            item = self.dataset.add_instance(fields)
            self.notify({"added": [item["id"]]}, self.dataset.instance)
            self._later(item["id"], "creating", {"power_state": "running"})
        return self.reply(202, item)

    def _later(self, instance_id: str, transitional: str, final: dict[str, Any] | None) -> None:
        """After the delay, the instance becomes ``final`` (None: removed), if it is still in
        ``transitional`` (nothing else changed it meanwhile)."""

        def finish() -> None:
            with self._lock:
                self._timers.discard(timer)
                self._finish(instance_id, transitional, final)

        delay = float(self.options.operation_delay)
        timer = threading.Timer(delay, finish)
        timer.daemon = True
        if delay <= 0:
            self._finish(instance_id, transitional, final)
            return
        self._timers.add(timer)
        timer.start()

    def _finish(self, instance_id: str, transitional: str, final: dict[str, Any] | None) -> None:
        item = self.dataset.instance(instance_id)
        if item is None or item["power_state"] != transitional:
            return  # something else changed it meanwhile
        self.dataset.update_instance(instance_id, final)
        change = "removed" if final is None else "powered"
        self.notify({change: [instance_id]}, self.dataset.instance)

    def cancel(self) -> None:
        """Forget every pending transition (instances stay as they are now)."""
        with self._lock:
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
