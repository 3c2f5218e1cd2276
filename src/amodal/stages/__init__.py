"""One module per stage (ground, tag, segment, order, prompt, rgba, evaluate, collect), and
`complete/` with the completion stage's backends. A stage may use `models`, `metrics`, `imaging`,
`datasets` and `run.isolation`, never another stage's internals.
"""
