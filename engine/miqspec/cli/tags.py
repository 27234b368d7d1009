"""``tags`` commands: the provider tag mappings (which provider labels become which tags).

Takes: label names and values, categories, resource types, mapping ids. Gives: ``tags map``
(a mapping added; its category made when absent), ``tags list`` (every mapping, as a table or
JSON) and ``tags unmap ID``. A refresh applies the mappings to the labels of collections
whose mapping says ``tags: {from: ...}``. Calls ``miqspec.api``; exits with the error's code
(2 usage, 7 database, 10 no such mapping). Terminal I/O only.
"""

from __future__ import annotations

from dataclasses import asdict

import click

from miqspec import api
from miqspec.cli.app import main
from miqspec.cli.options import database_option, echo_json, format_option, open_db
from miqspec.cli.output import echo
from miqspec.cli.report import Table

COLUMNS = ("id", "resource_type", "label_name", "label_value", "tag")


def _describe(m: api.TagMapping) -> str:
    value = "any value" if m.label_value is None else f"value {m.label_value!r}"
    return f"label {m.label_name!r} ({value}) of {m.resource_type or 'every type'} -> {m.tag}"


@main.group()
def tags() -> None:
    """Provider tag mappings: provider labels -> ManageIQ tags (ProviderTagMapping)."""


@tags.command("map")
@click.argument("label")
@click.argument("category")
@click.option(
    "--type",
    "resource_type",
    metavar="CLASS",
    help="Only labels of this model class (e.g. ContainerNode, Vm); default: every type.",
)
@click.option("--value", metavar="VALUE", help="Only this label value (default: any value).")
@click.option("--entry", metavar="NAME", help="With --value: the entry (default: the value).")
@click.option("--description", metavar="TEXT", help="A new category's description.")
@database_option
def map_label(
    label: str,
    category: str,
    resource_type: str | None,
    value: str | None,
    entry: str | None,
    description: str | None,
    database: str | None,
) -> None:
    """Map provider label LABEL to tag category CATEGORY: each value becomes the category's
    entry of that name (or --value V becomes --entry E), at the next refresh."""
    db = open_db(database)
    found = api.add_tag_mapping(
        db,
        label,
        category,
        resource_type=resource_type,
        label_value=value,
        entry=entry,
        description=description,
    )
    click.echo(f"mapping {found.id}: {_describe(found)}")


@tags.command("list")
@format_option
@database_option
def list_mappings(fmt: str, database: str | None) -> None:
    """List the tag mappings."""
    found = api.list_tag_mappings(open_db(database, write=False))
    if fmt == "json":
        echo_json([asdict(m) for m in found])
    elif not found:
        echo("no tag mappings")
    else:
        rows = tuple(
            (m.id, m.resource_type or "(all)", m.label_name, m.label_value or "(any)", m.tag)
            for m in found
        )
        echo(Table(COLUMNS, rows))


@tags.command("unmap")
@click.argument("mapping_id", metavar="ID", type=int)
@database_option
def unmap(mapping_id: int, database: str | None) -> None:
    """Delete tag mapping ID (tags list shows the ids)."""
    found = api.delete_tag_mapping(open_db(database), mapping_id)
    click.echo(f"deleted mapping {found.id}: {_describe(found)}")
