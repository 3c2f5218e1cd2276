"""Client of a LISA Gradio app, for the ground backend `lisa` (the contract: docs/lisa.md).

The seed does not load LISA: it calls the LISA demo app (its modified `LISA/app.py`) over HTTP
with gradio_client, sending the query and the photo and reading the mask from the app's second
output, a table whose `data` holds one boolean per pixel. So does this module. The app runs
elsewhere (a GPU machine with LISA's own environment), so every way a call can fail is
expected: each becomes a `LisaError` whose `kind` is one of FAILURES, and the ground stage
turns it into the instance's `remote_failed` status.

An attempt is bounded by `timeout_s` as a whole (connecting, the app's queue, inference, the
download): it runs in a daemon thread that is abandoned, and its job cancelled, when time is
up, so a hung app can neither hold the shard job nor keep its process from exiting.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FAILURES = ("unreachable", "timeout", "server_error", "bad_output")
# Asked again: the app may be restarting, busy or short of memory. A malformed answer is not:
# the same image and prompt give the same answer.
RETRIED = ("unreachable", "timeout", "server_error")
# The wait between attempts; a module attribute, so that a test can record the waits instead of waiting.
pause = time.sleep


class LisaError(Exception):
    """A call that gave no usable mask; `kind` is one of FAILURES, `calls` how many were made."""

    def __init__(self, kind: str, message: str, calls: int = 1):
        assert kind in FAILURES, kind
        self.kind, self.message, self.calls = kind, message, calls
        super().__init__(f"{kind}: {message}")


@dataclass
class Answer:
    mask: np.ndarray  # bool (H, W), the size of the image sent
    text: str  # LISA's words beside the mask (the app's third output)
    calls: int  # calls made, the last one answered


@functools.cache
def _defaults() -> dict:
    import yaml

    from amodal.config.schema import SCHEMAS

    schema = yaml.safe_load((SCHEMAS / "config.schema.yaml").read_text())
    properties = schema["properties"]["models"]["properties"]["lisa"]["properties"]
    return {key: spec.get("default") for key, spec in properties.items()}


def settings(models: dict | None) -> dict:
    """The run's `models.lisa` section with the schema's defaults for what it leaves out."""
    return dict(_defaults(), **((models or {}).get("lisa") or {}))


def segment(
    image: np.ndarray,
    prompt: str,
    url: str,
    api_name: str = "/predict",
    timeout_s: float = 120.0,
    attempts: int = 3,
    backoff_s: float = 2.0,
) -> Answer:
    """LISA's mask for `prompt` on `image` (uint8 RGB, sent as PNG so the app reads exactly these
    pixels). Up to `attempts` calls; before call k > 1 waits backoff_s * 2**(k-2) seconds."""
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="amodal-lisa-") as folder:
        sent = Path(folder) / "image.png"
        Image.fromarray(image).save(sent)
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                pause(backoff_s * 2 ** (attempt - 2))
            answers = Path(folder) / f"answer_{attempt}"
            answers.mkdir()
            try:
                mask, text = read_answer(call(url, api_name, prompt, sent, timeout_s, answers), image.shape[:2])
                return Answer(mask, text, attempt)
            except LisaError as error:
                if error.kind not in RETRIED or attempt == attempts:
                    calls = "1 call" if attempt == 1 else f"{attempt} calls"
                    raise LisaError(error.kind, f"{error.message} ({calls})", attempt) from None
    raise AssertionError("unreachable: the loop returns or raises")


def call(url: str, api_name: str, prompt: str, image_path: Path, timeout_s: float, folder: Path):
    """One call of the app's endpoint, at most `timeout_s` seconds; the app's outputs as
    gradio_client returns them (files it names are downloaded into `folder`)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # gradio_client reports every Client otherwise
    from gradio_client import Client, handle_file

    state: dict = {}
    lock, done = threading.Lock(), threading.Event()

    def work():
        try:
            client = Client(
                url,
                verbose=False,
                analytics_enabled=False,
                download_files=str(folder),
                httpx_kwargs={"timeout": timeout_s},
            )
            with lock:
                state["client"] = client
                if state.get("abandoned"):
                    return
                # gradio 3 apps (the seed's LISA app) take a path; gradio 4+ apps an uploaded file
                image = str(image_path) if client.protocol == "ws" else handle_file(str(image_path))
                state["job"] = client.submit(prompt, image, api_name=api_name)
            state["result"] = state["job"].result()
        except Exception as error:  # noqa: BLE001 - every failure of the remote call is classified below
            state["error"] = error
        finally:
            done.set()

    threading.Thread(target=work, name="lisa-call", daemon=True).start()
    finished = done.wait(timeout_s)
    with lock:
        state["abandoned"] = True
        client, job = state.get("client"), state.get("job")
    if job is not None and not job.done():
        job.cancel()
    if client is not None:
        client.close()
    if not finished:
        raise LisaError("timeout", f"no answer within {timeout_s:g} s")
    if "error" in state:
        raise classified(state["error"], api_name)
    return state["result"]


def classified(error: Exception, api_name: str) -> LisaError:
    """What a gradio_client or transport exception means for the caller."""
    import httpx

    said = str(error).strip()
    if isinstance(error, (httpx.TimeoutException, TimeoutError)):
        return LisaError("timeout", f"the connection timed out ({type(error).__name__})")
    if isinstance(error, (httpx.TransportError, ConnectionError)):
        return LisaError("unreachable", f"cannot connect ({type(error).__name__}: {said or 'no message'})")
    if "api_name" in said:
        return LisaError("server_error", f"the app has no endpoint {api_name} ({said})")
    if said in ("", "None"):  # a gradio 3 app reports its function's exception without a message
        said = "the app's function raised an error and gave no message"
    return LisaError("server_error", f"{type(error).__name__}: {said}")


# What the seed's app accepts as a prompt (its input check, docs/lisa.md); it errors on anything else.
ACCEPTED_PROMPT = re.compile(r"[A-Za-z ,.!?'\"]+")


def refusal_hint(prompt: str) -> str:
    """Why the seed's app may have failed on this prompt, or ""."""
    if ACCEPTED_PROMPT.fullmatch(prompt):
        return ""
    return "; the seed's LISA app refuses prompts with characters other than letters, spaces and , . ! ? ' \""


def read_answer(result, shape: tuple[int, int]) -> tuple[np.ndarray, str]:
    """(mask, text) from the app's outputs (overlay image, mask table, text), as the seed reads
    them: the table is a JSON file (gradio 3 apps) or a dict (gradio 4+), its `data` the mask."""
    if not isinstance(result, (tuple, list)):
        raise LisaError("bad_output", f"expected the app's outputs (image, mask, text), got {_brief(result)}")
    if len(result) != 3:  # LISA's own app.py answers (image, text): no mask
        raise LisaError(
            "bad_output",
            f"the app gives {len(result)} outputs, not the seed's three (image, mask, text); "
            "LISA's own app.py gives no mask, the seed's modified one does (docs/lisa.md)",
        )
    table = result[1]
    if isinstance(table, (str, os.PathLike)):
        try:
            table = json.loads(Path(table).read_text())
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise LisaError("bad_output", f"the mask file {table} cannot be read as JSON ({error})") from None
    if not isinstance(table, dict) or "data" not in table:
        raise LisaError("bad_output", f"the mask output has no 'data' (got {_brief(table)})")
    text = result[2] if isinstance(result[2], str) else ""
    return mask_from_rows(table["data"], shape), text


def mask_from_rows(rows, shape: tuple[int, int]) -> np.ndarray:
    """A bool (H, W) mask from the table's rows; only true/false or 0/1, and only the size of
    the image sent (LISA answers at the size it read)."""
    try:
        values = np.array(rows)
    except ValueError:  # rows of different lengths
        raise LisaError("bad_output", "the mask's rows have different lengths") from None
    if values.shape != tuple(shape):
        got = (
            "a single value" if values.ndim == 0 else "empty" if values.size == 0 else "×".join(map(str, values.shape))
        )
        raise LisaError("bad_output", f"the mask is {got}, the image sent {shape[0]}×{shape[1]}")
    if values.dtype == bool:
        return values
    if values.dtype.kind in "iuf":
        odd = values[~np.isin(values, (0, 1))]
        if odd.size == 0:
            return values == 1
        raise LisaError("bad_output", f"the mask is not binary: it holds {odd.item(0)!r} besides 0 and 1")
    raise LisaError("bad_output", f"the mask is not binary: it holds {_brief(values.item(0))}")


def probe(url: str, api_name: str, timeout_s: float) -> str:
    """The Gradio version of the app at `url` if it answers and has the endpoint `api_name`;
    else LisaError. Reads only the app's config (no prediction)."""
    import httpx

    try:
        response = httpx.get(url.rstrip("/") + "/config", timeout=timeout_s)
        config = response.json() if response.is_success else None
    except httpx.TimeoutException as error:
        raise LisaError("timeout", f"no answer within {timeout_s:g} s ({type(error).__name__})") from None
    except httpx.TransportError as error:
        raise LisaError("unreachable", f"cannot connect ({type(error).__name__}: {error})") from None
    except ValueError:  # a body that is not JSON
        config = None
    if not isinstance(config, dict) or not isinstance(config.get("dependencies"), list):
        raise LisaError("server_error", f"no Gradio app there (GET /config: HTTP {response.status_code})")
    names = sorted(
        {
            f"/{d['api_name']}"
            for d in config["dependencies"]
            if isinstance(d, dict) and isinstance(d.get("api_name"), str)
        }
    )
    if api_name not in names:
        raise LisaError("server_error", f"the app has no endpoint {api_name} (it has {', '.join(names) or 'none'})")
    return str(config.get("version", "?"))


def _brief(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}{'...' if len(text) > 80 else ''}"
