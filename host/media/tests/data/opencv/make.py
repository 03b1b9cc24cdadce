"""Writes the OpenCV calibration files that piste-media's `calib::opencv` tests read.

Everything here is written by the real OpenCV (`cv2.FileStorage`, `cv2.Rodrigues`,
`cv2.projectPoints`), so the tests check our parser and writer against OpenCV itself rather
than against our own idea of the format. Run it once after changing it, and commit what it
writes next to it:

    python3 -m pip install opencv-python-headless
    python3 host/media/tests/data/opencv/make.py

The camera is a 1280x720 rig camera about 38 m from the landing area, looking down the slope.

- cam_rmat.yml, cam_rmat.json: the keys `calib::opencv::to_yaml` and `to_json` write, in
  the same order, with the rotation as a 3x3 matrix. OpenCV 4 heads YAML with `%YAML:1.0`,
  OpenCV 5 with `%YAML 1.2`; the rest of the file is the same.
- cam_rvec.yml, cam_rvec.json: the other key spellings (`K`, `D`, `rvec`, `tvec`,
  `dist_coeffs`, `rotation_vector`, `T`), the rotation as a Rodrigues vector, row and
  column vectors, and a 4-coefficient distortion (k3 is 0).
- cam_calibration.yml, cam_calibration.json: intrinsics only, laid out like the output of
  OpenCV's calibration sample, with unrelated keys, nested sequences and maps, and float32
  matrices that the parser has to step over.
- expected.json: the numbers, and world points with the pixels `cv2.projectPoints` gives for
  them, distortion included.
"""

import json
import os

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

NAME = "landing-cam-03"
WIDTH, HEIGHT = 1280, 720
K = np.array(
    [[1402.3741, 0.0, 641.2873], [0.0, 1399.8126, 358.9402], [0.0, 0.0, 1.0]],
    dtype=np.float64,
)
DIST = np.array([[-0.21, 0.05, 0.001, -0.0007, 0.0]], dtype=np.float64)


def pose():
    """A world-to-camera rotation and translation: world z up, the camera at `centre`
    looking at `target`, image x right and y down."""
    centre = np.array([-14.0, -32.5, 7.2])
    target = np.array([1.5, 0.8, -1.0])
    forward = target - centre
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rvec, _ = cv2.Rodrigues(np.array([right, down, forward]))
    # The matrix that goes into the files is OpenCV's own Rodrigues of the stored vector,
    # so the two files describe exactly the same rotation.
    rmat, _ = cv2.Rodrigues(rvec)
    return rvec, rmat, -rmat @ centre


def points(rvec, rmat, tvec):
    """World points seen all over the image, corners included, where distortion is
    strongest: each lies on the ray through a chosen pixel at a chosen distance, rounded to
    the millimetre as a survey would give it."""
    pixels = [
        [u, v]
        for u in (30.0, 330.0, 640.0, 950.0, 1250.0)
        for v in (25.0, 360.0, 695.0)
    ]
    rays = cv2.undistortPoints(np.array(pixels).reshape(-1, 1, 2), K, DIST).reshape(-1, 2)
    centre = -rmat.T @ tvec
    world = []
    for i, (x, y) in enumerate(rays):
        depth = 20.0 + 2.5 * i
        world.append(centre + rmat.T @ (depth * np.array([x, y, 1.0])))
    return np.round(np.array(world), 3)


def matrix(fs, key, value):
    fs.write(key, np.asarray(value, dtype=np.float64))


def write_rmat(path, rmat, tvec):
    fs = cv2.FileStorage(path, cv2.FILE_STORAGE_WRITE)
    fs.write("camera_name", NAME)
    fs.write("image_width", WIDTH)
    fs.write("image_height", HEIGHT)
    matrix(fs, "camera_matrix", K)
    matrix(fs, "distortion_coefficients", DIST)
    matrix(fs, "rotation_matrix", rmat)
    matrix(fs, "translation_vector", tvec.reshape(3, 1))
    fs.release()


def write_rvec_yaml(path, rvec, tvec):
    fs = cv2.FileStorage(path, cv2.FILE_STORAGE_WRITE)
    fs.write("image_width", WIDTH)
    fs.write("image_height", HEIGHT)
    fs.write("camera_name", NAME)
    matrix(fs, "K", K)
    matrix(fs, "D", DIST[:, :4].reshape(4, 1))
    matrix(fs, "rvec", rvec.reshape(1, 3))
    matrix(fs, "tvec", tvec.reshape(3, 1))
    fs.release()


def write_rvec_json(path, rvec, tvec):
    fs = cv2.FileStorage(path, cv2.FILE_STORAGE_WRITE)
    fs.write("camera_name", NAME)
    matrix(fs, "camera_matrix", K)
    matrix(fs, "dist_coeffs", DIST.reshape(5, 1))
    matrix(fs, "rotation_vector", rvec.reshape(3, 1))
    matrix(fs, "T", tvec.reshape(1, 3))
    fs.write("image_height", HEIGHT)
    fs.write("image_width", WIDTH)
    fs.release()


def write_calibration(path):
    views = 3
    fs = cv2.FileStorage(path, cv2.FILE_STORAGE_WRITE)
    fs.write("calibration_time", "Sat 17 Jan 2026 09:41:07 CET")
    fs.write("nframes", views)
    fs.write("image_width", WIDTH)
    fs.write("image_height", HEIGHT)
    fs.write("board_width", 9)
    fs.write("board_height", 6)
    fs.write("square_size", 0.06)
    fs.write("flags", 0)
    fs.write("fisheye_model", 0)
    matrix(fs, "camera_matrix", K)
    matrix(fs, "distortion_coefficients", DIST.reshape(5, 1))
    fs.write("avg_reprojection_error", 0.2817)
    fs.write(
        "per_view_reprojection_errors",
        np.array([[0.25], [0.31], [0.27]], dtype=np.float32),
    )
    fs.write(
        "extrinsic_parameters",
        np.array(
            [[0.1, -0.2, 0.05, 0.3, -0.1, 2.5]] * views, dtype=np.float32
        ),
    )
    fs.startWriteStruct("views", cv2.FileNode_SEQ)
    for i in range(views):
        fs.startWriteStruct("", cv2.FileNode_MAP)
        fs.write("image", "board_%02d.png" % i)
        fs.write("rms", 0.25 + 0.03 * i)
        fs.startWriteStruct("corner", cv2.FileNode_SEQ | cv2.FileNode_FLOW)
        fs.write("", 101.5 + i)
        fs.write("", 77.25)
        fs.endWriteStruct()
        fs.endWriteStruct()
    fs.endWriteStruct()
    fs.startWriteStruct("board", cv2.FileNode_MAP | cv2.FileNode_FLOW)
    fs.write("kind", "chessboard")
    fs.write("inner_corners", 54)
    fs.endWriteStruct()
    fs.startWriteStruct("notes", cv2.FileNode_SEQ)
    fs.endWriteStruct()
    fs.release()


def main():
    rvec, rmat, tvec = pose()
    write_rmat(os.path.join(HERE, "cam_rmat.yml"), rmat, tvec)
    write_rmat(os.path.join(HERE, "cam_rmat.json"), rmat, tvec)
    write_rvec_yaml(os.path.join(HERE, "cam_rvec.yml"), rvec, tvec)
    write_rvec_json(os.path.join(HERE, "cam_rvec.json"), rvec, tvec)
    write_calibration(os.path.join(HERE, "cam_calibration.yml"))
    write_calibration(os.path.join(HERE, "cam_calibration.json"))

    world = points(rvec, rmat, tvec)
    pixels, _ = cv2.projectPoints(world, rvec, tvec, K, DIST)
    pixels = pixels.reshape(-1, 2)
    inside = (
        (pixels[:, 0] > 0) & (pixels[:, 0] < WIDTH) & (pixels[:, 1] > 0) & (pixels[:, 1] < HEIGHT)
    )
    assert inside.all(), pixels[~inside]
    in_front = (world @ rmat.T + tvec)[:, 2] > 0
    assert in_front.all()
    expected = {
        "opencv_version": cv2.__version__,
        "camera_name": NAME,
        "image_width": WIDTH,
        "image_height": HEIGHT,
        "camera_matrix": K.flatten().tolist(),
        "distortion_coefficients": DIST.flatten().tolist(),
        "rvec": rvec.flatten().tolist(),
        "rotation_matrix": rmat.flatten().tolist(),
        "translation_vector": tvec.flatten().tolist(),
        "world_points": world.tolist(),
        "pixels": pixels.tolist(),
    }
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
