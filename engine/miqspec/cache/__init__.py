"""Files miqspec caches between runs, and the engine hash that keys them.

Offers: ``cache_root`` (the cache folder, or None when off), ``write_file`` (atomic, exclusive,
mode 0600), ``read_trusted`` (a cache file's bytes, only when this user alone could have
written it), ``load_yaml`` (a YAML file parsed once, kept as JSON), ``engine_hash`` (one hash
of the engine's code and shipped schemas). Imports only ``errors`` and ``resources``.
"""

from .engine_code import engine_hash
from .files import cache_root, load_yaml, read_trusted, write_file

__all__ = ["cache_root", "engine_hash", "load_yaml", "read_trusted", "write_file"]
