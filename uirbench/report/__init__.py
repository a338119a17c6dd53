"""Reports: leaderboard tables (CSV/Markdown/LaTeX) and radar plots from results + paper rows."""
