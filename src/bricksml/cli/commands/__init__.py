"""One module per command: NAME, HELP, add_arguments(parser), run(args) -> data, render(data)."""

from bricksml.cli.commands import create_data, infer, run, sample_data, train, trigger, ui

COMMANDS = [sample_data, create_data, train, infer, run, trigger, ui]
