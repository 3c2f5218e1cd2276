"""Tables of results: dataset aggregation of the evaluate stage's records (`aggregate`) and the
files written from it (`render`: per-instance CSV, Markdown tables, summaries, the comparison of
experiments, each with its metric definitions); the paper's tables (`paper_tables` as data,
`paper_files` as CSV, Markdown and LaTeX) with bootstrap intervals (`bootstrap`), LaTeX
(`latex`) and published reference rows (`reference`)."""
