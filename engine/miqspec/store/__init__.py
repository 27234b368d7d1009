"""Store: the inventory database, its tables and migrations, providers and their credentials.

Offers: ``open_database``/``upgrade``/``default_database_url``, ``build_metadata`` (tables
from the catalogue), ``ProviderStore`` (provider rows, endpoints, encrypted credentials,
refresh status and locks), ``KeyRing`` (encryption at rest), ``rotate_credentials`` and the
inventory listing (``collection_rows``, ``display_columns``). Owns sqlalchemy with ``persist``.
"""

from .credentials import KeyRing, read_secret
from .database import current_revision, default_database_url, open_database, upgrade
from .listing import collection_rows, display_columns
from .provider_form import nest_form
from .providers import ProviderInfo, ProviderStore, now
from .rotation import rotate_credentials
from .spec_refs import describe_ref, spec_for, spec_ref
from .tables import build_metadata

__all__ = [
    "KeyRing",
    "ProviderInfo",
    "ProviderStore",
    "build_metadata",
    "collection_rows",
    "current_revision",
    "default_database_url",
    "describe_ref",
    "display_columns",
    "nest_form",
    "now",
    "open_database",
    "read_secret",
    "rotate_credentials",
    "spec_for",
    "spec_ref",
    "upgrade",
]
