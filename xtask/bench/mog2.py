"""OpenCV's MOG2 background subtractor on a piste clip: the baseline of the matting benchmark.

Usage: mog2.py CLIP_DIR
Reads every camera's frames (PNG or PPM, reading included in the time, as in `piste replay run`),
runs one MOG2 per camera over the lead-in and the action, and scores the masks of the
frames after the lead-in against the clip's true masks (scoring is not timed, as
`piste replay run` times its ground-truth comparison apart). Prints one JSON line.
"""
import json
import os
import sys
import time

import cv2
import numpy as np


def main(clip):
    meta = json.load(open(os.path.join(clip, "clip.json")))
    frames, lead_in = meta["frames"], meta["lead_in"]
    inter = union = 0
    ious = []
    elapsed = 0.0
    count = 0
    for cam in meta["cameras"]:
        name = cam["name"]
        ext = "ppm" if os.path.exists(os.path.join(clip, "frames", name, "000000.ppm")) else "png"
        mog = cv2.createBackgroundSubtractorMOG2(history=max(lead_in, 10), varThreshold=16, detectShadows=True)
        for i in range(frames):
            start = time.perf_counter()
            image = cv2.imread(os.path.join(clip, "frames", name, f"{i:06d}.{ext}"))
            fg = mog.apply(image, learningRate=-1 if i < lead_in else 0.001)
            elapsed += time.perf_counter() - start
            count += 1
            if i < lead_in:
                continue
            mask = fg == 255  # 127 marks shadows
            truth_path = os.path.join(clip, "truth", "masks", name, f"{i:06d}.png")
            truth = cv2.imread(truth_path, cv2.IMREAD_GRAYSCALE) >= 128
            a = np.logical_and(mask, truth).sum()
            b = np.logical_or(mask, truth).sum()
            if b:
                ious.append(a / b)
    print(json.dumps({"frames": count, "seconds": elapsed, "fps": count / elapsed, "mask_iou_mean": float(np.mean(ious))}))


if __name__ == "__main__":
    main(sys.argv[1])
