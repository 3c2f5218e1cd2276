"""The visual report: the HTML folder (`html`), its small pictures (`thumbnails`) and the Markdown
it renders (`markdown_lite`). Imports `imaging`, `plan.layout` and `tables`.
"""
