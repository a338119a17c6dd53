"""Command groups shared by several CLI modules (`train ...`, `leaderboard ...`)."""

import typer

train_app = typer.Typer(
    help="Train DA-CLIP (`train daclip`) or a restoration model (`train restore`) from a recipe.",
    no_args_is_help=True,
)
leaderboard_app = typer.Typer(
    help="Merge evaluated results with the paper's reference rows; export tables and radar plots.",
    no_args_is_help=True,
)
