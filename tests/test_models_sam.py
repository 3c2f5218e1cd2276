"""SAM module on the CPU with a tiny random-weight image encoder of the real architecture."""

import numpy as np
import pytest
import torch

from amodal.models import MissingCheckpoint
from amodal.models.sam import BoxSegmenter, build_sam, load_sam

from tiny_models import SAM as TINY

H, W = 96, 128
BOXES = np.array([[10, 10, 60, 50], [30, 20, 120, 90], [0, 0, 127, 95]], dtype=np.float64)


def photo(seed):
    """A small photo-like RGB image: smooth gradients plus a bright rectangle and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    img = np.stack([xx * 2, yy * 2, (xx + yy)], axis=-1).astype(np.float64)
    img[20:60, 40:100] = 230
    img += rng.normal(0, 10, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_sam("vit_b", tiny=TINY)


def count_encoder_calls(model):
    calls = []
    handle = model.image_encoder.register_forward_hook(lambda *args: calls.append(1))
    return calls, handle


def test_shapes_dtypes_and_empty(model):
    seg = BoxSegmenter(model, "cpu")
    masks, iou = seg.segment(photo(1), BOXES)
    assert masks.shape == (3, H, W) and masks.dtype == np.bool_
    assert iou.shape == (3,) and iou.dtype == np.float32
    assert np.isfinite(iou).all()

    masks0, iou0 = seg.segment(photo(1), np.zeros((0, 4)))
    assert masks0.shape == (0, H, W) and masks0.dtype == np.bool_
    assert iou0.shape == (0,) and iou0.dtype == np.float32


def test_bad_inputs_are_refused(model):
    seg = BoxSegmenter(model, "cpu")
    with pytest.raises(ValueError):
        seg.segment(photo(1).astype(np.float32), BOXES)
    with pytest.raises(ValueError):
        seg.segment(photo(1), np.zeros((3, 3)))


def test_embedding_computed_once_per_image(model):
    seg = BoxSegmenter(model, "cpu")
    calls, handle = count_encoder_calls(model)
    try:
        img = photo(2)
        seg.segment(img, BOXES)
        assert len(calls) == 1
        seg.segment(img, BOXES[:1])  # same object: embedding reused
        assert len(calls) == 1
        seg.segment(photo(3), BOXES)  # a new image: embedded once more
        assert len(calls) == 2
        seg.segment(photo(3), BOXES)  # equal contents but a new object: embedded again
        assert len(calls) == 3
        seg.segment(np.zeros((H, W, 3), np.uint8), np.zeros((0, 4)))  # no boxes: nothing to embed
        assert len(calls) == 3
    finally:
        handle.remove()


def test_batched_equals_each_box_alone(model):
    from segment_anything import SamPredictor

    img = photo(4)
    masks, iou = BoxSegmenter(model, "cpu").segment(img, BOXES)
    # Reference: segment_anything's own one-box numpy path, no code of amodal involved.
    ref = SamPredictor(model)
    ref.set_image(img)
    for i, box in enumerate(BOXES):
        m, q, _ = ref.predict(box=box, multimask_output=False)
        assert m.shape == (1, H, W)
        np.testing.assert_array_equal(masks[i], m[0])
        np.testing.assert_allclose(iou[i], q[0], rtol=1e-4, atol=1e-5)
    # Not a vacuous comparison: the random model gives masks that are neither empty nor full.
    assert 0 < masks.mean() < 1


def test_load_round_trip(tmp_path):
    torch.manual_seed(1)
    saved = build_sam("vit_b", tiny=TINY).state_dict()
    path = tmp_path / "tiny_sam.pth"
    torch.save(saved, path)

    torch.manual_seed(2)
    fresh = build_sam("vit_b", tiny=TINY).state_dict()
    assert any(not torch.equal(fresh[k], saved[k]) for k in saved)  # the load has work to do

    loaded = load_sam(path, "vit_b", device="cpu", dtype=torch.float32, tiny=TINY)
    assert not loaded.training
    got = loaded.state_dict()
    assert set(got) == set(saved)
    for key, value in saved.items():
        assert torch.equal(got[key], value), key

    as_bf16 = load_sam(path, "vit_b", dtype=torch.bfloat16, tiny=TINY)
    assert as_bf16.image_encoder.pos_embed.dtype == torch.bfloat16


def test_load_rejects_wrong_keys_and_shapes(tmp_path):
    torch.manual_seed(1)
    state = build_sam("vit_b", tiny=TINY).state_dict()
    renamed = dict(state)
    renamed["image_encoder.pos_embed_renamed"] = renamed.pop("image_encoder.pos_embed")
    path = tmp_path / "renamed.pth"
    torch.save(renamed, path)
    with pytest.raises(RuntimeError, match="renamed.pth"):
        load_sam(path, "vit_b", tiny=TINY)

    other = dict(TINY, encoder_embed_dim=16)
    path2 = tmp_path / "wrong_shapes.pth"
    torch.save(build_sam("vit_b", tiny=other).state_dict(), path2)
    with pytest.raises(RuntimeError, match="wrong_shapes.pth"):
        load_sam(path2, "vit_b", tiny=TINY)


def test_missing_checkpoint(tmp_path):
    path = tmp_path / "nowhere" / "sam_vit_b_01ec64.pth"
    with pytest.raises(MissingCheckpoint) as info:
        load_sam(path, "vit_b", tiny=TINY)
    message = str(info.value)
    assert str(path) in message
    assert "amodal weights fetch sam_vit_b" in message
    assert "set models.paths.sam_vit_b to the file" in message
    assert info.value.weights_name == "sam_vit_b"


def test_unknown_variant():
    with pytest.raises(ValueError, match="vit_x"):
        build_sam("vit_x")


def test_vit_b_key_names_and_shapes():
    state = build_sam("vit_b").state_dict()
    prefixes = {key.split(".")[0] for key in state}
    assert prefixes == {"image_encoder", "prompt_encoder", "mask_decoder"}
    # Released ViT-B: 1024 / 16 = 64 patches per side, embedding 768, 12 blocks.
    assert tuple(state["image_encoder.pos_embed"].shape) == (1, 64, 64, 768)
    assert tuple(state["image_encoder.patch_embed.proj.weight"].shape) == (768, 3, 16, 16)
    assert "image_encoder.blocks.11.attn.qkv.weight" in state
    assert "image_encoder.blocks.12.attn.qkv.weight" not in state


def test_segment_many_embeds_in_batches_and_equals_segment_alone(model):
    """Images of different sizes embedded together give what segment_anything's own predictor
    gives for each image alone; an image without boxes is not embedded."""
    from segment_anything import SamPredictor

    images = [photo(5), np.ascontiguousarray(photo(6)[:80, :100]), photo(7), photo(8)]
    boxes = [BOXES, BOXES[:2] * 0.7, np.zeros((0, 4)), BOXES[1:]]
    batch_sizes = []
    handle = model.image_encoder.register_forward_hook(lambda m, args, out: batch_sizes.append(args[0].shape[0]))
    try:
        out = BoxSegmenter(model, "cpu", encoder_batch=2).segment_many(images, boxes)
    finally:
        handle.remove()
    assert batch_sizes == [2, 1]  # three images with boxes, two at a time
    assert out[2][0].shape == (0, H, W) and out[2][1].shape == (0,)
    reference = SamPredictor(model)
    for image, box_array, (masks, iou) in zip(images, boxes, out):
        assert masks.shape == (len(box_array),) + image.shape[:2]
        if not len(box_array):
            continue
        reference.set_image(image)
        for i, box in enumerate(box_array):
            m, q, _ = reference.predict(box=box, multimask_output=False)
            np.testing.assert_array_equal(masks[i], m[0])
            np.testing.assert_allclose(iou[i], q[0], rtol=1e-4, atol=1e-5)
    assert 0 < np.concatenate([m.ravel() for m, _ in out]).mean() < 1
    with pytest.raises(ValueError):
        BoxSegmenter(model, "cpu").segment_many(images, boxes[:2])
    with pytest.raises(ValueError):
        BoxSegmenter(model, "cpu", encoder_batch=0)


def test_the_encoder_batch_comes_from_config_models_batch(tmp_path):
    from amodal.models.cache import ModelCache

    path = tmp_path / "tiny_sam.pth"
    torch.save(build_sam("vit_b", tiny=TINY).state_dict(), path)
    models = {"device": "cpu", "paths": {"sam_vit_b": str(path)}, "architectures": {"sam_vit_b": {"tiny": TINY}}}
    assert ModelCache(models).sam_segmenter("sam_vit_b").encoder_batch == 1  # the default
    assert ModelCache(dict(models, batch={"sam_encoder": 3})).sam_segmenter("sam_vit_b").encoder_batch == 3


def test_a_tiny_build_is_segment_anythings_own_at_the_same_seed():
    from segment_anything.build_sam import _build_sam

    released = {key: value for key, value in TINY.items() if key != "image_size"}  # 1024 px
    torch.manual_seed(3)
    ours = build_sam("vit_b", tiny=released).state_dict()
    torch.manual_seed(3)
    theirs = _build_sam(**released, checkpoint=None).state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_a_smaller_image_size_gives_a_smaller_embedding_and_the_predictors_masks():
    from segment_anything import SamPredictor

    torch.manual_seed(0)
    small = build_sam("vit_b", tiny=TINY)
    assert tuple(small.prompt_encoder.image_embedding_size) == (16, 16)  # 256 / 16
    img = photo(9)
    masks, iou = BoxSegmenter(small, "cpu").segment(img, BOXES)
    assert masks.shape == (3, H, W)
    predictor = SamPredictor(small)
    predictor.set_image(img)
    for i, box in enumerate(BOXES):
        expected, scores, _ = predictor.predict(box=box, multimask_output=False)
        assert np.array_equal(masks[i], expected[0])
        assert iou[i] == pytest.approx(scores[0], abs=1e-5)
    with pytest.raises(ValueError, match="image_size"):
        build_sam("vit_b", tiny=dict(TINY, image_sise=256))
