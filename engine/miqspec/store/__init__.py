"""Store: the inventory database, its tables and migrations, providers and their credentials.

Offers: ``open_database``/``upgrade``/``current_revision``/``default_database_url``/``mask_url``
and the ``Engine`` type (what ``open_database`` gives; other stages name it from here, never
from sqlalchemy), ``build_metadata`` (tables from the catalogue), ``ProviderStore`` (provider
rows, endpoints, encrypted credentials, verify and refresh status, delete, unlock),
``RefreshLock`` (one writer per provider; dies with its holder), ``Holder`` (who holds it),
``spec_metadata`` and ``inventory_transaction`` (where and how a refresh writes),
``spec_tables`` (a spec's tables, its ``models`` included, without touching the database),
``make_storable`` (API text the database cannot store, replaced), ``KeyRing`` (encryption at
rest), ``open_keyring`` (never a new key while encrypted secrets exist),
``rotate_credentials``, ``new_database_file``, ``check_name``, the inventory listing
(``collection_rows``, ``display_columns``) and the spec a provider refers to (``spec_for``,
``spec_ref``, ``describe_ref``), ``EventLog`` (stored events and each provider's event cursor),
the provider tag mappings (``TagMapping``, ``add_tag_mapping``, ``list_tag_mappings``,
``delete_tag_mapping``).
Owns sqlalchemy and alembic with ``persist``, and cryptography.
"""

from .credentials import KeyRing, decrypt_values, read_secret
from .database import (
    Engine,
    current_revision,
    default_database_url,
    mask_url,
    miqspec_home,
    new_database_file,
    open_database,
    upgrade,
)
from .event_log import EventLog, SavedEvents
from .key_guard import open_keyring
from .listing import collection_rows, display_columns
from .lock_holder import Holder
from .model_tables import spec_tables
from .provider_form import check_name, nest_form
from .providers import ProviderInfo, ProviderStore, now
from .refresh_lock import RefreshLock
from .rotation import rotate_credentials
from .spec_refs import describe_ref, spec_for, spec_ref
from .storable import REPLACEMENT, make_storable
from .tables import build_metadata
from .tag_mappings import TagMapping, add_tag_mapping, delete_tag_mapping, list_tag_mappings
from .transaction import inventory_transaction, spec_metadata

__all__ = [
    "REPLACEMENT",
    "Engine",
    "EventLog",
    "Holder",
    "KeyRing",
    "ProviderInfo",
    "ProviderStore",
    "RefreshLock",
    "SavedEvents",
    "TagMapping",
    "add_tag_mapping",
    "build_metadata",
    "check_name",
    "collection_rows",
    "current_revision",
    "decrypt_values",
    "default_database_url",
    "delete_tag_mapping",
    "describe_ref",
    "display_columns",
    "inventory_transaction",
    "list_tag_mappings",
    "make_storable",
    "mask_url",
    "miqspec_home",
    "nest_form",
    "new_database_file",
    "now",
    "open_database",
    "open_keyring",
    "read_secret",
    "rotate_credentials",
    "spec_for",
    "spec_metadata",
    "spec_ref",
    "spec_tables",
    "upgrade",
]
