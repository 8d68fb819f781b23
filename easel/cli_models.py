"""`easel models`: the model listing as readable tables (rich), or the raw JSON with --json.

Output is often piped (`easel models | head -1`): a reader that leaves early is normal, not an error.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Keys of a listing entry shown elsewhere in the table (or too long to help there: the contract's JSON
# Schema is for programs, and stays in --json).
SKIPPED = {"model", "summary", "routes", "contract"}
PIPE_WIDTH = 160


def print_listing(listing: dict[str, Any], as_json: bool) -> int:
    try:
        if as_json:
            print(json.dumps(listing, ensure_ascii=False, indent=2))
        else:
            # piped or redirected: wide enough that statuses (paths, backend names) stay on few lines
            console = Console(width=None if sys.stdout.isatty() else PIPE_WIDTH)
            console.print(models_table(listing["data"]))
            console.print(engines_table(listing["engines"]))
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit; point it at /dev/null instead.
        # Exit 1, as rich itself does when its reader leaves (Console.on_broken_pipe).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0


def models_table(models: list[dict[str, Any]]) -> Table:
    table = Table(title="Models", show_lines=True, expand=True)
    for column, ratio in (("model", 2), ("what", 2), ("status on this server", 5)):
        table.add_column(column, overflow="fold", ratio=ratio)
    for entry in models:
        rows = list(feature_rows(entry))
        name = Text(entry["model"], style="bold")
        name.append("\n" + entry.get("summary", ""), style="dim")
        for index, (what, status) in enumerate(rows or [("", "")]):
            table.add_row(name if index == 0 else "", what, status_text(status))
    return table


def feature_rows(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """(feature, status) pairs from one model's listing entry, whatever shape its describe() has."""
    rows = []
    for key, value in entry.items():
        if key in SKIPPED:
            continue
        if isinstance(value, dict):
            rows += [(f"{key} {sub}", _flat(item)) for sub, item in value.items()]
        else:
            rows.append((key, _flat(value)))
    return rows


def _flat(value: Any) -> str:
    if isinstance(value, dict):  # e.g. a portrait style: its names say more than its whole recipe
        named = [str(value[k]) for k in ("name", "english") if k in value]
        return " / ".join(named) if named else json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "; ".join(_flat(v) for v in value)
    return str(value)


def engines_table(engines: dict[str, str]) -> Table:
    table = Table(title="Engine tasks", expand=True)
    table.add_column("engine task", ratio=1)
    table.add_column("backend", overflow="fold", ratio=5)
    for task, status in engines.items():
        table.add_row(task, status_text(status))
    return table


def status_text(status: str) -> Text:
    if status.startswith("not available"):
        return Text(status, style="red")
    if status.startswith("available"):
        return Text(status, style="green")
    return Text(status)
