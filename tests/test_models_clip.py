"""CLIP module: a tiny random-weight open_clip model on the CPU (no downloads)."""

import numpy as np
import pytest
import torch
from PIL import Image

import open_clip

from amodal.models import MissingCheckpoint  # noqa: E402
from amodal.models.clip import (  # noqa: E402
    PROMPT_TEMPLATE,
    ClipScorer,
    build_clip,
    is_torchscript_archive,
    load_clip,
    read_clip_state_dict,
)

# tiny_models.CLIP has widths of 64, so the TorchScript test can compare with open_clip's own
# OpenAI loader (which infers one head per 64 channels).
from tiny_models import CLIP as TINY
from metric_references import as_transformers_clip, chw


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model, preprocess, tokenizer = build_clip(config=TINY)
    return ClipScorer(model, preprocess, tokenizer, "cpu")


def _image(seed=0, shape=(40, 56, 3)):
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def _mask(shape=(40, 56)):
    mask = np.zeros(shape, dtype=bool)
    mask[8:30, 10:40] = True
    return mask


def test_probabilities_shape_dtype_sum(tiny):
    texts = ["a photo of a cat", "a photo of a dog", "a photo of a car"]
    probabilities = tiny.text_probabilities(_image(), texts)
    assert probabilities.shape == (3,)
    assert probabilities.dtype == np.float64
    assert np.all(probabilities >= 0)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-9)
    cosines = tiny.cosine(_image(), texts)
    assert cosines.shape == (3,) and np.all(np.abs(cosines) <= 1 + 1e-6)
    with pytest.raises(ValueError):
        tiny.text_probabilities(_image(), [])
    with pytest.raises(ValueError):
        tiny.text_probabilities(_image().astype(np.float32), texts)


def _torchmetrics_cosine(scorer, image, text):
    """The cosine of `image` and `text` from torchmetrics' functional CLIP score on the scorer's own
    model, preprocess and tokenizer: it is max(100 cos, 0), so the score with the image features
    negated gives the negative part."""
    from torchmetrics.functional.multimodal import clip_score

    pixels = chw(image)
    with torch.no_grad():
        positive = clip_score(pixels, text, lambda: as_transformers_clip(scorer))
        negative = clip_score(pixels, text, lambda: as_transformers_clip(scorer, image_sign=-1.0))
    return (float(positive) - float(negative)) / 100.0


def test_matches_independent_computation(tiny):
    """cosine() is torchmetrics' CLIP score (same model) unclamped and over 100, text by text."""
    image = _image(3)
    texts = ["a photo of a cat", "a photo of a dog", "a photo of a traffic light"]
    expected = np.array([_torchmetrics_cosine(tiny, image, text) for text in texts])
    assert expected[0] > 0 > expected[1]  # both signs are exercised
    np.testing.assert_allclose(tiny.cosine(image, texts), expected, rtol=0, atol=1e-6)


class FixedEmbeddings(torch.nn.Module):
    """A stand-in CLIP model with fixed features: the image's is (2, 0) whatever the pixels, each
    text's is 3 (c, sqrt(1 - c^2)), so its cosine with the image is c. It records the images (as
    arrays) and texts that the scorer handed to its preprocess and tokenizer."""

    def __init__(self, cosines: dict[str, float]):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # the scorer takes its dtype from a parameter
        self.texts = list(cosines)
        self.features = torch.tensor([[3 * c, 3 * (1 - c * c) ** 0.5] for c in cosines.values()])
        self.images, self.tokenized = [], []

    def preprocess(self, picture):
        self.images.append(np.asarray(picture))
        return torch.zeros(3, 2, 2)

    def tokenizer(self, texts):
        self.tokenized.append(list(texts))
        return torch.tensor([self.texts.index(text) for text in texts])

    def encode_image(self, pixels):
        return torch.tensor([[2.0, 0.0]]).expand(len(pixels), 2)

    def encode_text(self, tokens):
        return self.features[tokens]


def _fixed(cosines):
    model = FixedEmbeddings(cosines)
    return model, ClipScorer(model, model.preprocess, model.tokenizer, "cpu")


def test_probabilities_are_the_softmax_of_100_cosines():
    model, scorer = _fixed({"a": 0.30, "b": 0.29, "c": 0.31})
    np.testing.assert_allclose(scorer.cosine(_image(), ["a", "b", "c"]), [0.30, 0.29, 0.31], atol=1e-7)
    # logits 30, 29, 31: exp(0, -1, 1) / (1 + 1/e + e) by hand
    probabilities = scorer.text_probabilities(_image(), ["a", "b", "c"])
    np.testing.assert_allclose(probabilities, [0.2447284711, 0.0900305732, 0.6652409558], atol=1e-6)
    assert model.tokenized[-1] == ["a", "b", "c"]


def test_preprocess_is_openai(tiny):
    """Shortest side resized bicubic to the input size, centre crop, OpenAI mean/std."""
    image = _image(4, (40, 56, 3))
    resized = np.asarray(Image.fromarray(image).resize((44, 32), Image.BICUBIC), dtype=np.float64) / 255.0
    crop = resized[:, 6:38]
    mean = np.array([0.48145466, 0.4578275, 0.40821073])
    std = np.array([0.26862954, 0.26130258, 0.27577711])
    expected = ((crop - mean) / std).transpose(2, 0, 1)
    got = tiny.preprocess(Image.fromarray(image)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_choose_prompt_argmax_dedup_and_template():
    cosines = {"a photo of a cat": 0.30, "a photo of a dog": 0.29, "a photo of a mug": 0.31}
    model, scorer = _fixed(cosines)
    image, mask = _image(1), _mask()
    result = scorer.choose_prompt(image, mask, ["cat", "dog", "cat", "mug"], "dog")
    # one templated text per distinct candidate, in first-seen order, the query deduplicated too
    assert model.tokenized == [["a photo of a cat", "a photo of a dog", "a photo of a mug"]]
    assert PROMPT_TEMPLATE.format("cat") == "a photo of a cat"
    # the image scored is the photo inside the mask (rows 8..29, cols 10..39) and black outside
    (received,) = model.images
    assert received.shape == (40, 56, 3) and received.dtype == np.uint8
    np.testing.assert_array_equal(received[8:30, 10:40], image[8:30, 10:40])
    outside = np.ones((40, 56), bool)
    outside[8:30, 10:40] = False
    assert not received[outside].any() and image[outside].any()
    # softmax of logits 30, 29, 31 (see test_probabilities_are_the_softmax_of_100_cosines): mug wins
    assert result["prompt"] == "mug"
    assert list(result["candidates"]) == ["cat", "dog", "mug"]
    np.testing.assert_allclose(
        list(result["candidates"].values()), [0.2447284711, 0.0900305732, 0.6652409558], atol=1e-6
    )

    _, alone = _fixed({"a photo of a teapot": -0.5})
    assert alone.choose_prompt(image, mask, [], "teapot") == {"prompt": "teapot", "candidates": {"teapot": 1.0}}
    model, scorer = _fixed({"a photo of a cat": 0.1, "a photo of a vase": 0.2})
    assert list(scorer.choose_prompt(image, mask, ["cat"], "vase")["candidates"]) == ["cat", "vase"]
    assert model.tokenized == [["a photo of a cat", "a photo of a vase"]]
    with pytest.raises(ValueError):
        scorer.choose_prompt(image, mask, [], None)


def test_choose_prompt_ties_pick_first():
    class Fixed(ClipScorer):
        def text_probabilities(self, image, texts):
            return np.array([0.2, 0.4, 0.4])[: len(texts)]

    scorer = Fixed.__new__(Fixed)
    result = scorer.choose_prompt(_image(), _mask(), ["a", "b"], "c")
    assert result["prompt"] == "b"


def test_masking(tiny):
    mask = _mask()
    image = _image(5)
    outside = image.copy()
    outside[~mask] = 255 - outside[~mask]
    inside = image.copy()
    inside[mask] = 255 - inside[mask]
    candidates, query = ["cat", "dog"], "bowl"
    base = tiny.choose_prompt(image, mask, candidates, query)
    assert tiny.choose_prompt(outside, mask, candidates, query) == base
    changed = tiny.choose_prompt(inside, mask, candidates, query)
    assert changed["candidates"] != base["candidates"]
    # the unmasked scores of the two images do differ, so the equality above is the mask's doing
    texts = [f"a photo of a {c}" for c in candidates + [query]]
    assert not np.allclose(tiny.cosine(image, texts), tiny.cosine(outside, texts), rtol=0, atol=1e-7)
    with pytest.raises(ValueError):
        tiny.choose_prompt(image, mask[:-1], candidates, query)


def test_zero_shot_tags(tiny):
    image = _image(6)
    vocabulary = ["cat", "dog", "car", "tree", "cup", "dog"]
    names = ["cat", "dog", "car", "tree", "cup"]
    probabilities = tiny.text_probabilities(image, [f"a photo of a {n}" for n in names])
    ranked = sorted(zip(names, probabilities), key=lambda item: -item[1])

    everything = tiny.zero_shot_tags(image, vocabulary, top_k=10, min_probability=0.0)
    assert [name for name, _ in everything] == [name for name, _ in ranked]
    assert [p for _, p in everything] == sorted((p for _, p in everything), reverse=True)
    np.testing.assert_allclose([p for _, p in everything], [p for _, p in ranked])

    assert tiny.zero_shot_tags(image, vocabulary, top_k=2, min_probability=0.0) == everything[:2]
    threshold = float(np.sort(probabilities)[-3])  # exactly three at or above it
    above = tiny.zero_shot_tags(image, vocabulary, top_k=10, min_probability=threshold)
    assert above == everything[:3]
    assert all(p >= threshold for _, p in above)
    assert tiny.zero_shot_tags(image, vocabulary, top_k=10, min_probability=1.01) == []
    assert tiny.zero_shot_tags(image, vocabulary, top_k=0, min_probability=0.0) == []


def _same_outputs(a: ClipScorer, b: ClipScorer, atol=1e-6):
    image = _image(7)
    texts = ["a photo of a cat", "a photo of a lamp"]
    np.testing.assert_allclose(a.cosine(image, texts), b.cosine(image, texts), rtol=0, atol=atol)


def test_load_state_dict_round_trip(tiny, tmp_path):
    state = tiny.model.state_dict()
    torch.save(state, tmp_path / "clip.pt")
    loaded = load_clip(tmp_path / "clip.pt", config=TINY)
    _same_outputs(tiny, loaded)
    assert not is_torchscript_archive(tmp_path / "clip.pt")

    # a checkpoint dict with DataParallel prefixes and the (non-persistent) causal mask, and safetensors
    with_mask = {**state, "attn_mask": tiny.model.attn_mask}
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in with_mask.items()}}, tmp_path / "ckpt.pt")
    _same_outputs(tiny, load_clip(tmp_path / "ckpt.pt", config=TINY))
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "clip.safetensors"))
    _same_outputs(tiny, load_clip(tmp_path / "clip.safetensors", config=TINY))

    # a fresh random model gives different outputs, so the comparisons above can fail
    torch.manual_seed(123)
    other = ClipScorer(*build_clip(config=TINY), "cpu")
    with pytest.raises(AssertionError):
        _same_outputs(tiny, other)

    # wrong architecture is an error, not a partial load
    del state["text_projection"]
    torch.save(state, tmp_path / "broken.pt")
    with pytest.raises(RuntimeError):
        load_clip(tmp_path / "broken.pt", config=TINY)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_load_openai_torchscript(tmp_path):
    """An OpenAI-style TorchScript archive: scripted, half-precision weights (as OpenAI's ViT-B-32.pt
    keeps them), plus the archive's extra input_resolution/context_length/vocab_size entries."""
    torch.manual_seed(1)
    model, _, _ = build_clip(config=TINY)
    open_clip.convert_weights_to_fp16(model)
    for key, value in (("input_resolution", 32), ("context_length", 77), ("vocab_size", 49408)):
        if hasattr(model, key):  # open_clip keeps these two as plain ints, unused in forward
            delattr(model, key)
        model.register_buffer(key, torch.tensor(value))
    # OpenAI's archive holds the causal mask as a plain tensor attribute, not in its state dict
    model.attn_mask = model._buffers.pop("attn_mask")
    path = tmp_path / "ViT-B-32.pt"
    torch.jit.script(model).save(str(path))

    assert is_torchscript_archive(path)
    state = read_clip_state_dict(path)
    assert "input_resolution" not in state and state["visual.conv1.weight"].dtype == torch.float16

    loaded = load_clip(path, config=TINY)
    assert next(loaded.model.parameters()).dtype == torch.float32
    # open_clip's own OpenAI loader (architecture inferred from the file) gives the same outputs
    reference = open_clip.load_openai_model(str(path), precision="fp32", device="cpu").eval()
    _, preprocess, tokenizer = build_clip(config=TINY)
    _same_outputs(loaded, ClipScorer(reference, preprocess, tokenizer, "cpu"), atol=1e-5)

    # a folder holding ViT-B-32.pt is accepted too
    _same_outputs(loaded, load_clip(tmp_path, config=TINY))


def test_missing_checkpoint(tmp_path):
    missing = tmp_path / "nowhere" / "ViT-B-32.pt"
    with pytest.raises(MissingCheckpoint) as info:
        load_clip(missing, config=TINY)
    assert str(missing) in str(info.value)
    assert "amodal weights fetch clip_vit_b32_openai" in str(info.value)
    assert "set models.paths.clip_vit_b32_openai to the file" in str(info.value)
    with pytest.raises(MissingCheckpoint):
        load_clip(None, config=TINY)
    with pytest.raises(MissingCheckpoint) as info:
        load_clip(tmp_path, config=TINY)  # a folder without a checkpoint in it
    assert "ViT-B-32.pt" in str(info.value)


def test_full_size_openai_layout():
    model, preprocess, tokenizer = build_clip("ViT-B-32")
    state = model.state_dict()
    assert state["visual.conv1.weight"].shape == (768, 3, 32, 32)
    assert state["positional_embedding"].shape == (77, 512)
    assert state["text_projection"].shape == (512, 512)
    assert state["visual.proj"].shape == (768, 512)
    assert state["token_embedding.weight"].shape == (49408, 512)
    assert model.visual.image_size == (224, 224)
    assert isinstance(model.transformer.resblocks[0].mlp.gelu, open_clip.model.QuickGELU)
    assert tokenizer(["a photo of a cat"]).shape == (1, 77)
    assert preprocess(Image.new("RGB", (300, 200))).shape == (3, 224, 224)
