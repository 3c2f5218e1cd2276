import numpy as np

from amodal.imaging.frames import Region
from amodal.stages.rgba import compose, visible_weight

SPEC = {"erode": 5, "shrink": 10, "transition": 5}


def square(shape, y0, y1, x0, x1):
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_visible_weight_is_zero_near_the_edge_and_one_deep_inside():
    visible = square((80, 80), 10, 70, 10, 70)
    weight = visible_weight(visible, **SPEC)
    # 5x5 erosion takes 2 px, the 10-px shrink 10 more: the core is rows/cols 22..57.
    core = square((80, 80), 22, 58, 22, 58)
    assert (weight[~core] == 0).all()
    assert (weight[core] > 0).all()
    assert weight[40, 40] == 1.0
    # The ramp: 1 px inside the core edge the weight is small, 5 px inside it is full.
    assert 0 < weight[22, 40] < 0.5 and weight[27, 40] == 1.0


def test_hard_cut_when_transition_is_zero():
    visible = square((40, 40), 5, 35, 5, 35)
    weight = visible_weight(visible, erode=1, shrink=0, transition=0)
    np.testing.assert_array_equal(weight, visible.astype(np.float32))


def test_compose_blends_and_places_the_crop_in_image_coordinates():
    image = np.zeros((60, 60, 3), np.uint8)
    image[:] = 50
    visible = square((60, 60), 0, 40, 10, 50)  # touches the top
    region = Region(-30, 0, 60, 60)  # the crop reaches 30 px above the image
    amodal = np.zeros((90, 60), bool)
    amodal[10:70, 10:50] = True  # in crop rows: 20 px above the image plus the visible part
    completion = np.full((90, 60, 3), 200, np.uint8)
    rgba, offset = compose(image, visible, completion, amodal, region, SPEC)
    assert offset == (10, -20)  # x from column 10, y 20 px above the image
    assert rgba.shape == (60, 40, 4)
    assert (rgba[..., 3] == 255).all()
    assert (rgba[:20, :, :3] == 200).all()  # above the image: completed pixels
    # The visible core after erosion and shrink is crop rows 42..57, columns 22..37.
    assert (rgba[40, 20, :3] == 50).all()  # crop (50, 30), deep inside it: original pixels
    assert 50 < rgba[45, 20, 0] < 200  # crop (55, 30), 2 px from its edge: a blend
