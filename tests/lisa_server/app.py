"""A stand-in for the seed's LISA app (saraao/amodal, LISA/app.py) for tests/test_ground_lisa.py.

The same Gradio interface as the seed's app (a text instruction and an image file path in; an
overlay image, the mask as a gr.Numpy table and a text out; queued), served by gradio 3.39 as
the seed's, from an environment of its own (tests/lisa_server/requirements.lock, installed by
`make lisa-server` into build/lisa-server): gradio 3.39 needs a gradio_client older than the
one amodal calls it with, so the two cannot share an environment.

No LISA inside: the mask is the pixels brighter than the image's mean grey. What the function
does for a prompt comes from a JSON file of behaviours, read again on every call:

  "mask" (any prompt not in the file)  the mask as the seed's app returns it: bool, the image's size
  "sleep:S"       sleep S seconds, then the mask
  "raise"         the function raises
  "two_outputs"   two values for three outputs, as the seed's app does for a query it refuses
  "wrong_shape"   the mask one row short
  "not_binary"    the mask as 0.5 and 0
  "no_mask"       None for the mask

Every call appends {"prompt", "shape", "time"} to the call log (one JSON object a line).

usage: python app.py BEHAVIOURS.json CALLS.jsonl   (prints "LISTENING <url>" once it serves)
"""

import json
import os
import socket
import sys
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

BEHAVIOURS, CALLS = sys.argv[1], sys.argv[2]


def segment(prompt, image_path):
    image = np.asarray(Image.open(image_path).convert("RGB"))
    with open(CALLS, "a") as log:
        log.write(json.dumps({"prompt": prompt, "shape": list(image.shape[:2]), "time": time.time()}) + "\n")
    with open(BEHAVIOURS) as handle:
        behaviour = json.load(handle).get(prompt, "mask")
    grey = image.astype(float).mean(axis=2)
    mask = grey > grey.mean()
    overlay = image.copy()
    overlay[mask] = (image[mask] * 0.5 + np.array([127, 0, 0])).astype(np.uint8)
    if behaviour.startswith("sleep:"):
        time.sleep(float(behaviour.split(":")[1]))
    elif behaviour == "raise":
        raise RuntimeError("the stand-in LISA app fails on purpose")
    elif behaviour == "two_outputs":
        return overlay, "[Error] Invalid input"
    elif behaviour == "wrong_shape":
        mask = mask[1:]
    elif behaviour == "not_binary":
        mask = mask * 0.5
    elif behaviour == "no_mask":
        mask = None
    return overlay, mask, f"ASSISTANT: Sure, [SEG] for: {prompt}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


demo = gr.Interface(
    segment,
    inputs=[gr.Textbox(lines=1, label="Text Instruction"), gr.Image(type="filepath", label="Input Image")],
    outputs=[
        gr.Image(type="pil", label="Segmentation Output"),
        gr.Numpy(label="Numpy Array Output"),
        gr.Textbox(lines=1, label="Text Output"),
    ],
    allow_flagging="never",
)
demo.queue(concurrency_count=8)  # the seed's app queues one at a time; tests must not wait on each other
demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
print("LISTENING", demo.local_url, flush=True)
demo.block_thread()
