"""The visual report's parts on constructed cases: the Markdown of the tables, the records read
from metrics.csv, the tinted pictures and their cache. (The page itself is checked in a
browser: tests/test_report_in_browser.py.)"""

import os

import numpy as np
from PIL import Image

from amodal.report.html import read_metrics_table
from amodal.report.markdown_lite import to_html
from amodal.report.thumbnails import Thumbnails, tinted


def test_markdown_tables_lists_and_headings():
    text = (
        "# bench: compared\n\n| experiment | n |\n|---|---|\n| a<b | 3 |\n\nMeans. Two\nlines.\n\n- **x**: `y`\n- z\n"
    )
    assert to_html(text, shift=1) == (
        "<h2>bench: compared</h2>\n"
        "<table>\n<thead><tr><th>experiment</th><th>n</th></tr></thead>\n<tbody>\n"
        "<tr><td>a&lt;b</td><td>3</td></tr>\n</tbody>\n</table>\n"
        "<p>Means. Two lines.</p>\n"
        "<ul>\n<li><strong>x</strong>: <code>y</code></li>\n<li>z</li>\n</ul>"
    )


def test_metrics_table_numbers_text_and_gaps(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(
        "id,status,reason,amodal_iou,lpips,kind\na,ok,,0.5,,cat\nb,failed,\"no mask, sorry\",,,\nc,ok,,nan,0.25,dog\n"
    )
    metrics, rows = read_metrics_table(path)
    assert metrics == ["amodal_iou", "lpips"]  # "kind" holds text
    assert rows["a"] == {
        "status": "ok",
        "reason": "",
        "values": {"amodal_iou": 0.5, "lpips": None},
        "notes": {"kind": "cat"},
    }
    assert rows["b"] == {
        "status": "failed",
        "reason": "no mask, sorry",
        "values": {"amodal_iou": None, "lpips": None},
        "notes": {},
    }
    assert rows["c"]["values"] == {"amodal_iou": None, "lpips": 0.25}


def test_a_mask_is_tinted_by_its_share_of_each_pixel(tmp_path):
    mask = np.zeros((4, 8), np.uint8)
    mask[:, :2] = 255  # 2 of 8 columns: the first of 4 once halved
    Image.fromarray(mask).save(tmp_path / "mask.png")
    black = Image.new("RGB", (4, 2))
    out = np.asarray(tinted(black, [(tmp_path / "mask.png", "visible")]))
    # visible tint (40, 200, 90) at opacity 0.5: full share on column 0, none elsewhere
    assert out[:, 0].tolist() == [[20, 100, 45]] * 2
    assert (out[:, 1:] == 0).all()


def test_pictures_are_cached_by_content_and_linked_into_each_report(tmp_path):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (400, 200), (10, 20, 30)).save(photo)
    Image.new("L", (1, 1)).save(tmp_path / "placeholder.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    first = Thumbnails(tmp_path / "one", tmp_path / "cache")
    name = first.photo(photo)
    assert name.startswith("thumbs/") and Image.open(tmp_path / "one" / name).size == (192, 96)
    cached = tmp_path / "cache" / name.removeprefix("thumbs/")
    made = cached.stat().st_mtime_ns
    second = Thumbnails(tmp_path / "two", tmp_path / "cache")
    assert second.photo(photo) == name and cached.stat().st_mtime_ns == made  # not made again
    assert (
        os.path.samefile(tmp_path / "two" / name, cached)
        or (tmp_path / "two" / name).read_bytes() == cached.read_bytes()
    )
    assert oct(cached.stat().st_mode & 0o777) == "0o644"
    assert second.photo(tmp_path / "placeholder.png") is None  # a failed stage's 1x1 stand-in
    assert second.photo(tmp_path / "broken.png") is None
    assert second.photo(tmp_path / "absent.png") is None

    Image.new("RGB", (400, 200), (10, 20, 31)).save(photo)  # other contents, same file
    third = Thumbnails(tmp_path / "three", tmp_path / "cache")
    other = third.photo(photo)
    assert other != name
    third.prune_cache()
    assert not cached.exists() and (tmp_path / "cache" / other.removeprefix("thumbs/")).exists()
