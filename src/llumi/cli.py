"""The `llumi` command: one CLI, verbs in pipeline order.

    ingest -> stats -> pairs -> (train -> generate / improve -> eval -> rate -> serve)   safety

Library code raises ``llumi.errors`` exceptions; this module alone turns them into messages and exit
codes. Every verb that summarises its work accepts ``--json`` and then prints exactly one JSON object on
standard output (progress and warnings go to standard error).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from llumi import __version__
from llumi.errors import LlumiError
from llumi.workspace import Workspace


def emit(summary: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    """Print a verb's summary: one JSON object with ``--json``, else the human text."""
    if as_json:
        click.echo(json.dumps(summary, sort_keys=True, default=str))
    else:
        click.echo(human if human is not None else json.dumps(summary, indent=2, default=str))


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object (counts, output paths) for scripts.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--workspace", "-w", type=click.Path(file_okay=False), envvar="LLUMI_HOME", default=None,
    help="Workspace folder where every stage reads and writes (default ./llumi-work; env LLUMI_HOME).",
)
@click.version_option(__version__, prog_name="llumi")
@click.pass_context
def cli(ctx: click.Context, workspace: str | None) -> None:
    """LLUMI: turn a mental-health community's votes into safe writing assistance for peer supporters.

    Run the stages in order; each finds its inputs in the workspace:

    \b
      llumi ingest DUMP...      read Reddit dumps or CSV/Parquet tables into the store
      llumi stats               counts, score distributions, score lags (and PNG plots)
      llumi pairs               SFT examples, DPO pairs and IM examples from the votes
      llumi safety check TEXT   risk triage and output guard
    """
    ctx.obj = Workspace(workspace)


def main(argv: list[str] | None = None) -> None:
    """Entry point: library errors become a one-line message and exit code 1."""
    try:
        cli.main(args=argv, prog_name="llumi", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except LlumiError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)


# ==== data: ingest, stats ===================================================================

# ==== data: pairs ===========================================================================

# ==== safety ================================================================================


if __name__ == "__main__":
    main()
