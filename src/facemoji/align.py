"""Cut a face out of a photo the way FER-2013 faces are cut: 48x48 grayscale, eyes level.

The framing constants below were measured on FER-2013 training faces by
``scripts/derive_fer_framing.py`` (run it again to re-derive them; it prints these lines).
"""

from __future__ import annotations

import cv2
import numpy as np

from facemoji.classifier import FACE_SIZE

# MediaPipe Face Mesh landmark indices.
RIGHT_EYE = (33, 133)  # the person's right eye (image left in an unmirrored photo): outer, inner corner
LEFT_EYE = (362, 263)  # the person's left eye: inner, outer corner
FOREHEAD, CHIN = 10, 152  # top of the forehead, bottom of the chin

# Medians over 383 FER-2013 training faces (scripts/derive_fer_framing.py), as fractions of the crop side.
# Forehead-to-chin varies least from face to face (MAD/median 7%, vs 9% inter-ocular, 12% eyes-to-mouth).
EYE_CENTRE = (0.501, 0.396)  # where the midpoint between the two eyes sits (x, y)
FACE_HEIGHT = 0.922  # forehead-to-chin distance

_FAR = 1e7  # pixels: a landmark this far off is not from a real image, and its geometry would overflow


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right eye, left eye) centres in pixels: the midpoints of each eye's two corners."""
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    return pts[list(RIGHT_EYE)].mean(axis=0), pts[list(LEFT_EYE)].mean(axis=0)


def align_face(rgb_or_gray: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Crop, level and scale one face to a (48, 48) uint8 grayscale image framed like FER-2013.

    ``rgb_or_gray`` is (H, W) or (H, W, 3) RGB uint8; ``landmarks`` are the face's MediaPipe
    landmarks in pixels of that image, shape (478, 2) or (478, 3). Parts of the frame outside
    the image repeat the image's edge.

    Raises:
        ValueError: the image or the landmarks do not have those shapes, or the landmarks are not
            finite or degenerate (forehead and chin at the same point).
    """
    _check_image(rgb_or_gray)
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] != 478 or pts.shape[1] not in (2, 3):
        raise ValueError(f"expected MediaPipe landmarks of shape (478, 2) or (478, 3), got {pts.shape}")
    if not (np.abs(pts[:, :2]) < _FAR).all():  # also false for NaN
        raise ValueError(f"landmarks must be finite pixel coordinates within {_FAR:.0e} of the image")
    right, left = eye_centres(pts)
    height = float(np.linalg.norm(pts[FOREHEAD, :2] - pts[CHIN, :2]))
    if height < 1e-3:
        raise ValueError("degenerate landmarks: forehead and chin coincide")
    scale = FACE_HEIGHT * FACE_SIZE / height  # output pixels per source pixel
    angle = np.arctan2(left[1] - right[1], left[0] - right[0])
    # Similarity in continuous coordinates (pixel (i, j) covers [i, i+1) x [j, j+1)):
    # rotate by -angle about the eye midpoint, scale, and move it to EYE_CENTRE.
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    rot = np.array([[cos, sin], [-sin, cos]])
    eyes = (right + left) / 2
    to_out = _affine(rot, np.array(EYE_CENTRE) * FACE_SIZE - rot @ eyes)
    # Only the part of the photo the crop needs becomes gray: the whole photo took 0.15 ms a face.
    region, to_out = _needed_region(rgb_or_gray, to_out)
    gray = region if region.ndim == 2 else cv2.cvtColor(region, cv2.COLOR_RGB2GRAY)
    if scale < 1:  # shrink with INTER_AREA first: the warp's bilinear sampling would alias
        h, w = gray.shape
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        to_out = to_out @ _affine(np.diag([w / size[0], h / size[1]]), np.zeros(2))
    # warpAffine samples at pixel centres: move from continuous to index coordinates.
    index = _affine(np.eye(2), np.array([-0.5, -0.5])) @ to_out @ _affine(np.eye(2), np.array([0.5, 0.5]))
    return cv2.warpAffine(
        gray, index[:2], (FACE_SIZE, FACE_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {getattr(image, 'dtype', type(image).__name__)}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"expected an (H, W) gray or (H, W, 3) RGB image, got shape {image.shape}")


def _affine(linear: np.ndarray, shift: np.ndarray) -> np.ndarray:
    out = np.eye(3)
    out[:2, :2], out[:2, 2] = linear, shift
    return out


def _needed_region(image: np.ndarray, to_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``image`` the output samples (2 px more on each side, within the image), and the
    transform from it to the output. Samples beyond the image's edge repeat that edge either way."""
    corners = np.array([[0, 0, 1], [FACE_SIZE, 0, 1], [0, FACE_SIZE, 1], [FACE_SIZE, FACE_SIZE, 1]], float)
    src = (np.linalg.inv(to_out) @ corners.T)[:2]
    h, w = image.shape[:2]
    x0, y0 = np.clip(np.floor(src.min(axis=1)) - 2, 0, [w - 1, h - 1]).astype(int)
    x1, y1 = np.clip(np.ceil(src.max(axis=1)) + 2, [x0 + 1, y0 + 1], [w, h]).astype(int)
    return image[y0:y1, x0:x1], to_out @ _affine(np.eye(2), np.array([x0, y0], float))
