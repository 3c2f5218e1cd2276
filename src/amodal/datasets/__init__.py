"""Every dataset format read into one instance table, a synthetic scene's ground truth and the
bounded working image every stage reads. `table` is the table type (columns, ids, validation,
reading and writing); `seed`, `coco` and `synthetic` read the formats, helped by `lenient_json`
(tolerant JSON and text reading) and `image_folder` (finding an annotation's image); `load`
dispatches on a spec's format, `image_header` checks that images decode and `cache` keeps each
dataset version's table; `queries` says what an instance asks for; `truth` is a scene's ground
truth and `working` the working image. Imports `imaging` (and `errors`) only.
"""
