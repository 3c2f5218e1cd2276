"""Tables of results: dataset aggregation of the evaluate stage's records (`aggregate`) and the
files written from it (`render`: per-instance CSV, Markdown tables, summaries, the comparison of
experiments, each with its metric definitions)."""
