"""The bundled Awesome Cloud simulator: a real HTTP API on 127.0.0.1 for tests, demos, benchmarks.

Takes: ``SimulatorOptions`` or the same keyword arguments (sizes, seed, credentials, port,
token_ttl, faults). Gives: ``Simulator`` (start/stop or ``with``; ``.url`` ends in ``/v1``;
``mutate``, ``set_faults``, ``reset``, ``stats``, ``data``) and ``run_forever`` for the CLI.
The API is the one ``provider_specs/awesome_cloud.yaml`` describes. Raises ``UsageError`` for
bad options. Starting a simulator does network I/O (it listens on a port).
"""

from miqspec.simulator.data import Snapshot
from miqspec.simulator.faults import FaultRule
from miqspec.simulator.options import MAX_LIMIT, SimulatorOptions
from miqspec.simulator.server import Simulator, run_forever

__all__ = ["MAX_LIMIT", "FaultRule", "Simulator", "SimulatorOptions", "Snapshot", "run_forever"]
