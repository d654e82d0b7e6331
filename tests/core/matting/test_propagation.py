from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.core.matting import propagation
from app.core.matting.propagation import AdaptiveCadence, MaskPropagator, background_colours, describe_cadence
from tests.tiny_models import person_image


def shifted(image: np.ndarray, dx: int) -> np.ndarray:
    return np.roll(image, dx, axis=1)


def person_alpha(image: np.ndarray) -> np.ndarray:
    return (image[..., 0] > 150).astype(np.float32)  # the red ellipse of person_image


def test_alpha_follows_a_shift():
    key_frame = person_image(640, 360)
    moved = shifted(key_frame, 10)
    propagator = MaskPropagator()
    key = propagator.key(key_frame, person_alpha(key_frame), None)
    alpha, foreground = propagator.propagate(key, moved)
    assert foreground is None
    assert alpha.shape == (360, 640) and alpha.dtype == np.float32
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    held_error = np.abs(person_alpha(key_frame) - person_alpha(moved)).mean()
    assert np.abs(alpha - person_alpha(moved)).mean() < 0.3 * held_error


def test_foreground_keeps_the_current_frame_and_moves_the_correction():
    """Interior colours come from the new frame; the model's edge correction moves with the person."""
    key_frame = person_image(640, 360)
    alpha = person_alpha(key_frame)
    foreground = key_frame.copy()
    foreground[alpha > 0] = np.clip(foreground[alpha > 0].astype(int) + (0, 40, 0), 0, 255)  # a +40 green correction
    moved = shifted(key_frame, 8)
    moved[150:160, 300:340] = (255, 255, 0)  # something new inside the person (a mouth opening)
    propagator = MaskPropagator()
    _, out = propagator.propagate(propagator.key(key_frame, alpha, foreground), moved)
    assert out.shape == moved.shape and out.dtype == np.uint8
    assert tuple(out[155, 320]) == (255, 255, 0)  # the new frame's content, not the key's
    inside = person_alpha(moved) > 0
    inside[150:160, 300:340] = False
    gain = out[inside].astype(int) - moved[inside].astype(int)
    assert np.median(gain[:, 1]) == 40 and np.median(np.abs(gain[:, [0, 2]])) == 0


def test_only_the_region_around_the_mask_is_carried():
    """Nothing outside the carried person gets alpha or a correction; no person: nothing is carried."""
    key_frame = np.zeros((360, 640, 3), np.uint8)
    key_frame[:] = (20, 40, 120)
    cv2.ellipse(key_frame, (200, 180), (30, 70), 0, 0, 360, (230, 90, 60), -1)  # a small person
    alpha = person_alpha(key_frame)
    foreground = np.clip(key_frame.astype(int) + 30, 0, 255).astype(np.uint8)  # a correction everywhere
    moved = shifted(key_frame, 24)  # a fast move: 24 px in one frame
    propagator = MaskPropagator()
    out_alpha, out_foreground = propagator.propagate(propagator.key(key_frame, alpha, foreground), moved)
    truth = person_alpha(moved)
    assert np.abs(out_alpha - truth).mean() < 0.3 * np.abs(alpha - truth).mean()
    ys, xs = np.nonzero(alpha)
    far = np.ones_like(truth, bool)
    my, mx = 40 + (ys.max() - ys.min()) // 2, 40 + (xs.max() - xs.min()) // 2  # around the key's mask, beyond any room to move
    far[max(0, ys.min() - my) : ys.max() + my, max(0, xs.min() - mx) : xs.max() + mx] = False
    assert far.mean() > 0.2
    assert out_alpha[far].max() == 0.0
    assert np.array_equal(out_foreground[far], moved[far])  # the frame itself, no correction
    empty_alpha, empty_foreground = propagator.propagate(
        propagator.key(key_frame, np.zeros_like(alpha), foreground), moved)
    assert empty_alpha.max() == 0.0 and np.array_equal(empty_foreground, moved)


def test_background_colours_are_those_seen_around_the_person_not_in_it():
    key = np.zeros((40, 40, 3), np.uint8)
    key[:] = (30, 60, 200)  # blue wall
    key[10:30, 10:30] = (220, 40, 40)  # red person
    alpha = np.zeros((40, 40), np.uint8)
    alpha[10:30, 10:30] = 255
    now = np.zeros((1, 3, 3), np.uint8)
    now[0] = [(30, 60, 200), (220, 40, 40), (40, 200, 40)]  # wall, person, a colour neither showed
    assert background_colours(key, alpha, now).tolist() == [[255, 0, 0]]


def striped_wall(width: int, height: int) -> np.ndarray:
    """A static wall of random blue-green blocks: the flow there is sure to be zero."""
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 2, (height // 8 + 1, width // 8 + 1), dtype=np.uint8)
    wall = np.kron(blocks, np.ones((8, 8), np.uint8))[:height, :width]
    image = np.empty((height, width, 3), np.uint8)
    image[wall == 0], image[wall == 1] = (30, 70, 160), (40, 150, 90)
    return image


def test_no_trail_behind_a_person_leaving_a_textured_wall(monkeypatch):
    """The wall uncovered behind a moving person is not carried as person."""
    wall = striped_wall(640, 360)
    frames = []
    for x in (200, 224):
        frame = wall.copy()
        cv2.ellipse(frame, (x, 180), (40, 100), 0, 0, 360, (230, 90, 60), -1)
        frames.append(frame)
    alpha = person_alpha(frames[0])
    uncovered = (person_alpha(frames[0]) > 0) & (person_alpha(frames[1]) == 0)
    trails = {}
    for odds in (0.0, propagation.BACKGROUND_ODDS):  # 0: the colour gate never fires
        monkeypatch.setattr(propagation, "BACKGROUND_ODDS", odds)
        propagator = MaskPropagator()
        carried, _ = propagator.propagate(propagator.key(frames[0], alpha, frames[0]), frames[1])
        trails[odds] = float(carried[uncovered].mean())
        assert carried[person_alpha(frames[1]) > 0].mean() > 0.9  # the person is still there
    assert trails[0.0] > 0.1  # what a backward warp alone leaves
    assert trails[propagation.BACKGROUND_ODDS] < 0.2 * trails[0.0]


def test_size_mismatch_is_refused():
    propagator = MaskPropagator()
    frame = person_image(320, 240)
    key = propagator.key(frame, person_alpha(frame), None)
    with pytest.raises(ValueError, match="size"):
        propagator.propagate(key, person_image(640, 360))


@pytest.mark.parametrize(
    ("cost_ms", "duty", "every"),
    [(10.0, 1.0, 1), (28.0, 1.0, 1), (31.5, 0.9, 2), (45.0, 0.63, 2), (70.0, 0.405, 3), (500.0, 1 / 3, 3)],
)
def test_the_model_runs_on_the_share_of_frames_that_fits_the_budget(cost_ms, duty, every):
    """85 % of a 33 ms frame at 30 FPS is the model's: 31.5 ms a run fits on 9 frames of 10; never below 1 in 3."""
    cadence = AdaptiveCadence()
    for _ in range(30):
        cadence.observe(cost_ms, target_fps=30)
    assert cadence.duty == pytest.approx(duty, abs=0.003) and cadence.every == every


@pytest.mark.parametrize(("duty", "pattern"), [(1.0, "x"), (0.5, ".x"), (1 / 3, "..x"), (0.9, ".xxxxxxxxx")])
def test_runs_are_spread_evenly(duty, pattern):
    """A model at 90 % runs on 9 frames of every 10 with one reused frame between, not on every 2nd."""
    cadence = AdaptiveCadence(duty=duty)
    got = "".join("x" if cadence.due() else "." for _ in range(10 * len(pattern)))
    assert got == pattern * 10


def test_the_cadence_follows_a_model_that_speeds_up_again():
    cadence = AdaptiveCadence()
    for _ in range(30):
        cadence.observe(60.0, target_fps=30)
    assert cadence.duty == pytest.approx(0.85 * 33.33 / 60, abs=0.01)
    for _ in range(30):
        cadence.observe(15.0, target_fps=30)
    assert cadence.duty == 1.0 and cadence.every == 1


@pytest.mark.parametrize(("duty", "text"), [(1.0, "every frame"), (0.5, "every 2nd frame"), (1 / 3, "every 3rd frame"),
                                            (0.25, "every 4th frame"), (0.9, "on 90 % of frames")])
def test_cadence_in_words(duty, text):
    assert describe_cadence(duty) == text


@pytest.mark.real_models
def test_real_rvm_reused_mask_follows_a_moving_person(real_models_dir, portraits_dir):
    """RVM on a real cut-out moving 8 px a frame over a photo: a reused frame's mask moves with her."""
    from app.core.imaging.compose import composite, cover_fit
    from app.core.media.image_io import load_image
    from app.core.models import load_model
    from app.core.matting.stream import StreamPipeline, StreamSettings

    cutout = cv2.imread(str(portraits_dir / "rembg_girl-3.u2net_pred_rgba.png"), cv2.IMREAD_UNCHANGED)
    person = cv2.cvtColor(cv2.resize(cutout, (480, 320), interpolation=cv2.INTER_AREA), cv2.COLOR_BGRA2RGBA)
    backdrop = cover_fit(load_image(portraits_dir.parent / "backgrounds" / "bgmatting_background_0002.png"), 640, 360)

    def frame_at(x: int) -> np.ndarray:
        fg, alpha = np.zeros_like(backdrop), np.zeros(backdrop.shape[:2], np.float32)
        fg[40:360, x : x + 480], alpha[40:360, x : x + 480] = person[..., :3], person[..., 3] / 255.0
        return composite(fg, alpha, backdrop)

    frames = [frame_at(40 + 8 * i) for i in range(4)]
    fresh = StreamPipeline(load_model("rvm", real_models_dir), StreamSettings(every_n=1))
    expected = [fresh.process(f, i / 30).alpha for i, f in enumerate(frames)][-1]
    errors = {}
    for compensate in (False, True):
        stream = StreamPipeline(load_model("rvm", real_models_dir),
                                StreamSettings(every_n=2, motion_compensation=compensate))
        last = [stream.process(f, i / 30) for i, f in enumerate(frames)][-1]
        assert last.extra["computed"] is False  # computed on frames 0 and 2, reused on 1 and 3
        errors[compensate] = float(np.abs(last.alpha - expected).mean())
    assert errors[True] < 0.6 * errors[False]


# ---------------------------------------------------------------- the ghost of scrolled-away text

SHIRT = (40, 70, 160)
SKIN_TEXT = (250, 250, 250)


def chat_frame(text_y: int, width: int = 640, height: int = 360) -> np.ndarray:
    """A person whose shirt (the lower half of the red-free blue body) has a white chat line over it at ``text_y``."""
    frame = np.full((height, width, 3), (200, 200, 190), np.uint8)
    cv2.rectangle(frame, (200, 60), (440, height), SHIRT, -1)
    if text_y is not None:
        cv2.putText(frame, "gg wp nice stream!!", (215, text_y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, SKIN_TEXT, 1,
                    cv2.LINE_AA)
    return frame


def smoothed_foreground(frame: np.ndarray) -> np.ndarray:
    """What RVM's foreground does to fine overlay text on a shirt: it leaves the shirt's colour."""
    return cv2.medianBlur(frame, 7)


def body_alpha(frame: np.ndarray) -> np.ndarray:
    alpha = np.zeros(frame.shape[:2], np.float32)
    alpha[60:, 200:441] = 1.0
    return alpha


def test_correction_of_scrolled_away_text_is_not_carried():
    """The key frame's correction (−text) must not print a dark imprint where the text no longer is."""
    key_frame, later = chat_frame(250), chat_frame(None)  # the line has scrolled off the shirt
    propagator = MaskPropagator()
    key = propagator.key(key_frame, body_alpha(key_frame), smoothed_foreground(key_frame))
    alpha, out = propagator.propagate(key, later)
    where_text_was = (cv2.absdiff(key_frame, chat_frame(None)).max(axis=2) > 60)
    assert where_text_was.sum() > 300
    assert np.abs(alpha - body_alpha(later)).mean() < 0.01
    imprint = np.abs(out[where_text_was].astype(int) - later[where_text_was].astype(int)).max(axis=1)
    assert np.percentile(imprint, 99) <= 8  # the new frame's own shirt, not shirt minus old text


def test_scrolling_chat_leaves_no_ghost_in_the_stream():
    """A clip where a chat line scrolls up off the shirt, model on every 3rd frame: no dark trail of it."""
    from app.core.models.base import MattingOutput
    from app.core.matting.stream import StreamPipeline, StreamSettings

    class SmoothingModel:  # RVM's behaviour that matters here: a foreground without the fine text
        name, provider, temporal = "smoothing", "cpu", True

        def reset(self) -> None:
            pass

        def infer(self, frame: np.ndarray) -> MattingOutput:
            return MattingOutput(body_alpha(frame), smoothed_foreground(frame))

    stream = StreamPipeline(SmoothingModel(), StreamSettings(every_n=3, scene_cut=0.0))
    worst = 0
    for i, y in enumerate([300, 270, 240, 60 + 5, 30, 10]):  # scrolls up and off the shirt (which starts at 60)
        frame = chat_frame(y)
        result = stream.process(frame, i / 30.0)
        if not result.extra["computed"]:
            plain = chat_frame(None)
            off_text = cv2.absdiff(frame, plain).max(axis=2) < 10  # shirt pixels the text does not cover now
            off_text[:60] = False
            off_text[:, :200] = off_text[:, 441:] = False
            error = np.abs(result.foreground[off_text].astype(int) - frame[off_text].astype(int)).max(axis=1)
            worst = max(worst, int(np.percentile(error, 99.5)))
    assert worst <= 10


def test_a_single_slow_run_does_not_move_the_cadence():
    """A whole-frame refresh of the person box costs about 3x a usual run: the model stays on every frame."""
    cadence = AdaptiveCadence()
    for i in range(30):
        cadence.observe(90.0 if i % 10 == 5 else 25.0, target_fps=30)
        assert cadence.duty == 1.0
