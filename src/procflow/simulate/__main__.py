"""``python -m procflow.simulate``: the ``procflow simulate`` command on its own (same options and output)."""

import typer

from procflow.cli.simulate import simulate

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command()(simulate)

if __name__ == "__main__":
    app()
