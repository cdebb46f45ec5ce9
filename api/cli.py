"""The `yatri` entry point. The content team's commands (ingest, docs) only talk to a running
Yatri over HTTP, so they load from api/content_cli.py alone and start in a fraction of a second;
any other command (and `yatri --help`) loads the whole CLI, app included (api/commands.py)."""

from __future__ import annotations

import importlib
import sys

FULL_CLI = "api.commands"
# Commands whose module needs neither the app nor its clients; each module exposes `cli`.
LIGHT_COMMANDS = {"ingest": "api.content_cli", "docs": "api.content_cli"}


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    importlib.import_module(LIGHT_COMMANDS.get(command, FULL_CLI)).cli()
