"""``python -m uirbench`` (and ``torchrun -m uirbench``) run the CLI."""

from uirbench.cli.app import main

main()
