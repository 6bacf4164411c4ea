"""What every command module shares: the Typer apps, the consoles and how a command fails.

Command modules import this module and add their commands to `app` / `run_app`; only the package
`__init__` imports the command modules, so no command module imports another and there is no
import circle. Nothing here imports Prefect: it reads its settings at import, and `main` configures
them first.
"""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    help="Agentic workflows as Prefect flows: outreach, fraud checks, landing plans.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
run_app = typer.Typer(help="Run a flow in this process.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(db_app, name="db")
console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` as an error and return the exit to raise (`raise fail(...)` reads as what happens)."""
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def parse_ids(text: str) -> list[int]:
    """Contact ids from `1,2,3`; a typo fails with the expected form instead of a traceback."""
    try:
        ids = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise fail(f"--prospects takes comma-separated contact ids like 1,2,3; got {text!r}") from None
    if not ids:
        raise fail("--prospects is empty: pass contact ids like 1,2,3")
    return ids


def require_prefect_server() -> None:
    """Stop with a message saying how to start one, before a command would hang on an absent server."""
    from prefect.settings import PREFECT_API_URL

    from agentflows.prefect_server import healthy

    api = PREFECT_API_URL.value()
    if not api or not healthy(api):
        raise fail(
            f"no Prefect server answers at {api}. Start one with `agentflows demo` or `agentflows up`, "
            "or point PREFECT_API_URL at yours."
        )
