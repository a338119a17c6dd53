"""Command groups shared by several CLI modules (`train ...`, `leaderboard ...`)."""

import typer

train_app = typer.Typer(
    help="Train DA-CLIP (`train daclip`) or a restoration model (`train restore`) from a recipe."
    "\n\nExample: uirbench train restore --recipe nafnet_tiny root=data/demo",
    no_args_is_help=True,
)
leaderboard_app = typer.Typer(
    help="Merge evaluated results with the paper's reference rows; export tables and radar plots."
    "\n\nExample: uirbench leaderboard export runs/eval --include-paper --out leaderboard",
    no_args_is_help=True,
)
